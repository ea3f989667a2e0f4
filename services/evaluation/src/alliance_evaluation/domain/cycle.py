"""Evaluation cycles: which agreements are evaluated, on which evidence, with which framework.

Lifecycle: open (evidence is being gathered, panels score) → scoring (the window is
closed, results are being recorded) → completed (every agreement has a result). The
framework version is pinned when the cycle opens; it must be published.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.domain.evidence import EvidenceWindow
from alliance_evaluation.domain.framework import Framework
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.evaluation import CycleClosed, CycleOpened
from alliance_shared.contract.vocabulary import CycleKind
from alliance_shared.errors import DomainError, InvalidTransition


class CycleStatus(StrEnum):
    OPEN = "open"
    SCORING = "scoring"
    COMPLETED = "completed"


class Cycle(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    cycle_id: str = Field(min_length=1, max_length=100)
    kind: CycleKind
    name: str = Field(min_length=1, max_length=200)
    agreement_ids: tuple[str, ...] = Field(min_length=1, max_length=2000)
    party_ids: tuple[str, ...] = Field(max_length=10_000)
    window: EvidenceWindow
    due_at: UtcDateTime
    framework_id: str
    framework_version: int = Field(ge=1)
    #: The funding programme whose awarded agreements the cycle covers, when opened for one.
    programme_id: str | None = None
    status: CycleStatus = CycleStatus.OPEN
    opened_at: UtcDateTime
    opened_by: str
    scoring_started_at: UtcDateTime | None = None
    scoring_started_by: str | None = None
    completed_at: UtcDateTime | None = None
    completed_by: str | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def open(
        cls,
        *,
        cycle_id: str,
        kind: CycleKind,
        name: str,
        agreement_ids: Collection[str],
        party_ids: Collection[str],
        window: EvidenceWindow,
        due_at: datetime,
        framework: Framework,
        now: datetime,
        actor_id: str,
        programme_id: str | None = None,
    ) -> Cycle:
        if not framework.is_published:
            raise DomainError(
                "cycle.framework_not_published",
                f"framework {framework.framework_id} v{framework.version} is a draft; publish it first",
            )
        if due_at <= now:
            raise DomainError("cycle.due_in_past", "a cycle's deadline lies in the future")
        if not agreement_ids:
            raise DomainError("cycle.no_agreements", "a cycle evaluates at least one agreement")
        cycle = cls(
            cycle_id=cycle_id,
            kind=kind,
            name=name,
            agreement_ids=tuple(sorted(set(agreement_ids))),
            party_ids=tuple(sorted(set(party_ids))),
            window=window,
            due_at=due_at,
            framework_id=framework.framework_id,
            framework_version=framework.version,
            programme_id=programme_id,
            opened_at=now,
            opened_by=actor_id,
        )
        cycle.events.append(
            CycleOpened(
                cycle_id=cycle.cycle_id,
                cycle_kind=cycle.kind,
                name=cycle.name,
                agreement_ids=cycle.agreement_ids,
                party_ids=cycle.party_ids,
                window_start=window.start,
                window_end=window.end,
                due_at=cycle.due_at,
                framework_id=cycle.framework_id,
                framework_version=cycle.framework_version,
                occurred_at=now,
                actor_id=actor_id,
            )
        )
        return cycle

    def includes(self, agreement_id: str) -> bool:
        return agreement_id in self.agreement_ids

    def uses(self, framework: Framework) -> bool:
        return (framework.framework_id, framework.version) == (self.framework_id, self.framework_version)

    def start_scoring(self, now: datetime, actor_id: str) -> None:
        """Close the evidence window; from now on results are recorded."""
        if self.status is not CycleStatus.OPEN:
            raise InvalidTransition("cycle", self.status, "start scoring")
        self.status = CycleStatus.SCORING
        self.scoring_started_at = now
        self.scoring_started_by = actor_id

    def complete(self, scored_agreement_ids: Collection[str], now: datetime, actor_id: str) -> None:
        if self.status is not CycleStatus.SCORING:
            raise InvalidTransition("cycle", self.status, "complete")
        missing = sorted(set(self.agreement_ids) - set(scored_agreement_ids))
        if missing:
            raise DomainError(
                "cycle.results_missing",
                f"{len(missing)} agreements have no result yet",
                agreement_ids=missing,
            )
        self.status = CycleStatus.COMPLETED
        self.completed_at = now
        self.completed_by = actor_id
        self.events.append(
            CycleClosed(
                cycle_id=self.cycle_id,
                cycle_kind=self.kind,
                agreement_ids=self.agreement_ids,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Cycle:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})
