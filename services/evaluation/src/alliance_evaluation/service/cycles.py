"""Cycles and panels: open a cycle, seat evaluators, score, close the window, complete.

Completing a cycle records one result per agreement (``evaluate_agreement``), opens a
rectification order for each result that needs one, and closes the cycle. Every write
there has a deterministic id (uuid5 of cycle and agreement), so a completion retried
after a crash or a 412 writes nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alliance_evaluation.domain.cycle import Cycle, CycleStatus
from alliance_evaluation.domain.evidence import EvidenceWindow
from alliance_evaluation.domain.framework import EvidenceSource, Framework
from alliance_evaluation.domain.panel import Panel, PanelMember
from alliance_evaluation.domain.rectification import RectificationOrder, plan_rectification, responsible_party
from alliance_evaluation.domain.result import EvaluationResult, evaluate_agreement
from alliance_evaluation.service import programmes, queries
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.records import AgreementView, derived_id
from alliance_evaluation.service.repositories import panel_key
from alliance_shared.contract.evaluation import PanelMemberSeated
from alliance_shared.contract.vocabulary import CycleKind
from alliance_shared.errors import Conflict, DomainError, InvalidTransition, NotFound
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, check_expected, create, execute, update

log = get_logger(__name__)

CYCLE_NOT_FOUND = ("cycle.not_found", "cycle")


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
    programme_id: str | None = None


async def _programme_agreements(ctx: Context, programme_id: str) -> list[AgreementView]:
    """The programme's awarded agreements (live awards) that are active now."""
    programme = await programmes.find_programme(ctx, programme_id)
    if programme is None:
        raise DomainError("cycle.unknown_programme", f"programme {programme_id} is not known")
    chosen = []
    for agreement_id in programme.agreement_ids:
        agreement = await queries.find_agreement(ctx, agreement_id)
        if agreement is not None and agreement.is_active:
            chosen.append(agreement)
    if not chosen:
        raise DomainError("cycle.no_agreements", f"programme {programme_id} funds no active agreement")
    return chosen


async def _chosen_agreements(ctx: Context, spec: CycleSpec) -> list[AgreementView]:
    if spec.programme_id is not None:
        return await _programme_agreements(ctx, spec.programme_id)
    if spec.region_prefix is not None:
        chosen = await queries.active_agreements(ctx, spec.region_prefix)
        if not chosen:
            raise DomainError(
                "cycle.no_agreements", f"no active agreement has a party in a region starting {spec.region_prefix}"
            )
        return chosen
    chosen = []
    for agreement_id in sorted(set(spec.agreement_ids)):
        agreement = await queries.find_agreement(ctx, agreement_id)
        if agreement is None:
            raise DomainError(
                "cycle.unknown_agreement", f"agreement {agreement_id} is not known", agreement_id=agreement_id
            )
        if not agreement.is_active:
            raise DomainError(
                "cycle.agreement_inactive", f"agreement {agreement_id} is {agreement.status}", agreement_id=agreement_id
            )
        chosen.append(agreement)
    return chosen


async def open_cycle(ctx: Context, spec: CycleSpec, actor_id: str) -> Outcome[Cycle]:
    framework = (await queries.get_framework(ctx, spec.framework_id, spec.framework_version)).item
    chosen = await _chosen_agreements(ctx, spec)
    cycle = Cycle.open(
        cycle_id=str(uuid.uuid4()),
        kind=spec.kind,
        name=spec.name,
        agreement_ids=[a.agreement_id for a in chosen],
        party_ids={p for a in chosen for p in a.snapshot().party_ids},
        window=spec.window,
        due_at=spec.due_at,
        framework=framework,
        now=ctx.clock.now(),
        actor_id=actor_id,
        programme_id=spec.programme_id,
    )
    audit = AuditNote("cycle.opened", "cycle", cycle.cycle_id, None, {"name": cycle.name})
    return await create(ctx.repos.cycles, cycle.cycle_id, cycle, audit)


def _require_agreement_in(cycle: Cycle, agreement_id: str) -> None:
    if not cycle.includes(agreement_id):
        raise NotFound("panel.not_found", f"agreement {agreement_id} is not evaluated in cycle {cycle.cycle_id}")


async def seat_member(
    ctx: Context, cycle_id: str, agreement_id: str, member: PanelMember, actor_id: str
) -> Outcome[Panel]:
    """Seat an evaluator on the agreement's panel (the panel is created with its first member);
    ``panel.member_seated`` tells the evaluator."""
    cycle = (await queries.get_cycle(ctx, cycle_id)).item
    _require_agreement_in(cycle, agreement_id)
    if cycle.status is CycleStatus.COMPLETED:
        raise InvalidTransition("cycle", cycle.status, "change a panel of")
    agreement = await queries.find_agreement(ctx, agreement_id)
    party_ids = agreement.snapshot().party_ids if agreement else tuple(cycle.party_ids)
    key = panel_key(cycle_id, agreement_id)

    def decide(loaded: Loaded[Panel] | None) -> Decision[Panel]:
        if loaded is None:
            panel = Panel(panel_id=key, cycle_id=cycle_id, agreement_id=agreement_id, party_ids=party_ids)
        else:
            panel = loaded.item
        panel.add_member(member)
        seated = PanelMemberSeated(
            cycle_id=cycle_id,
            agreement_id=agreement_id,
            evaluator_id=member.evaluator_id,
            role=str(member.role),
            party_ids=panel.party_ids,
            due_at=cycle.due_at,
            occurred_at=ctx.clock.now(),
            actor_id=actor_id,
        )
        audit = AuditNote("panel.member_seated", "panel", key, None, member.model_dump(mode="json"))
        return Decision(panel, audit, events=[seated])

    return await execute(ctx.repos.panels, key, decide)


async def record_score(
    ctx: Context, cycle_id: str, agreement_id: str, evaluator_id: str, indicator_code: str, score: int
) -> Outcome[Panel]:
    cycle = (await queries.get_cycle(ctx, cycle_id)).item
    _require_agreement_in(cycle, agreement_id)
    if cycle.status is CycleStatus.COMPLETED:
        raise InvalidTransition("cycle", cycle.status, "score in")
    framework = (await queries.get_framework(ctx, cycle.framework_id, cycle.framework_version)).item
    if framework.indicator(indicator_code).source is not EvidenceSource.PANEL:
        raise DomainError(
            "panel.not_panel_indicator",
            f"{indicator_code} is measured from evidence, not scored by the panel",
            indicator_code=indicator_code,
        )
    key = panel_key(cycle_id, agreement_id)

    def decide(loaded: Loaded[Panel] | None) -> Decision[Panel]:
        if loaded is None:
            raise NotFound("panel.not_found", f"agreement {agreement_id} has no panel in cycle {cycle_id}")
        panel = loaded.item
        panel.record_score(evaluator_id, indicator_code, score, ctx.clock.now())
        audit = AuditNote("panel.scored", "panel", key, None, {"indicator": indicator_code, "score": score})
        return Decision(panel, audit)

    return await execute(ctx.repos.panels, key, decide)


async def start_scoring(ctx: Context, cycle_id: str, expected: int, actor_id: str) -> Outcome[Cycle]:
    await queries.get_cycle(ctx, cycle_id)  # an unknown cycle is 404, whatever If-Match says

    def decide(cycle: Cycle) -> Decision[Cycle]:
        cycle.start_scoring(ctx.clock.now(), actor_id)
        return Decision(cycle, AuditNote("cycle.scoring_started", "cycle", cycle_id, "open", "scoring"))

    return await update(ctx.repos.cycles, cycle_id, decide, not_found=CYCLE_NOT_FOUND, expected=expected)


def result_id_for(cycle_id: str, agreement_id: str) -> str:
    return derived_id("result", cycle_id, agreement_id)


async def score_one(
    ctx: Context,
    *,
    result_id: str,
    cycle: Cycle,
    framework: Framework,
    agreement_id: str,
    actor_id: str,
    supersedes: EvaluationResult | None = None,
) -> EvaluationResult:
    """Evaluate one agreement of the cycle from the evidence stored now (pure domain pipeline)."""
    agreement = await queries.find_agreement(ctx, agreement_id)
    if agreement is None:
        raise DomainError("cycle.unknown_agreement", f"agreement {agreement_id} is no longer known")
    evidence = await queries.evidence_of(ctx, agreement_id)
    panel = await ctx.repos.panels.get(panel_key(cycle.cycle_id, agreement_id))
    now = ctx.clock.now()
    evaluated_on = min(cycle.window.end, now.date())
    return evaluate_agreement(
        result_id=result_id,
        cycle=cycle,
        framework=framework,
        agreement=agreement.snapshot(),
        reports=evidence.reports,
        manual=[m.evidence for m in evidence.manual],
        panel=None if panel is None else panel.item,
        previous=await queries.previous_result(ctx, agreement_id, cycle.cycle_id),
        evaluated_on=evaluated_on,
        now=now,
        actor_id=actor_id,
        recent_activity=queries.activity_dates(evidence, evaluated_on),
        inactive_months=ctx.settings.formality_inactive_months,
        supersedes=supersedes,
    )


async def open_rectification(ctx: Context, result: EvaluationResult, actor_id: str) -> RectificationOrder | None:
    """Order rectification when the result calls for it (idempotent: one order per result)."""
    if not plan_rectification(result):
        return None
    agreement = await queries.find_agreement(ctx, result.agreement_id)
    framework = (await queries.get_framework(ctx, result.framework_id, result.framework_version)).item
    metric_of = {i.code: i.target_obligation for i in framework.indicators if i.target_obligation is not None}
    obligations = agreement.obligations if agreement is not None else ()
    now = ctx.clock.now()
    order = RectificationOrder.order(
        order_id=derived_id("rectification", result.result_id),
        result=result,
        responsible_party_id=responsible_party(result, plan_rectification(result), obligations, metric_of),
        due_at=now + timedelta(seconds=ctx.settings.rectification_due_seconds),
        now=now,
        actor_id=actor_id,
    )
    audit = AuditNote("rectification.ordered", "rectification", order.order_id, None, {"result_id": result.result_id})
    try:
        await create(ctx.repos.orders, order.order_id, order, audit)
    except Conflict:
        return None  # ordered already by an earlier attempt
    return order


async def _record_result(
    ctx: Context, cycle: Cycle, framework: Framework, agreement_id: str, actor_id: str
) -> EvaluationResult:
    """The agreement's result in the cycle: the stored one, else scored now and stored."""
    result_id = result_id_for(cycle.cycle_id, agreement_id)
    existing = await ctx.repos.results.get(result_id)
    if existing is not None:
        return existing.item
    result = await score_one(
        ctx, result_id=result_id, cycle=cycle, framework=framework, agreement_id=agreement_id, actor_id=actor_id
    )
    audit = AuditNote(
        "result.completed",
        "result",
        result_id,
        None,
        {"score_hundredths": result.score_hundredths, "grade": str(result.grade)},
    )
    try:
        await create(ctx.repos.results, result_id, result, audit)
    except Conflict:
        pass  # a concurrent completion stored it first
    return result


async def complete_cycle(ctx: Context, cycle_id: str, expected: int, actor_id: str) -> Outcome[Cycle]:
    """Score every agreement, record results, order rectification, then complete the cycle.

    If-Match is checked before any result is written, and again by the final write.
    """
    loaded = await queries.get_cycle(ctx, cycle_id)
    check_expected(cycle_id, loaded.version, expected)
    cycle = loaded.item
    if cycle.status is not CycleStatus.SCORING:
        raise InvalidTransition("cycle", cycle.status, "complete")
    framework = (await queries.get_framework(ctx, cycle.framework_id, cycle.framework_version)).item
    scored: list[str] = []
    for agreement_id in cycle.agreement_ids:
        result = await _record_result(ctx, cycle, framework, agreement_id, actor_id)
        await open_rectification(ctx, result, actor_id)
        scored.append(agreement_id)

    def decide(current: Cycle) -> Decision[Cycle]:
        current.complete(scored, ctx.clock.now(), actor_id)
        return Decision(current, AuditNote("cycle.completed", "cycle", cycle_id, "scoring", "completed"))

    outcome = await update(ctx.repos.cycles, cycle_id, decide, not_found=CYCLE_NOT_FOUND, expected=expected)
    log.info("cycle completed", cycle_id=cycle_id, agreements=len(scored))
    return outcome
