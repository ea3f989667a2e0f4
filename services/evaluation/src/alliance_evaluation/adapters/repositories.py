"""Domain aggregates <-> VersionedStore snapshots.

Each aggregate is stored as its full state (``model_dump``): enums as strings, dates as
ISO strings, datetimes as UTC, money as int minor units, framework numbers as decimal
strings. The store's version is the aggregate's version (ETag); the domain models'
``version`` field is filled from it on load and never stored. Events ride in the same
insert (``VersionedStore.save``), so a state change is never unannounced.
"""

from __future__ import annotations

from alliance_evaluation.domain.appeal import Appeal
from alliance_evaluation.domain.cycle import Cycle
from alliance_evaluation.domain.framework import Framework
from alliance_evaluation.domain.panel import Panel
from alliance_evaluation.domain.rectification import RectificationOrder
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service.records import AgreementView, EvidenceRecord, ManualRecord, RejectionRecord
from alliance_shared.persistence.repository import Repository
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
