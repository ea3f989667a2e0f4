"""A circuit breaker per webhook endpoint, so a dead receiver is not hammered.

::

    closed ──N consecutive failures──▶ open ──cool-down elapsed──▶ half_open
      ▲                                  ▲                            │
      └──────────── success ─────────────┼────────────────────────────┤
                                         └────────── failure ─────────┘

While open, deliveries to the endpoint are postponed (not attempted, not counted as
attempts) until ``retry_at``. Half-open lets one probe through; its outcome closes or
re-opens the breaker. A probe whose outcome never arrives (a crash) is given up after
another cool-down and a new probe is allowed. Time is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_shared.contract.base import UtcDateTime


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    endpoint_id: str
    failure_threshold: int = Field(default=5, ge=1)
    cool_down_seconds: int = Field(default=300, ge=1)
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_at: UtcDateTime | None = None
    probe_started_at: UtcDateTime | None = None
    version: int = 0

    @property
    def cool_down(self) -> timedelta:
        return timedelta(seconds=self.cool_down_seconds)

    def allow_request(self, now: datetime) -> bool:
        """May a request go to the endpoint now? Moves open → half_open when the cool-down is over."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            assert self.opened_at is not None  # set whenever the breaker opens
            if now < self.opened_at + self.cool_down:
                return False
            self.state = BreakerState.HALF_OPEN
        if self.probe_started_at is not None and now < self.probe_started_at + self.cool_down:
            return False  # one probe at a time
        self.probe_started_at = now
        return True

    def retry_at(self, now: datetime) -> datetime:
        """When a postponed delivery should ask again."""
        if self.state is BreakerState.OPEN and self.opened_at is not None:
            return max(now, self.opened_at + self.cool_down)
        if self.state is BreakerState.HALF_OPEN and self.probe_started_at is not None:
            return max(now, self.probe_started_at + self.cool_down)
        return now

    def record_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self.opened_at = None
        self.probe_started_at = None

    def record_failure(self, now: datetime) -> None:
        self.consecutive_failures += 1
        probe_failed = self.state is BreakerState.HALF_OPEN
        threshold_reached = self.state is BreakerState.CLOSED and self.consecutive_failures >= self.failure_threshold
        if probe_failed or threshold_reached:
            self._open(now)

    def _open(self, now: datetime) -> None:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.probe_started_at = None

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> CircuitBreaker:
        return cls.model_validate(dict(document))
