"""What follows a result: rectification orders (respond, return, close, overdue) and appeals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from alliance_evaluation.adapters.repositories import Repositories
from alliance_evaluation.domain.appeal import Appeal, AppealPolicy, AppealStatus
from alliance_evaluation.domain.rectification import OrderStatus, RectificationOrder
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service.cycles import score_one
from alliance_evaluation.service.frameworks import get_framework
from alliance_evaluation.service.records import derived_id
from alliance_evaluation.settings import Settings
from alliance_shared.contract.evaluation import AppealDecision
from alliance_shared.errors import DomainError
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import Change, apply_change

log = get_logger(__name__)


async def get_result(repos: Repositories, result_id: str) -> Loaded[EvaluationResult]:
    return await repos.results.require(result_id, "result.not_found", "result")


async def results_of_agreement(repos: Repositories, agreement_id: str) -> list[EvaluationResult]:
    results = [r.item for r in await repos.results.find({"agreement_id": agreement_id})]
    return sorted(results, key=lambda r: r.completed_at)


# --- rectification ---------------------------------------------------------------------


async def get_order(repos: Repositories, order_id: str) -> Loaded[RectificationOrder]:
    return await repos.orders.require(order_id, "rectification.not_found", "rectification order")


async def _save_order(
    repos: Repositories, order: RectificationOrder, expected: int, action: str, before: str
) -> Loaded[RectificationOrder]:
    version = await repos.orders.save(
        order.order_id,
        expected,
        order,
        AuditNote(f"rectification.{action}", "rectification", order.order_id, before, str(order.status)),
    )
    assert version is not None
    order.events.clear()
    return Loaded(order, version)


async def respond(
    repos: Repositories, order: RectificationOrder, expected: int, evidence_refs: Sequence[str], actor_id: str
) -> Loaded[RectificationOrder]:
    before = str(order.status)
    order.respond(evidence_refs, datetime.now(UTC), actor_id)
    return await _save_order(repos, order, expected, "responded", before)


async def return_order(
    repos: Repositories, order: RectificationOrder, expected: int, reason: str, actor_id: str
) -> Loaded[RectificationOrder]:
    before = str(order.status)
    order.return_to_party(reason, datetime.now(UTC), actor_id)
    return await _save_order(repos, order, expected, "returned", before)


async def close_order(
    repos: Repositories, order: RectificationOrder, expected: int, reason: str, actor_id: str
) -> Loaded[RectificationOrder]:
    before = str(order.status)
    order.close(reason, datetime.now(UTC), actor_id)
    return await _save_order(repos, order, expected, "closed", before)


async def mark_overdue(repos: Repositories, now: datetime) -> int:
    """One pass of the periodic check: open orders past their deadline become overdue.

    The escalation event is emitted once per order (the domain's ``escalated_at``), and
    concurrent sweepers (replicas) cannot both write it: the second one's decision on the
    new version finds nothing to do.
    """
    escalated = 0
    for loaded in await repos.orders.find({"status": OrderStatus.OPEN.value}):
        if loaded.item.due_at > now:
            continue

        def decide(snapshot: Snapshot | None) -> Change | None:
            if snapshot is None:
                return None
            order = repos.orders.from_snapshot(snapshot).item
            before = str(order.status)
            order.mark_overdue_if_due(now)
            if str(order.status) == before:
                return None
            return Change(
                repos.orders.state_of(order),
                list(order.events),
                AuditNote("rectification.overdue", "rectification", order.order_id, before, str(order.status)),
            )

        if await apply_change(repos.orders.store, loaded.item.order_id, decide) is not None:
            escalated += 1
    return escalated


async def housekeeping_loop(repos: Repositories, settings: Settings) -> None:
    """The periodic checks, run as a task of the service's lifespan: overdue rectification
    orders, and upheld appeals whose re-score a crash interrupted."""
    while True:
        try:
            marked = await mark_overdue(repos, datetime.now(UTC))
            if marked:
                log.info("rectification orders marked overdue", count=marked)
            finished = await finish_upheld_appeals(repos, settings)
            if finished:
                log.info("interrupted appeal re-scores finished", count=finished)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("periodic check failed; trying again next round", exc_info=True)
        await asyncio.sleep(settings.overdue_check_seconds)


# --- appeals ---------------------------------------------------------------------------


def policy_of(settings: Settings) -> AppealPolicy:
    return AppealPolicy(window_working_days=settings.appeal_window_working_days, holidays=settings.appeal_holidays)


async def lodge_appeal(
    repos: Repositories,
    settings: Settings,
    result: EvaluationResult,
    appellant_party_id: str,
    grounds: str,
    actor_id: str,
) -> Loaded[Appeal]:
    appeal = Appeal.lodge(
        appeal_id=str(uuid.uuid4()),
        result=result,
        appellant_party_id=appellant_party_id,
        grounds=grounds,
        now=datetime.now(UTC),
        actor_id=actor_id,
        policy=policy_of(settings),
    )
    await repos.appeals.save(
        appeal.appeal_id, 0, appeal, AuditNote("appeal.lodged", "appeal", appeal.appeal_id, None, {"grounds": grounds})
    )
    appeal.events.clear()
    return Loaded(appeal, 1)


async def get_appeal(repos: Repositories, appeal_id: str) -> Loaded[Appeal]:
    return await repos.appeals.require(appeal_id, "appeal.not_found", "appeal")


async def decide_appeal(
    repos: Repositories,
    settings: Settings,
    appeal_id: str,
    expected: int,
    decision: AppealDecision,
    reason: str,
    decider_id: str,
) -> tuple[Loaded[Appeal], EvaluationResult | None]:
    """Record the decision; an upheld appeal re-scores the agreement and supersedes the result.

    The decision is written first (If-Match); the re-score has a deterministic id and the
    supersession is a no-op once done, so both steps can be repeated safely.
    """
    appeal = (await get_appeal(repos, appeal_id)).item
    result = (await get_result(repos, appeal.result_id)).item
    appeal.decide(decision, reason, result, datetime.now(UTC), decider_id)
    version = await repos.appeals.save(
        appeal_id, expected, appeal, AuditNote("appeal.decided", "appeal", appeal_id, "lodged", str(appeal.status))
    )
    assert version is not None
    appeal.events.clear()
    new_result = None
    if decision is AppealDecision.UPHELD:
        new_result = await rescore(repos, settings, result, appeal_id, decider_id)
    return Loaded(appeal, version), new_result


async def rescore(
    repos: Repositories, settings: Settings, old: EvaluationResult, appeal_id: str, actor_id: str
) -> EvaluationResult:
    cycle = (await repos.cycles.require(old.cycle_id, "cycle.not_found", "cycle")).item
    framework = (await get_framework(repos, cycle.framework_id, cycle.framework_version)).item
    new_id = derived_id("rescore", appeal_id)
    existing = await repos.results.get(new_id)
    if existing is not None:
        new = existing.item
    else:
        new = await score_one(
            repos,
            settings,
            result_id=new_id,
            cycle=cycle,
            framework=framework,
            agreement_id=old.agreement_id,
            actor_id=actor_id,
            supersedes=old,
        )
        await repos.results.save(
            new_id,
            0,
            new,
            AuditNote(
                "result.rescored",
                "result",
                new_id,
                {"supersedes": old.result_id},
                {"score_hundredths": new.score_hundredths, "grade": str(new.grade)},
            ),
        )

    def supersede(snapshot: Snapshot | None) -> Change | None:
        if snapshot is None:
            raise DomainError("result.not_found", f"no result {old.result_id}")
        current = repos.results.from_snapshot(snapshot).item
        if not current.is_current:
            return None
        current.supersede(new, appeal_id, datetime.now(UTC), actor_id)
        return Change(
            repos.results.state_of(current),
            list(current.events),
            AuditNote("result.superseded", "result", current.result_id, "current", {"superseded_by": new.result_id}),
        )

    await apply_change(repos.results.store, old.result_id, supersede)
    return new


async def finish_upheld_appeals(repos: Repositories, settings: Settings) -> int:
    """Re-score upheld appeals whose result is still current: the decision is saved before
    the re-score, so a crash in between leaves exactly this state, and ``rescore`` is
    idempotent (deterministic id, supersession a no-op once done)."""
    finished = 0
    for loaded in await repos.appeals.find({"status": AppealStatus.UPHELD.value}):
        appeal = loaded.item
        result = await repos.results.get(appeal.result_id)
        if result is None or not result.item.is_current:
            continue
        await rescore(repos, settings, result.item, appeal.appeal_id, appeal.decided_by or "system")
        finished += 1
    return finished
