"""The service's stores, typed: domain aggregates and records <-> ``VersionedStore`` snapshots.

Each aggregate is stored as its full state (``model_dump``): enums as strings, dates as
ISO strings, datetimes as UTC, money as int minor units, framework numbers as decimal
strings. The store's version is the aggregate's version (ETag); the domain models'
``version`` field is filled from it on load and never stored. Events ride in the same
insert, so a state change is never unannounced.

The bundle is built from a store factory: ``runtime.store`` at the composition root
(MongoDB), ``InMemoryVersionedStore`` in the use-case tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alliance_evaluation.domain.appeal import Appeal, queue_position
from alliance_evaluation.domain.cycle import Cycle
from alliance_evaluation.domain.framework import Framework
from alliance_evaluation.domain.panel import Panel
from alliance_evaluation.domain.rectification import RectificationOrder
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service.records import (
    AgreementView,
    EvidenceRecord,
    ManualRecord,
    ParkedReport,
    ProgrammeView,
    RejectionRecord,
)
from alliance_shared.persistence.repository import Repository
from alliance_shared.persistence.versioned_store import VersionedStore

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
PARKED_REPORTS = "parked_reports"
PROGRAMMES = "programmes"

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
    PARKED_REPORTS,
    PROGRAMMES,
)

StoreFactory = Callable[[str], VersionedStore]

#: An appeal's stored queue position (``queue_position``), what GET /appeals sorts and pages by.
APPEAL_QUEUE_POSITION = "q_queue_position"


def appeal_query_fields(state: Mapping[str, Any]) -> dict[str, Any]:
    return {APPEAL_QUEUE_POSITION: queue_position(state["status"], state["lodged_at"], state["appeal_id"])}


class Repositories:
    """Every store of the service, typed. Models whose own ``version`` means something
    else (a framework's version number) or that have none keep ``version_field=None``."""

    def __init__(self, store_of: StoreFactory) -> None:
        self.frameworks = Repository(store_of(FRAMEWORKS), Framework, version_field=None)
        self.agreements = Repository(store_of(AGREEMENTS), AgreementView, version_field=None)
        self.evidence = Repository(store_of(EVIDENCE), EvidenceRecord, version_field=None)
        self.manual = Repository(store_of(MANUAL_EVIDENCE), ManualRecord, version_field=None)
        self.cycles = Repository(store_of(CYCLES), Cycle)
        self.panels = Repository(store_of(PANELS), Panel)
        self.results = Repository(store_of(RESULTS), EvaluationResult)
        self.orders = Repository(store_of(RECTIFICATIONS), RectificationOrder)
        self.appeals = Repository(store_of(APPEALS), Appeal, query_fields=appeal_query_fields)
        self.rejections = Repository(store_of(REJECTIONS), RejectionRecord, version_field=None)
        self.parked = Repository(store_of(PARKED_REPORTS), ParkedReport, version_field=None)
        self.programmes = Repository(store_of(PROGRAMMES), ProgrammeView, version_field=None)


def framework_key(framework_id: str, version: int) -> str:
    return f"{framework_id}:v{version:04d}"


def panel_key(cycle_id: str, agreement_id: str) -> str:
    return f"{cycle_id}:{agreement_id}"


def evidence_key(college_id: str, report_id: str) -> str:
    return f"report:{college_id}:{report_id}"
