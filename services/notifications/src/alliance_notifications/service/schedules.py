"""Use cases run on a schedule: fire due reminders, send the daily digests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.digest import build_daily_digests, plan_digest_delivery, render_digest
from alliance_notifications.domain.recipients import zone
from alliance_notifications.domain.reminders import Reminder, ReminderStatus
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.planning import create_delivery, route
from alliance_notifications.service.repositories import CollectedEntry, DeliveryRecord
from alliance_shared.errors import Conflict
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.write_path import Decision, execute

log = get_logger(__name__)


async def fire_due_reminders(notifier: Notifier) -> int:
    """Route each due reminder, then mark it fired. Routing first: a crash in between
    re-routes on the next pass, which plans nothing twice (unique delivery ids)."""
    now = notifier.clock.now()
    repo = notifier.repos.reminders

    def fire(current: Loaded[Reminder] | None) -> Decision[Reminder] | None:
        if current is None or not current.item.is_due(now):
            return None
        current.item.fire(now)
        return Decision(current.item, None)

    fired = 0
    due = {"status": ReminderStatus.SCHEDULED.value, "fire_at": {"$lte": now}}
    for found in await repo.find(due, sort=[("fire_at", 1)]):  # the oldest first, as indexed
        reminder = found.item
        if not reminder.is_due(now):
            continue
        await route(notifier, reminder.routing_type, reminder.reminder_id, reminder.payload, now)
        if (await execute(repo, reminder.reminder_id, fire)).written:
            fired += 1
    return fired


async def send_digests(notifier: Notifier) -> int:
    """Batch pending digest entries of recipients whose local digest hour has come."""
    now = notifier.clock.now()
    entries = [
        found.item.entry
        for found in await notifier.repos.digest_entries.find({"digest_id": None})
        if now.astimezone(zone(found.item.entry.time_zone)).hour >= notifier.settings.digest_hour
    ]
    sent = 0
    for digest in build_daily_digests(entries, now):
        preferences = await notifier.preferences_of([digest.recipient_id])
        plan = plan_digest_delivery(digest, preferences[digest.recipient_id], now)
        delivery = Delivery.from_plan(plan, now, render_digest(digest, notifier.renderer))
        entry_ids = [e.entry_id for e in digest.entries]
        try:
            await create_delivery(notifier, DeliveryRecord(delivery=delivery, payload={"entry_ids": entry_ids}))
            sent += 1
        except Conflict:
            # Today's digest went out already (maybe just before a crash): settle what it held.
            existing = await notifier.repos.deliveries.get(delivery.delivery_id)
            entry_ids = list(existing.item.payload.get("entry_ids", [])) if existing else []
        for entry_id in entry_ids:
            await mark_digested(notifier, entry_id, digest.digest_id)
    if sent:
        notifier.wake.set()
    return sent


async def mark_digested(notifier: Notifier, entry_id: str, digest_id: str) -> None:
    def decide(current: Loaded[CollectedEntry] | None) -> Decision[CollectedEntry] | None:
        if current is None or current.item.digest_id is not None:
            return None
        return Decision(CollectedEntry(entry=current.item.entry, digest_id=digest_id), None)

    await execute(notifier.repos.digest_entries, entry_id, decide)


async def run_every(seconds: float, step: Callable[[], Awaitable[object]], name: str) -> None:
    """Run ``step`` every ``seconds`` until cancelled; a failed run is logged and retried next time."""
    while True:
        try:
            await step()
        except Exception:
            log.warning("periodic step failed; trying again", step=name, exc_info=True)
        await asyncio.sleep(seconds)
