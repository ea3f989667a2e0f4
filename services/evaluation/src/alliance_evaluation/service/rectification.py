"""Rectification orders after a result: a supervisor may also order one by hand; the party
responds, a supervisor returns or closes, and the periodic check marks unanswered orders
overdue and, still unanswered later, escalates them (each once)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from alliance_evaluation.domain.rectification import OrderStatus, RectificationOrder, chosen_items
from alliance_evaluation.service import queries
from alliance_evaluation.service.context import Context
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, create, update

NOT_FOUND = ("rectification.not_found", "rectification order")


async def _change_order(
    ctx: Context, order_id: str, expected: int, action: str, change: Callable[[RectificationOrder], None]
) -> Outcome[RectificationOrder]:
    def decide(order: RectificationOrder) -> Decision[RectificationOrder]:
        before = str(order.status)
        change(order)
        after = str(order.status)
        return Decision(order, AuditNote(f"rectification.{action}", "rectification", order_id, before, after))

    return await update(ctx.repos.orders, order_id, decide, not_found=NOT_FOUND, expected=expected)


async def order_by_hand(
    ctx: Context,
    result_id: str,
    requirements: Sequence[tuple[str, str]],
    responsible_party_id: str,
    due_at: datetime,
    actor_id: str,
) -> Outcome[RectificationOrder]:
    """A supervisor orders rectification of chosen items, by a chosen party and deadline."""
    result = (await queries.get_result(ctx, result_id)).item
    order = RectificationOrder.order(
        order_id=str(uuid.uuid4()),
        result=result,
        responsible_party_id=responsible_party_id,
        due_at=due_at,
        now=ctx.clock.now(),
        actor_id=actor_id,
        items=chosen_items(result, requirements),
    )
    audit = AuditNote("rectification.ordered_by_hand", "rectification", order.order_id, None, {"result_id": result_id})
    return await create(ctx.repos.orders, order.order_id, order, audit)


async def respond_to_order(
    ctx: Context, order_id: str, expected: int, evidence_refs: Sequence[str], actor_id: str
) -> Outcome[RectificationOrder]:
    return await _change_order(
        ctx, order_id, expected, "responded", lambda order: order.respond(evidence_refs, ctx.clock.now(), actor_id)
    )


async def return_order(
    ctx: Context, order_id: str, expected: int, reason: str, actor_id: str
) -> Outcome[RectificationOrder]:
    return await _change_order(
        ctx, order_id, expected, "returned", lambda order: order.return_to_party(reason, ctx.clock.now(), actor_id)
    )


async def close_order(
    ctx: Context, order_id: str, expected: int, reason: str, actor_id: str
) -> Outcome[RectificationOrder]:
    return await _change_order(
        ctx, order_id, expected, "closed", lambda order: order.close(reason, ctx.clock.now(), actor_id)
    )


async def check_deadlines(ctx: Context) -> int:
    """One pass of the scheduled check (the injected clock): open orders past their
    deadline become overdue, and overdue orders still unanswered the escalation period
    past it are escalated. Returns the orders changed.

    Each event is emitted once per order (the domain's ``overdue_at`` and
    ``escalated_at``), and concurrent passes (replicas) cannot both write it: the second
    one's decision on the new version finds nothing to do.
    """
    now = ctx.clock.now()
    escalate_after = timedelta(seconds=ctx.settings.rectification_escalate_after_seconds)
    changed = 0
    for status in (OrderStatus.OPEN, OrderStatus.OVERDUE):
        for order in await queries.list_orders(ctx, status=status):
            if order.due_at > now or (order.status is OrderStatus.OVERDUE and order.escalated_at is not None):
                continue

            def decide(current: RectificationOrder) -> Decision[RectificationOrder] | None:
                before = str(current.status)
                overdue = current.mark_overdue_if_due(now)
                escalated = current.escalate_if_due(now, escalate_after)
                if not (overdue or escalated or str(current.status) != before):
                    return None
                action = "rectification.escalated" if escalated else "rectification.overdue"
                audit = AuditNote(action, "rectification", current.order_id, before, str(current.status))
                return Decision(current, audit)

            outcome = await update(ctx.repos.orders, order.order_id, decide, not_found=NOT_FOUND)
            if outcome.written:
                changed += 1
    return changed
