"""When to try a failed delivery again: exponential backoff with full jitter.

After the n-th failed attempt the next one waits a uniformly random time in
``[0, min(cap, base * 2**(n-1))]`` — full jitter spreads retries of many deliveries
that failed together (an endpoint outage) instead of hammering the endpoint in waves.
With the defaults (base 30 s, cap 1 h, 12 attempts) the ceilings add up to about five
hours, so a delivery keeps trying for a few hours (about 2.5 h on average) before it is
dead. The random source is injected, so tests and replays are deterministic.
"""

from __future__ import annotations

import random
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_seconds: int = Field(default=30, ge=1)
    cap_seconds: int = Field(default=3600, ge=1)
    max_attempts: int = Field(default=12, ge=1, le=100)

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> RetryPolicy:
        if self.cap_seconds < self.base_seconds:
            raise ValueError("the cap must not be below the base delay")
        return self

    def ceiling_seconds(self, failed_attempts: int) -> int:
        """The longest wait after ``failed_attempts`` failures (at least 1)."""
        doublings = max(failed_attempts - 1, 0)
        if doublings >= self.cap_seconds.bit_length():  # base * 2**doublings is past the cap already
            return self.cap_seconds
        return min(self.cap_seconds, self.base_seconds << doublings)

    def delay_after(self, failed_attempts: int, rng: random.Random) -> timedelta | None:
        """How long to wait before the next attempt, or None when the attempts are used up."""
        if failed_attempts >= self.max_attempts:
            return None
        # Milliseconds drawn as an integer: no float rounding can push the delay past the cap.
        return timedelta(milliseconds=rng.randint(0, self.ceiling_seconds(failed_attempts) * 1000))
