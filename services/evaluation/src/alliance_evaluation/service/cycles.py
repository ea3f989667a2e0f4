"""Cycles and panels: open a cycle, seat evaluators, score, close the window, complete.

Completing a cycle records one result per agreement (``evaluate_agreement``), opens a
rectification order for each result that needs one, and closes the cycle. Every write
there has a deterministic id (uuid5 of cycle and agreement), so a completion retried
after a crash or a 412 writes nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from alliance_evaluation.adapters.repositories import Repositories, panel_key
from alliance_evaluation.domain.cycle import Cycle, CycleStatus
from alliance_evaluation.domain.evidence import EvidenceWindow
from alliance_evaluation.domain.framework import EvidenceSource, Framework
from alliance_evaluation.domain.panel import Panel, PanelMember
from alliance_evaluation.domain.rectification import RectificationOrder, plan_rectification
from alliance_evaluation.domain.result import EvaluationResult, evaluate_agreement
from alliance_evaluation.service.evidence import activity_dates, evidence_of
from alliance_evaluation.service.frameworks import get_framework
from alliance_evaluation.service.records import AgreementView, derived_id
from alliance_evaluation.settings import Settings
from alliance_shared.contract.vocabulary import CycleKind
from alliance_shared.errors import Conflict, DomainError, InvalidTransition, NotFound, PreconditionFailed
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import Change, apply_change

log = get_logger(__name__)


@dataclass(frozen=True)
class CycleSpec:
    kind: CycleKind
    name: str
    window: EvidenceWindow
    due_at: datetime
    framework_id: str
    framework_version: int
    agreement_ids: Sequence[str] = ()
    region_prefix: str | None = None


async def active_agreements(repos: Repositories, region_prefix: str | None = None) -> list[AgreementView]:
    views = [loaded.item for loaded in await repos.agreements.find({"status": "active"})]
    if region_prefix is None:
        return views
    return [v for v in views if any(code.startswith(region_prefix) for code in v.region_codes)]


async def open_cycle(repos: Repositories, spec: CycleSpec, actor_id: str) -> Loaded[Cycle]:
    framework = (await get_framework(repos, spec.framework_id, spec.framework_version)).item
    if spec.region_prefix is not None:
        chosen = await active_agreements(repos, spec.region_prefix)
        if not chosen:
            raise DomainError(
                "cycle.no_agreements", f"no active agreement has a party in a region starting {spec.region_prefix}"
            )
    else:
        chosen = []
        for agreement_id in sorted(set(spec.agreement_ids)):
            loaded = await repos.agreements.get(agreement_id)
            if loaded is None:
                raise DomainError(
                    "cycle.unknown_agreement", f"agreement {agreement_id} is not known", agreement_id=agreement_id
                )
            if not loaded.item.is_active:
                raise DomainError(
                    "cycle.agreement_inactive",
                    f"agreement {agreement_id} is {loaded.item.status}",
                    agreement_id=agreement_id,
                )
            chosen.append(loaded.item)
    cycle = Cycle.open(
        cycle_id=str(uuid.uuid4()),
        kind=spec.kind,
        name=spec.name,
        agreement_ids=[a.agreement_id for a in chosen],
        party_ids={p for a in chosen for p in a.snapshot().party_ids},
        window=spec.window,
        due_at=spec.due_at,
        framework=framework,
        now=datetime.now(UTC),
        actor_id=actor_id,
    )
    await repos.cycles.save(
        cycle.cycle_id, 0, cycle, AuditNote("cycle.opened", "cycle", cycle.cycle_id, None, {"name": cycle.name})
    )
    cycle.events.clear()
    return Loaded(cycle, 1)


async def get_cycle(repos: Repositories, cycle_id: str) -> Loaded[Cycle]:
    return await repos.cycles.require(cycle_id, "cycle.not_found", "cycle")


def _require_agreement_in(cycle: Cycle, agreement_id: str) -> None:
    if not cycle.includes(agreement_id):
        raise NotFound("panel.not_found", f"agreement {agreement_id} is not evaluated in cycle {cycle.cycle_id}")


async def seat_member(repos: Repositories, cycle_id: str, agreement_id: str, member: PanelMember) -> Loaded[Panel]:
    """Seat an evaluator on the agreement's panel (the panel is created with its first member)."""
    cycle = (await get_cycle(repos, cycle_id)).item
    _require_agreement_in(cycle, agreement_id)
    if cycle.status is CycleStatus.COMPLETED:
        raise InvalidTransition("cycle", cycle.status, "change a panel of")
    agreement = await repos.agreements.get(agreement_id)
    party_ids = agreement.item.snapshot().party_ids if agreement else tuple(cycle.party_ids)
    key = panel_key(cycle_id, agreement_id)
    holder: list[Panel] = []

    def decide(snapshot: Snapshot | None) -> Change:
        if snapshot is None:
            panel = Panel(panel_id=key, cycle_id=cycle_id, agreement_id=agreement_id, party_ids=party_ids)
        else:
            panel = repos.panels.from_snapshot(snapshot).item
        panel.add_member(member)
        holder[:] = [panel]
        return Change(
            repos.panels.state_of(panel),
            (),
            AuditNote("panel.member_seated", "panel", key, None, member.model_dump(mode="json")),
        )

    version = await apply_change(repos.panels.store, key, decide)
    assert version is not None
    return Loaded(holder[0], version)


async def get_panel(repos: Repositories, cycle_id: str, agreement_id: str) -> Loaded[Panel]:
    return await repos.panels.require(panel_key(cycle_id, agreement_id), "panel.not_found", "panel")


async def record_score(
    repos: Repositories, cycle_id: str, agreement_id: str, evaluator_id: str, indicator_code: str, score: int
) -> Loaded[Panel]:
    cycle = (await get_cycle(repos, cycle_id)).item
    _require_agreement_in(cycle, agreement_id)
    if cycle.status is CycleStatus.COMPLETED:
        raise InvalidTransition("cycle", cycle.status, "score in")
    framework = (await get_framework(repos, cycle.framework_id, cycle.framework_version)).item
    definition = framework.indicator(indicator_code)
    if definition.source is not EvidenceSource.PANEL:
        raise DomainError(
            "panel.not_panel_indicator",
            f"{indicator_code} is measured from evidence, not scored by the panel",
            indicator_code=indicator_code,
        )
    key = panel_key(cycle_id, agreement_id)
    holder: list[Panel] = []

    def decide(snapshot: Snapshot | None) -> Change:
        if snapshot is None:
            raise NotFound("panel.not_found", f"agreement {agreement_id} has no panel in cycle {cycle_id}")
        panel = repos.panels.from_snapshot(snapshot).item
        panel.record_score(evaluator_id, indicator_code, score, datetime.now(UTC))
        holder[:] = [panel]
        return Change(
            repos.panels.state_of(panel),
            (),
            AuditNote("panel.scored", "panel", key, None, {"indicator": indicator_code, "score": score}),
        )

    version = await apply_change(repos.panels.store, key, decide)
    assert version is not None
    return Loaded(holder[0], version)


async def start_scoring(repos: Repositories, cycle_id: str, expected: int, actor_id: str) -> Loaded[Cycle]:
    cycle = (await get_cycle(repos, cycle_id)).item
    cycle.start_scoring(datetime.now(UTC), actor_id)
    version = await repos.cycles.save(
        cycle_id, expected, cycle, AuditNote("cycle.scoring_started", "cycle", cycle_id, "open", "scoring")
    )
    assert version is not None
    return Loaded(cycle, version)


def result_id_for(cycle_id: str, agreement_id: str) -> str:
    return derived_id("result", cycle_id, agreement_id)


async def previous_result(repos: Repositories, agreement_id: str, before_cycle: str) -> EvaluationResult | None:
    """The agreement's latest current result from another cycle (for repeated-band rules)."""
    results = [
        r.item
        for r in await repos.results.find({"agreement_id": agreement_id})
        if r.item.is_current and r.item.cycle_id != before_cycle
    ]
    return max(results, key=lambda r: r.completed_at, default=None)


async def score_one(
    repos: Repositories,
    settings: Settings,
    *,
    result_id: str,
    cycle: Cycle,
    framework: Framework,
    agreement_id: str,
    actor_id: str,
    supersedes: EvaluationResult | None = None,
) -> EvaluationResult:
    """Evaluate one agreement of the cycle from the evidence stored now (pure domain pipeline)."""
    loaded = await repos.agreements.get(agreement_id)
    if loaded is None:
        raise DomainError("cycle.unknown_agreement", f"agreement {agreement_id} is no longer known")
    evidence = await evidence_of(repos, agreement_id)
    panel = await repos.panels.get(panel_key(cycle.cycle_id, agreement_id))
    evaluated_on = min(cycle.window.end, datetime.now(UTC).date())
    return evaluate_agreement(
        result_id=result_id,
        cycle=cycle,
        framework=framework,
        agreement=loaded.item.snapshot(),
        reports=evidence.reports,
        manual=[m.evidence for m in evidence.manual],
        panel=None if panel is None else panel.item,
        previous=await previous_result(repos, agreement_id, cycle.cycle_id),
        evaluated_on=evaluated_on,
        now=datetime.now(UTC),
        actor_id=actor_id,
        recent_activity=activity_dates(evidence, evaluated_on),
        inactive_months=settings.formality_inactive_months,
        supersedes=supersedes,
    )


def responsible_party(result: EvaluationResult, agreement: AgreementView | None) -> str:
    """Who must put a result right: the party committed to the most at-risk obligations,
    else the (first) college, which coordinates the cooperation's reporting."""
    at_risk = {i.code for i in result.indicators if i.band is not None and i.band.value == "at_risk"}
    if agreement is not None and at_risk:
        counts: dict[str, int] = {}
        for obligation in agreement.obligations:
            counts[obligation.party_id] = counts.get(obligation.party_id, 0) + 1
        candidates = [p for p in counts if p in result.party_ids]
        if candidates:
            return max(sorted(candidates), key=lambda p: counts[p])
    if result.college_ids:
        return result.college_ids[0]
    return result.party_ids[0]


async def open_rectification(
    repos: Repositories, settings: Settings, result: EvaluationResult, actor_id: str
) -> RectificationOrder | None:
    """Order rectification when the result calls for it (idempotent: one order per result)."""
    if not plan_rectification(result):
        return None
    agreement = await repos.agreements.get(result.agreement_id)
    now = datetime.now(UTC)
    order = RectificationOrder.order(
        order_id=derived_id("rectification", result.result_id),
        result=result,
        responsible_party_id=responsible_party(result, None if agreement is None else agreement.item),
        due_at=now + timedelta(seconds=settings.rectification_due_seconds),
        now=now,
        actor_id=actor_id,
    )
    try:
        await repos.orders.save(
            order.order_id,
            0,
            order,
            AuditNote("rectification.ordered", "rectification", order.order_id, None, {"result_id": result.result_id}),
        )
    except Conflict:
        return None
    except DomainError as exc:
        if exc.code != "aggregate.version_conflict":
            raise
        return None  # ordered already by an earlier attempt
    return order


async def complete_cycle(
    repos: Repositories, settings: Settings, cycle_id: str, expected: int, actor_id: str
) -> Loaded[Cycle]:
    loaded = await get_cycle(repos, cycle_id)
    if loaded.version != expected:
        raise PreconditionFailed(
            "aggregate.version_conflict",
            f"{cycle_id} was changed meanwhile (it is at version {loaded.version}, the change was based on {expected})",
            current_version=loaded.version,
        )
    cycle = loaded.item
    if cycle.status is not CycleStatus.SCORING:
        raise InvalidTransition("cycle", cycle.status, "complete")
    framework = (await get_framework(repos, cycle.framework_id, cycle.framework_version)).item
    scored: list[str] = []
    for agreement_id in cycle.agreement_ids:
        result_id = result_id_for(cycle_id, agreement_id)
        existing = await repos.results.get(result_id)
        if existing is None:
            result = await score_one(
                repos,
                settings,
                result_id=result_id,
                cycle=cycle,
                framework=framework,
                agreement_id=agreement_id,
                actor_id=actor_id,
            )
            try:
                await repos.results.save(
                    result_id,
                    0,
                    result,
                    AuditNote(
                        "result.completed",
                        "result",
                        result_id,
                        None,
                        {"score_hundredths": result.score_hundredths, "grade": str(result.grade)},
                    ),
                )
            except DomainError as exc:
                if exc.code != "aggregate.version_conflict":
                    raise
        else:
            result = existing.item
        await open_rectification(repos, settings, result, actor_id)
        scored.append(agreement_id)
    cycle.complete(scored, datetime.now(UTC), actor_id)
    version = await repos.cycles.save(
        cycle_id, expected, cycle, AuditNote("cycle.completed", "cycle", cycle_id, "scoring", "completed")
    )
    assert version is not None
    log.info("cycle completed", cycle_id=cycle_id, agreements=len(scored))
    return Loaded(cycle, version)


async def list_cycles(repos: Repositories, status: CycleStatus | None = None) -> list[Loaded[Cycle]]:
    return await repos.cycles.find({} if status is None else {"status": status.value})


def window_of(start: date, end: date) -> EvidenceWindow:
    try:
        return EvidenceWindow(start=start, end=end)
    except ValueError as exc:
        raise DomainError("cycle.window_invalid", "an evidence window ends on or after its start") from exc


def ids_of(items: Collection[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))
