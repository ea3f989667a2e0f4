"""Domain aggregates <-> VersionedStore snapshots.

Each aggregate is stored as its full state (``model_dump``): enums as strings, dates as
ISO strings, datetimes as UTC, money as int minor units, framework numbers as decimal
strings. The store's version is the aggregate's version (ETag); the domain models'
``version`` field is filled from it on load and never stored. Events ride in the same
insert (``VersionedStore.save``), so a state change is never unannounced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING

from alliance_evaluation.domain.appeal import Appeal
from alliance_evaluation.domain.cycle import Cycle
from alliance_evaluation.domain.framework import Framework
from alliance_evaluation.domain.panel import Panel
from alliance_evaluation.domain.rectification import RectificationOrder
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service.records import AgreementView, EvidenceRecord, ManualRecord, RejectionRecord
from alliance_shared.contract.base import EventPayload
from alliance_shared.errors import NotFound
from alliance_shared.messaging.outbox import AuditNote, Snapshot, VersionedStore
from alliance_shared.runtime import ServiceRuntime

FRAMEWORKS = "frameworks"
AGREEMENTS = "agreements"
EVIDENCE = "evidence"
MANUAL_EVIDENCE = "manual_evidence"
CYCLES = "cycles"
PANELS = "panels"
RESULTS = "results"
RECTIFICATIONS = "rectifications"
APPEALS = "appeals"
REJECTIONS = "report_rejections"

STORES = (
    FRAMEWORKS,
    AGREEMENTS,
    EVIDENCE,
    MANUAL_EVIDENCE,
    CYCLES,
    PANELS,
    RESULTS,
    RECTIFICATIONS,
    APPEALS,
    REJECTIONS,
)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """An aggregate and the store version it was loaded at (its ETag)."""

    item: M
    version: int


class Repository(Generic[M]):
    """Maps one aggregate type to its versioned store."""

    def __init__(self, store: VersionedStore, model: type[M], *, version_field: str | None = "version") -> None:
        self.store = store
        self.model = model
        self._version_field = version_field

    def state_of(self, item: M) -> dict[str, Any]:
        state = item.model_dump(mode="python")
        if self._version_field:
            state.pop(self._version_field, None)
        return state

    def from_snapshot(self, snapshot: Snapshot) -> Loaded[M]:
        state = dict(snapshot.state)
        if self._version_field:
            state[self._version_field] = snapshot.version
        return Loaded(self.model.model_validate(state), snapshot.version)

    async def get(self, aggregate_id: str) -> Loaded[M] | None:
        snapshot = await self.store.load(aggregate_id)
        return None if snapshot is None else self.from_snapshot(snapshot)

    async def require(self, aggregate_id: str, code: str, what: str) -> Loaded[M]:
        loaded = await self.get(aggregate_id)
        if loaded is None:
            raise NotFound(code, f"no {what} {aggregate_id}")
        return loaded

    async def find(
        self, query: Mapping[str, Any], *, sort: Sequence[tuple[str, int]] = (("_id", ASCENDING),)
    ) -> list[Loaded[M]]:
        return [self.from_snapshot(s) for s in await self.store.find(query, sort=sort)]

    async def save(
        self,
        aggregate_id: str,
        expected_version: int,
        item: M,
        audit: AuditNote,
        *,
        events: Sequence[EventPayload] | None = None,
        caused_by: str | None = None,
    ) -> int | None:
        """Write the new state with the item's pending events (or ``events``) and the audit note."""
        pending = list(events) if events is not None else list(getattr(item, "events", []))
        return await self.store.save(
            aggregate_id, expected_version, self.state_of(item), pending, audit, caused_by=caused_by
        )


class Repositories:
    """Every store of the service, typed."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.frameworks = Repository(runtime.store(FRAMEWORKS), Framework, version_field=None)
        self.agreements = Repository(runtime.store(AGREEMENTS), AgreementView, version_field=None)
        self.evidence = Repository(runtime.store(EVIDENCE), EvidenceRecord, version_field=None)
        self.manual = Repository(runtime.store(MANUAL_EVIDENCE), ManualRecord, version_field=None)
        self.cycles = Repository(runtime.store(CYCLES), Cycle)
        self.panels = Repository(runtime.store(PANELS), Panel)
        self.results = Repository(runtime.store(RESULTS), EvaluationResult)
        self.orders = Repository(runtime.store(RECTIFICATIONS), RectificationOrder)
        self.appeals = Repository(runtime.store(APPEALS), Appeal)
        self.rejections = Repository(runtime.store(REJECTIONS), RejectionRecord, version_field=None)


def framework_key(framework_id: str, version: int) -> str:
    return f"{framework_id}:v{version:04d}"


def panel_key(cycle_id: str, agreement_id: str) -> str:
    return f"{cycle_id}:{agreement_id}"


def evidence_key(college_id: str, report_id: str) -> str:
    return f"report:{college_id}:{report_id}"


def result_key(cycle_id: str, agreement_id: str) -> str:
    return f"res:{cycle_id}:{agreement_id}"
