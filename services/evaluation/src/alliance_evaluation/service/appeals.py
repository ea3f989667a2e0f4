"""Appeals against a result: lodged by a party within the working-day window, decided by a
supervisor not on the panel; an upheld appeal may correct panel scores, re-scores the
agreement and supersedes the result (both kept)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from alliance_evaluation.domain.appeal import Appeal, AppealPolicy
from alliance_evaluation.domain.panel import Panel, ScoreCorrection
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service import queries
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.cycles import score_one
from alliance_evaluation.service.records import derived_id
from alliance_evaluation.service.repositories import panel_key
from alliance_shared.contract.evaluation import AppealDecision
from alliance_shared.errors import Conflict, DomainError
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, create, execute, update

NOT_FOUND = ("appeal.not_found", "appeal")


def appeal_policy(ctx: Context) -> AppealPolicy:
    return AppealPolicy(
        window_working_days=ctx.settings.appeal_window_working_days, calendar=ctx.settings.official_calendar()
    )


async def lodge_appeal(
    ctx: Context, result: EvaluationResult, appellant_party_id: str, grounds: str, actor_id: str
) -> Outcome[Appeal]:
    panel = await ctx.repos.panels.get(panel_key(result.cycle_id, result.agreement_id))
    appeal = Appeal.lodge(
        appeal_id=str(uuid.uuid4()),
        result=result,
        appellant_party_id=appellant_party_id,
        grounds=grounds,
        now=ctx.clock.now(),
        actor_id=actor_id,
        policy=appeal_policy(ctx),
        panel_evaluator_ids=panel.item.evaluator_ids if panel else (),
    )
    audit = AuditNote("appeal.lodged", "appeal", appeal.appeal_id, None, {"grounds": grounds})
    return await create(ctx.repos.appeals, appeal.appeal_id, appeal, audit)


async def decide_appeal(
    ctx: Context,
    appeal_id: str,
    expected: int,
    decision: AppealDecision,
    reason: str,
    decider_id: str,
    score_corrections: Sequence[ScoreCorrection] = (),
) -> tuple[Outcome[Appeal], EvaluationResult | None]:
    """Record the decision; an upheld appeal corrects the panel scores it names, re-scores
    the agreement and supersedes the result.

    The corrections are checked against the panel before anything is written. The
    decision is written first (If-Match); the corrections are marked with the appeal,
    the re-score has a deterministic id and the supersession is a no-op once done, so
    every later step can be repeated safely (``finish_upheld_appeals``).
    """
    lodged = (await queries.get_appeal(ctx, appeal_id)).item
    result = (await queries.get_result(ctx, lodged.result_id)).item
    if score_corrections:
        panel = await ctx.repos.panels.get(panel_key(result.cycle_id, result.agreement_id))
        if panel is None:
            raise DomainError("panel.not_found", f"agreement {result.agreement_id} had no panel in its cycle")
        trial = panel.item.model_copy(deep=True)
        for correction in score_corrections:
            trial.correct_score(correction, appeal_id, decider_id, ctx.clock.now())

    def decide(appeal: Appeal) -> Decision[Appeal]:
        appeal.decide(decision, reason, result, ctx.clock.now(), decider_id, score_corrections)
        return Decision(appeal, AuditNote("appeal.decided", "appeal", appeal_id, "lodged", str(appeal.status)))

    outcome = await update(ctx.repos.appeals, appeal_id, decide, not_found=NOT_FOUND, expected=expected)
    new_result = None
    if decision is AppealDecision.UPHELD:
        await apply_corrections(ctx, outcome.item, result)
        new_result = await rescore(ctx, result, appeal_id, decider_id)
    return outcome, new_result


async def apply_corrections(ctx: Context, appeal: Appeal, result: EvaluationResult) -> None:
    """Put an upheld appeal's corrected scores on the panel (once: a correction already in is left)."""
    if not appeal.score_corrections:
        return
    decider_id = appeal.decided_by or "system"

    def correct(loaded: Loaded[Panel] | None) -> Decision[Panel] | None:
        if loaded is None:
            raise DomainError("panel.not_found", f"agreement {result.agreement_id} had no panel in its cycle")
        panel = loaded.item
        now = ctx.clock.now()
        changed = [c for c in appeal.score_corrections if panel.correct_score(c, appeal.appeal_id, decider_id, now)]
        if not changed:
            return None
        audit = AuditNote(
            "panel.scores_corrected",
            "panel",
            panel.panel_id,
            None,
            {"appeal_id": appeal.appeal_id, "corrections": [c.model_dump(mode="json") for c in changed]},
        )
        return Decision(panel, audit)

    await execute(ctx.repos.panels, panel_key(result.cycle_id, result.agreement_id), correct)


async def _rescored_result(ctx: Context, old: EvaluationResult, appeal_id: str, actor_id: str) -> EvaluationResult:
    """The appeal's re-score: the stored one, else scored now and stored."""
    new_id = derived_id("rescore", appeal_id)
    existing = await ctx.repos.results.get(new_id)
    if existing is not None:
        return existing.item
    cycle = (await queries.get_cycle(ctx, old.cycle_id)).item
    framework = (await queries.get_framework(ctx, cycle.framework_id, cycle.framework_version)).item
    new = await score_one(
        ctx,
        result_id=new_id,
        cycle=cycle,
        framework=framework,
        agreement_id=old.agreement_id,
        actor_id=actor_id,
        supersedes=old,
    )
    audit = AuditNote(
        "result.rescored",
        "result",
        new_id,
        {"supersedes": old.result_id},
        {"score_hundredths": new.score_hundredths, "grade": str(new.grade)},
    )
    try:
        await create(ctx.repos.results, new_id, new, audit)
    except Conflict:
        return (await queries.get_result(ctx, new_id)).item  # the periodic check was first
    return new


async def rescore(ctx: Context, old: EvaluationResult, appeal_id: str, actor_id: str) -> EvaluationResult:
    new = await _rescored_result(ctx, old, appeal_id, actor_id)

    def supersede(loaded: Loaded[EvaluationResult] | None) -> Decision[EvaluationResult] | None:
        if loaded is None:
            raise DomainError("result.not_found", f"no result {old.result_id}")
        current = loaded.item
        if not current.is_current:
            return None
        current.supersede(new, appeal_id, ctx.clock.now(), actor_id)
        audit = AuditNote("result.superseded", "result", current.result_id, "current", {"superseded_by": new.result_id})
        return Decision(current, audit)

    await execute(ctx.repos.results, old.result_id, supersede)
    return new


async def finish_upheld_appeals(ctx: Context) -> int:
    """Re-score upheld appeals whose result is still current: the decision is saved before
    the corrections and the re-score, so a crash in between leaves exactly this state, and
    both are idempotent (corrections marked with the appeal, deterministic re-score id,
    supersession a no-op once done)."""
    finished = 0
    for appeal in await queries.upheld_appeals(ctx):
        result = await ctx.repos.results.get(appeal.result_id)
        if result is None or not result.item.is_current:
            continue
        await apply_corrections(ctx, appeal, result.item)
        await rescore(ctx, result.item, appeal.appeal_id, appeal.decided_by or "system")
        finished += 1
    return finished
