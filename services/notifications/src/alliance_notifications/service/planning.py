"""Use cases of a consumed event: fold registry partners into the directory, schedule and
cancel reminders, plan and record the event's deliveries.

Every decision is the domain's (``RecipientDirectory``, ``schedule_reminders``,
``plan_deliveries``, ``Delivery``); each state change goes through the write path, so a
redelivered event changes nothing (its deliveries' ids are taken already).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from alliance_notifications.domain.delivery import OPEN_STATES, Delivery, DeliveryStatus
from alliance_notifications.domain.digest import DigestEntry
from alliance_notifications.domain.inbox import InboxEntry
from alliance_notifications.domain.preferences import Preferences
from alliance_notifications.domain.recipients import PartnerContact, RecipientDirectory
from alliance_notifications.domain.reminders import Reminder, ReminderStatus, cancellation_scopes, schedule_reminders
from alliance_notifications.domain.routing import Disposition, PlannedDelivery, RoutingRule, plan_deliveries
from alliance_notifications.domain.templates import RenderResult
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.repositories import CollectedEntry, DeliveryRecord
from alliance_notifications.service.worker import attempt_unrecorded, save_when_ended
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import Conflict, DomainError
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded, Repository, pending_events
from alliance_shared.persistence.versioned_store import AuditNote, NewAggregate
from alliance_shared.persistence.write_path import EVENT_RETRY, Decision, create, execute

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Consumed:
    """A consumed event as planning sees it: its id, type and JSON data."""

    event_id: str
    event_type: str
    payload: Mapping[str, Any]


async def handle_event(notifier: Notifier, event_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
    """One consumed event: reminders, then its deliveries. Idempotent per event id."""
    await handle_events(notifier, [Consumed(event_id, event_type, payload)])


async def handle_events(notifier: Notifier, events: Sequence[Consumed]) -> None:
    """A run of consumed events, in order: each one's reminders, then the deliveries of
    all, recorded together (one bulk insert per store for the run). Idempotent per event
    id: a repeat of the run, or of any part of it, writes only what is missing.

    At most ``planning_concurrency`` runs are planned at a time (a bound on concurrent
    writers, next to the consumer's own)."""
    async with notifier.planning:
        now = notifier.clock.now()
        for event in events:
            await track_reminders(notifier, event.event_id, event.event_type, event.payload, now)
        rules = (await notifier.rule_set()).item.rules
        planned = await plan_events(notifier, rules, events, now)
        await record_plans(notifier, [(plans, e.payload) for plans, e in zip(planned, events, strict=True)], now)


async def handle_partner_event(notifier: Notifier, event_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
    """A registry ``partner.*`` event: the partner's contact first, then as any event."""
    await apply_partner_event(notifier, event_id, event_type, payload)
    await handle_event(notifier, event_id, event_type, payload)


async def apply_partner_event(notifier: Notifier, event_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
    """A registry ``partner.*`` event replaces (or deactivates) the partner's contact."""
    partner_id = payload.get("partner_id")
    if not isinstance(partner_id, str):
        return

    def decide(current: Loaded[PartnerContact] | None) -> Decision[PartnerContact] | None:
        directory = RecipientDirectory()
        if current is not None:
            directory.upsert_contact(current.item)
        if not directory.apply_registry_event(event_type, payload) or partner_id not in directory.contacts:
            return None
        audit = AuditNote("contact.applied", "contact", partner_id, after={"event_type": event_type})
        return Decision(directory.contacts[partner_id], audit)

    await execute(notifier.repos.contacts, partner_id, decide, caused_by=event_id, retry=EVENT_RETRY)
    notifier.directory_changed()


async def track_reminders(
    notifier: Notifier, event_id: str, event_type: str, payload: Mapping[str, Any], now: datetime
) -> None:
    """Schedule the reminders an event starts and cancel those it ends."""
    try:
        scheduled = schedule_reminders(event_type, event_id, payload, now)
        scopes = cancellation_scopes(event_type, payload)
    except DomainError as error:
        log.warning("event carries no reminder fields", event_id=event_id, code=error.code, detail=error.detail)
        return
    repo = notifier.repos.reminders
    for reminder in scheduled:
        with contextlib.suppress(Conflict):
            await create(repo, reminder.reminder_id, reminder, None, caused_by=event_id)

    def cancel(current: Loaded[Reminder] | None) -> Decision[Reminder] | None:
        if current is None or current.item.status is not ReminderStatus.SCHEDULED:
            return None
        current.item.cancel(now, f"cancelled by {event_type}")
        return Decision(current.item, None)

    for scope in scopes:
        for found in await repo.find({"scope": scope, "status": ReminderStatus.SCHEDULED.value}):
            await execute(repo, found.item.reminder_id, cancel, caused_by=event_id, retry=EVENT_RETRY)


async def route(
    notifier: Notifier, routing_type: str, event_id: str, payload: Mapping[str, Any], now: datetime
) -> list[PlannedDelivery]:
    """Plan and record every delivery an event (or a fired reminder) calls for, by the
    rule set in force."""
    rules = (await notifier.rule_set()).item.rules
    plans = await plan_event(notifier, rules, routing_type, event_id, payload, now)
    await record_plans(notifier, [(plans, payload)], now)
    return plans


async def plan_event(
    notifier: Notifier,
    rules: Sequence[RoutingRule],
    routing_type: str,
    event_id: str,
    payload: Mapping[str, Any],
    now: datetime,
) -> list[PlannedDelivery]:
    """Every delivery ``rules`` call for, with the recipients' stored preferences; nothing
    is written (``route`` records them, a dry run shows them)."""
    [plans] = await plan_events(notifier, rules, [Consumed(event_id, routing_type, payload)], now)
    return plans


async def plan_events(
    notifier: Notifier, rules: Sequence[RoutingRule], events: Sequence[Consumed], now: datetime
) -> list[list[PlannedDelivery]]:
    """``plan_event`` for each of ``events``, on one directory and with one query for the
    preferences of all their recipients."""
    routed = {rule.event_type for rule in rules}
    if not any(event.event_type in routed for event in events):
        return [[] for _ in events]
    directory = await notifier.directory()

    def plan(event: Consumed, preferences: Mapping[str, Preferences]) -> list[PlannedDelivery]:
        if event.event_type not in routed:
            return []
        return plan_deliveries(event.event_type, event.event_id, event.payload, directory, rules, preferences, now)

    audiences = [p.audience_id for event in events for p in plan(event, {})]
    preferences = await notifier.preferences_of(audiences)
    return [plan(event, preferences) for event in events]


async def record_plans(
    notifier: Notifier, planned: Sequence[tuple[Sequence[PlannedDelivery], Mapping[str, Any]]], now: datetime
) -> None:
    """One document per plan of each (plans, event data) pair, inserted in bulk: digest
    entries, then inbox entries, then the deliveries (an inbox delivery is sent once its
    entry is stored). Plans recorded before (the event was redelivered, or planning
    stopped half-way) write nothing again."""
    digest_entries: list[tuple[str, CollectedEntry]] = []
    inbox_entries: list[tuple[str, InboxEntry]] = []
    records: list[DeliveryRecord] = []
    for plan, payload in ((plan, payload) for plans, payload in planned for plan in plans):
        if plan.disposition is Disposition.DIGEST:
            entry = DigestEntry.from_plan(plan, payload)
            digest_entries.append((entry.entry_id, CollectedEntry(entry=entry)))
            continue
        delivery = Delivery.from_plan(plan, now, render_plan(notifier, plan, payload))
        if plan.channel is Channel.INBOX and delivery.status is DeliveryStatus.PENDING:
            inbox_entries.append((delivery.delivery_id, InboxEntry.of_delivery(delivery, now)))
            delivery.record_success(now)
        records.append(DeliveryRecord(delivery=delivery, payload=dict(payload)))
    await create_all(notifier.repos.digest_entries, digest_entries)
    await create_all(notifier.repos.inbox, inbox_entries)
    first = await first_attempts(notifier, records, now)
    # A first attempt that ended is recorded with its outcome; one still running, as planned.
    running = {delivery_id: planned for delivery_id, (task, planned) in first.items() if not task.done()}
    stored = [running.get(r.delivery.delivery_id, r) for r in records]
    written = await create_all(notifier.repos.deliveries, [(r.delivery.delivery_id, r) for r in stored])
    for record, new in zip(records, written, strict=True):
        delivery_id = record.delivery.delivery_id
        if not new:
            continue  # recorded before: that record stands (a running attempt's outcome is dropped)
        if delivery_id in running:
            # Its outcome becomes version 2 once the attempt ends.
            notifier.detach(asyncio.create_task(save_when_ended(notifier, first[delivery_id][0], record)))
        elif delivery_id in first and record.delivery.status is not DeliveryStatus.PENDING:
            record.delivery.events = []  # saved with version 1
            if record.delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.SCHEDULED):
                await notifier.due.sync(record.delivery)  # retried from the due list
        else:  # an e-mail, or a webhook whose first attempt could not be made (the worker makes it)
            await hand_over(notifier, Loaded(record, 1))
    if any(p.disposition in (Disposition.SEND, Disposition.DELAY) for plans, _ in planned for p in plans):
        notifier.wake.set()


async def first_attempts(
    notifier: Notifier, records: Sequence[DeliveryRecord], now: datetime
) -> dict[str, tuple[asyncio.Task[None], DeliveryRecord]]:
    """The first attempt of every new webhook delivery due now, made before it is written
    and waited for while they keep ending (``wait_while_progressing``): so a delivery sent at once is
    written once, with its outcome. Each maps to its attempt and a copy of the record as
    planned. Deliveries recorded before (a redelivered event) are not attempted: one
    query finds them. A crash before the deliveries are written sends them again after
    the event's redelivery, with the same delivery ids (``X-Alliance-Delivery-Id``)."""
    due = [r for r in records if r.delivery.channel is Channel.WEBHOOK and r.delivery.is_due(now)]
    if not due:
        return {}
    ids = [r.delivery.delivery_id for r in due]
    recorded = {
        found.item.delivery.delivery_id for found in await notifier.repos.deliveries.find({"_id": {"$in": ids}})
    }
    attempts = {
        r.delivery.delivery_id: (
            asyncio.create_task(attempt_unrecorded(notifier, r)),
            r.model_copy(update={"delivery": r.delivery.model_copy(deep=True)}),
        )
        for r in due
        if r.delivery.delivery_id not in recorded
    }
    for task, _ in attempts.values():
        notifier.detach(task)  # cancelled at close, its failure logged
    await wait_while_progressing(
        [task for task, _ in attempts.values()],
        idle_seconds=notifier.settings.webhook_first_attempt_seconds,
        at_most_seconds=notifier.settings.attempt_deadline_seconds,
    )
    return attempts


async def wait_while_progressing(
    tasks: Sequence[asyncio.Task[None]], *, idle_seconds: float, at_most_seconds: float
) -> None:
    """Wait for ``tasks`` while one or another keeps ending: until none ended for
    ``idle_seconds`` (a slow endpoint holds the rest) or ``at_most_seconds`` passed. A
    long queue to a fast endpoint is waited for; a stuck one is not."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + at_most_seconds
    pending = set(tasks)
    while pending:
        timeout = min(idle_seconds, give_up - loop.time())
        if timeout <= 0:
            return
        done, pending = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            return


def render_plan(notifier: Notifier, plan: PlannedDelivery, payload: Mapping[str, Any]) -> RenderResult | None:
    """The message of an e-mail or inbox notice to send; a webhook carries the event data."""
    if plan.disposition not in (Disposition.SEND, Disposition.DELAY) or plan.channel is Channel.WEBHOOK:
        return None
    return notifier.renderer.render(
        plan.template,
        plan.locale,
        payload=payload,
        recipient_name=plan.recipient_name,
        time_zone=plan.time_zone,
        event_id=plan.event_id,
        event_type=plan.event_type,
    )


async def create_all(repo: Repository[M], items: Sequence[tuple[str, M]]) -> list[bool]:
    """Version 1 of each ``(aggregate id, item)`` in one bulk insert; True where this call
    wrote it, False where it existed."""
    if not items:
        return []
    return await repo.store.create_many(
        [NewAggregate(aggregate_id, repo.state_of(item), pending_events(item)) for aggregate_id, item in items]
    )


async def create_delivery(notifier: Notifier, record: DeliveryRecord, audit: AuditNote | None = None) -> int:
    """Version 1 of one delivery (Conflict if it exists: planned before), handed to the worker."""
    outcome = await create(notifier.repos.deliveries, record.delivery.delivery_id, record, audit)
    await hand_over(notifier, Loaded(record, outcome.version))
    return outcome.version


async def hand_over(notifier: Notifier, created: Loaded[DeliveryRecord]) -> None:
    """A delivery just written goes to this process's worker if it is due now (handed as
    written: the worker reads nothing back), to the due list if it waits for quiet hours."""
    delivery = created.item.delivery
    delivery.events = []  # saved with version 1
    if delivery.status not in OPEN_STATES or delivery.next_attempt_at is None:
        return  # final from the start (inbox entry, skipped, unroutable, unrenderable)
    if delivery.next_attempt_at <= notifier.clock.now():
        # Attempted at once by this process; should it stop first, the due list is
        # rebuilt from the log at the next start.
        notifier.planned_now[delivery.delivery_id] = created
        notifier.wake.set()
    else:
        await notifier.due.sync(delivery)  # held for quiet hours
