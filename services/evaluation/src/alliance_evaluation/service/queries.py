"""Reads: one aggregate by id, and every list filter of the service.

Lists come from the stores' query-side copies (eventually consistent); a use case that
decides on an aggregate loads it again through the write path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from alliance_evaluation.domain.appeal import Appeal, AppealStatus
from alliance_evaluation.domain.computation import aggregate_evidence
from alliance_evaluation.domain.cycle import Cycle, CycleStatus
from alliance_evaluation.domain.default_framework import default_measures
from alliance_evaluation.domain.evidence import EvidenceSummary, EvidenceWindow, dedupe_reports
from alliance_evaluation.domain.framework import Framework, FrameworkStatus
from alliance_evaluation.domain.panel import Panel
from alliance_evaluation.domain.rectification import OrderStatus, RectificationOrder
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.records import ACTIVE, AgreementView, EvidenceRecord, ManualRecord
from alliance_evaluation.service.repositories import APPEAL_QUEUE_POSITION, framework_key, panel_key
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.errors import DomainError, NotFound
from alliance_shared.persistence.pagination import paginate
from alliance_shared.persistence.repository import Loaded, Repository

M = TypeVar("M", bound=BaseModel)

# --- frameworks ----------------------------------------------------------------------------


async def any_framework_exists(ctx: Context) -> bool:
    return bool(await ctx.repos.frameworks.store.find({}, limit=1))


@dataclass(frozen=True)
class Listed(Generic[M]):
    """One cursor page of a list, in aggregate-id order."""

    items: list[M]
    next_cursor: str | None


async def _page(
    repo: Repository[M], query: dict[str, Any], cursor: str | None, limit: int, *, order_by: str = "_id"
) -> Listed[M]:
    """One page of ``query``'s matches; every filter field has an index (adapters/mongo.py)."""
    page = await paginate(repo.store, query, limit=limit, cursor=cursor, order_by=order_by)
    return Listed([repo.from_snapshot(s).item for s in page.items], page.next_cursor)


def _filters(**values: str | None) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


async def list_frameworks(
    ctx: Context,
    *,
    framework_id: str | None = None,
    status: FrameworkStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Listed[Framework]:
    """Framework versions by framework id, then version."""
    query = _filters(framework_id=framework_id, status=None if status is None else status.value)
    return await _page(ctx.repos.frameworks, query, cursor, limit)


async def get_framework(ctx: Context, framework_id: str, version: int) -> Loaded[Framework]:
    return await ctx.repos.frameworks.require(
        framework_key(framework_id, version), "framework.not_found", f"framework {framework_id} version"
    )


async def latest_framework_version(ctx: Context, framework_id: str) -> Loaded[Framework] | None:
    versions = await ctx.repos.frameworks.find({"framework_id": framework_id})
    return max(versions, key=lambda f: f.item.version, default=None)


# --- agreements and evidence ---------------------------------------------------------------


async def get_agreement(ctx: Context, agreement_id: str) -> AgreementView:
    loaded = await ctx.repos.agreements.get(agreement_id)
    if loaded is None:
        raise NotFound("agreement.not_found", f"no agreement {agreement_id}")
    return loaded.item


async def find_agreement(ctx: Context, agreement_id: str) -> AgreementView | None:
    loaded = await ctx.repos.agreements.get(agreement_id)
    return None if loaded is None else loaded.item


async def active_agreements(ctx: Context, region_prefix: str | None = None) -> list[AgreementView]:
    views = [loaded.item for loaded in await ctx.repos.agreements.find({"status": ACTIVE})]
    if region_prefix is None:
        return views
    return [v for v in views if any(code.startswith(region_prefix) for code in v.region_codes)]


@dataclass(frozen=True)
class AgreementEvidence:
    reports: tuple[CollegeReport, ...]
    received: int
    manual: tuple[ManualRecord, ...]


@dataclass(frozen=True)
class EvidenceInWindow:
    """An agreement's evidence as a supervisor reads it for one window."""

    window: EvidenceWindow
    received: int
    counts_by_type: dict[str, int]
    manual: list[ManualRecord]
    summary: EvidenceSummary


def parse_record(record: EvidenceRecord) -> CollegeReport:
    report = PLATFORM_CATALOG.parse(record.event_type, record.payload)
    assert isinstance(report, CollegeReport)
    return report


async def evidence_of(ctx: Context, agreement_id: str) -> AgreementEvidence:
    records = await ctx.repos.evidence.find({"agreement_id": agreement_id})
    manual = await ctx.repos.manual.find({"agreement_id": agreement_id})
    reports = dedupe_reports(parse_record(r.item) for r in records)
    return AgreementEvidence(reports, len(records), tuple(m.item for m in manual))


def window_of(start: date, end: date) -> EvidenceWindow:
    try:
        return EvidenceWindow(start=start, end=end)
    except ValueError as exc:
        raise DomainError("cycle.window_invalid", "an evidence window ends on or after its start") from exc


async def evidence_in_window(ctx: Context, agreement: AgreementView, start: date, end: date) -> EvidenceInWindow:
    """Reports per type in the window, the manual evidence up to its end and the figures
    the default framework's measures compute from them."""
    window = window_of(start, end)
    evidence = await evidence_of(ctx, agreement.agreement_id)
    counts: dict[str, int] = {}
    for report in evidence.reports:
        if report.occurred_on in window:
            counts[report.event_type] = counts.get(report.event_type, 0) + 1
    summary = aggregate_evidence(
        evidence.reports, [m.evidence for m in evidence.manual], window, agreement.modes, default_measures()
    )
    return EvidenceInWindow(
        window=window,
        received=evidence.received,
        counts_by_type=dict(sorted(counts.items())),
        manual=[m for m in evidence.manual if m.evidence.occurred_on <= window.end],
        summary=summary,
    )


def activity_dates(evidence: AgreementEvidence, until: date) -> Iterable[date]:
    dates = {r.occurred_on for r in evidence.reports} | {m.evidence.occurred_on for m in evidence.manual}
    return sorted(d for d in dates if d <= until)


# --- cycles and panels ---------------------------------------------------------------------


async def get_cycle(ctx: Context, cycle_id: str) -> Loaded[Cycle]:
    return await ctx.repos.cycles.require(cycle_id, "cycle.not_found", "cycle")


async def list_cycles(
    ctx: Context, *, status: CycleStatus | None = None, cursor: str | None = None, limit: int = 50
) -> Listed[Cycle]:
    """Cycles by cycle id."""
    return await _page(ctx.repos.cycles, _filters(status=None if status is None else status.value), cursor, limit)


async def get_panel(ctx: Context, cycle_id: str, agreement_id: str) -> Loaded[Panel]:
    return await ctx.repos.panels.require(panel_key(cycle_id, agreement_id), "panel.not_found", "panel")


async def sits_on_a_panel_of(ctx: Context, evaluator_id: str, agreement_id: str) -> bool:
    panels = await ctx.repos.panels.find({"agreement_id": agreement_id})
    return any(evaluator_id in p.item.evaluator_ids for p in panels)


# --- results -------------------------------------------------------------------------------


async def get_result(ctx: Context, result_id: str) -> Loaded[EvaluationResult]:
    return await ctx.repos.results.require(result_id, "result.not_found", "result")


async def results_of_agreement(ctx: Context, agreement_id: str) -> list[EvaluationResult]:
    """Every result of an agreement, superseded ones included, oldest first."""
    results = [r.item for r in await ctx.repos.results.find({"agreement_id": agreement_id})]
    return sorted(results, key=lambda r: r.completed_at)


async def current_results(ctx: Context, cycle_id: str) -> list[EvaluationResult]:
    return [r.item for r in await ctx.repos.results.find({"cycle_id": cycle_id}) if r.item.is_current]


async def previous_result(ctx: Context, agreement_id: str, before_cycle: str) -> EvaluationResult | None:
    """The agreement's latest current result from another cycle (for repeated-band rules)."""
    results = [
        r.item
        for r in await ctx.repos.results.find({"agreement_id": agreement_id})
        if r.item.is_current and r.item.cycle_id != before_cycle
    ]
    return max(results, key=lambda r: r.completed_at, default=None)


# --- rectification and appeals -------------------------------------------------------------


async def get_order(ctx: Context, order_id: str) -> Loaded[RectificationOrder]:
    return await ctx.repos.orders.require(order_id, "rectification.not_found", "rectification order")


async def list_orders(
    ctx: Context,
    *,
    status: OrderStatus | None = None,
    agreement_id: str | None = None,
    cycle_id: str | None = None,
) -> list[RectificationOrder]:
    """Every matching order, for the service's own sweeps and reports (people page through
    ``orders_page``)."""
    query = _filters(status=None if status is None else status.value, agreement_id=agreement_id, cycle_id=cycle_id)
    return [o.item for o in await ctx.repos.orders.find(query)]


async def orders_page(
    ctx: Context,
    *,
    party_id: str | None,
    status: OrderStatus | None = None,
    agreement_id: str | None = None,
    cycle_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Listed[RectificationOrder]:
    """Orders by order id; ``party_id``: only those about this partner's agreements (None:
    every order, for overseers)."""
    query = _filters(
        status=None if status is None else status.value,
        agreement_id=agreement_id,
        cycle_id=cycle_id,
        party_ids=party_id,
    )
    return await _page(ctx.repos.orders, query, cursor, limit)


async def get_appeal(ctx: Context, appeal_id: str) -> Loaded[Appeal]:
    return await ctx.repos.appeals.require(appeal_id, "appeal.not_found", "appeal")


async def upheld_appeals(ctx: Context) -> list[Appeal]:
    return [a.item for a in await ctx.repos.appeals.find({"status": AppealStatus.UPHELD.value})]


async def appeals_page(
    ctx: Context,
    *,
    party_id: str | None,
    status: AppealStatus | None = None,
    agreement_id: str | None = None,
    cycle_id: str | None = None,
    result_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Listed[Appeal]:
    """Appeals pending first, then oldest first (their stored queue position), one cursor page;
    ``party_id``: only those about this partner's agreements (None: every appeal, for overseers).

    The cursor is the queue position of the page's last appeal, not an offset: an appeal
    lodged or decided between two pages does not shift the next page onto others."""
    query = _filters(
        status=None if status is None else status.value,
        agreement_id=agreement_id,
        cycle_id=cycle_id,
        result_id=result_id,
        party_ids=party_id,
    )
    return await _page(ctx.repos.appeals, query, cursor, limit, order_by=APPEAL_QUEUE_POSITION)
