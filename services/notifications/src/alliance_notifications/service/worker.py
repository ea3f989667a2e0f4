"""The delivery worker: attempt due deliveries, each independently, and record the outcome.

A webhook's first attempt is made by planning, before the delivery is written
(``attempt_unrecorded``); the other deliveries this process planned are started at once,
as planning wrote them; every ``worker_poll_seconds`` the due list is read for the rest (retries whose time came,
e-mails released after quiet hours, other replicas' work). E-mail and webhooks have
separate pools of attempts (``email_concurrency``, ``webhook_concurrency``): slow
receivers of one channel never hold up the other. Webhook attempts are also bounded per
endpoint (``webhook_concurrency_per_endpoint``), taken before a shared slot, so one slow
or dead receiver holds a few slots at most and never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from alliance_notifications.domain.circuit_breaker import CircuitBreaker
from alliance_notifications.domain.delivery import OPEN_STATES, Delivery, DeliveryStatus
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.ports import SendOutcome
from alliance_notifications.service.repositories import DeliveryRecord
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import PreconditionFailed
from alliance_shared.logging import get_logger
from alliance_shared.persistence.mongo import TRANSIENT_DB_ERRORS
from alliance_shared.persistence.repository import Loaded

log = get_logger(__name__)


class DeliveryWorker:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._email_slots = asyncio.Semaphore(notifier.settings.email_concurrency)

    async def run(self) -> None:
        """Attempt due deliveries until cancelled."""
        notifier = self.notifier
        loop = asyncio.get_running_loop()
        next_scan = 0.0
        try:
            await rebuild_due_list(notifier)
            while True:
                notifier.wake.clear()
                self.start_planned()
                if loop.time() >= next_scan:
                    try:
                        await self.dispatch_due()
                    except Exception:
                        log.warning("delivery worker pass failed; trying again", exc_info=True)
                    next_scan = loop.time() + notifier.settings.worker_poll_seconds
                if not notifier.planned_now:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(notifier.wake.wait(), timeout=max(0.01, next_scan - loop.time()))
        finally:
            # Stopping: attempts in hand are abandoned before the database closes; their
            # claims lapse and a later run attempts them again.
            await self.cancel_attempts()

    def start_planned(self) -> int:
        """Start an attempt for each delivery this process has just planned; returns how many."""
        planned, self.notifier.planned_now = self.notifier.planned_now, {}
        return sum(self._start(delivery_id, claim=False, loaded=loaded) for delivery_id, loaded in planned.items())

    async def dispatch_due(self) -> int:
        """Start an attempt for each due delivery not already in hand; returns how many started."""
        started = 0
        for delivery_id in await self.notifier.due.due_ids(self.notifier.clock.now()):
            started += self._start(delivery_id)
        return started

    async def cancel_attempts(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _start(self, delivery_id: str, *, claim: bool = True, loaded: Loaded[DeliveryRecord] | None = None) -> int:
        if delivery_id in self._in_flight:
            return 0
        self._in_flight.add(delivery_id)
        task = asyncio.create_task(self._attempt_guarded(delivery_id, claim, loaded))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 1

    async def _attempt_guarded(self, delivery_id: str, claim: bool, loaded: Loaded[DeliveryRecord] | None) -> None:
        try:
            if loaded is None:
                loaded = await self.notifier.repos.deliveries.get(delivery_id)
                if loaded is None:
                    return
            # Read before waiting for a slot: if another worker writes it meanwhile, the
            # claim (or the outcome) based on this version is refused, never applied twice.
            delivery = loaded.item.delivery
            slots = (
                self.notifier.webhook_slots.hold(delivery.endpoint_id or "")
                if delivery.channel is Channel.WEBHOOK
                else self._email_slots
            )
            async with slots:
                await attempt_delivery(self.notifier, delivery_id, claim=claim, loaded=loaded)
        except Exception:
            log.warning("delivery attempt failed unexpectedly; it stays due", delivery_id=delivery_id, exc_info=True)
        finally:
            self._in_flight.discard(delivery_id)


async def rebuild_due_list(notifier: Notifier) -> None:
    """The due hints of every open delivery in the log (at start)."""
    open_states = [s.value for s in OPEN_STATES]
    for found in await notifier.repos.deliveries.find({"status": {"$in": open_states}}):
        await notifier.due.sync(found.item.delivery)


async def attempt_delivery(
    notifier: Notifier, delivery_id: str, *, claim: bool = True, loaded: Loaded[DeliveryRecord] | None = None
) -> None:
    """One attempt of one delivery: claim it (a version only one worker can write), send,
    record the outcome (one more version). ``loaded``: the delivery as the caller has it
    (read again when not given).

    A delivery this process has just planned is not claimed: no other worker knows of
    it (it is on no due list) unless another replica rebuilds its list from the log at
    that very moment — then a receiver may see the same delivery id twice, which the
    delivery id header lets it drop."""
    if loaded is None:
        loaded = await notifier.repos.deliveries.get(delivery_id)
        if loaded is None:
            return
    record = loaded.item
    delivery = record.delivery
    now = notifier.clock.now()
    if not delivery.is_due(now):
        await notifier.due.sync(delivery)  # a stale entry of the due list
        return
    had_hint = delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.SCHEDULED)
    target = await aim(notifier, delivery, now)
    if target is None:
        await _save(notifier, record, loaded.version, had_hint=had_hint)
        return
    # Claim: a version with the next attempt moved past the lease; only one writer wins it.
    claimed = loaded.version
    if claim:
        delivery.next_attempt_at = now + timedelta(seconds=notifier.settings.claim_seconds)
        saved = await _save(notifier, record, loaded.version, had_hint=had_hint, claim=True)
        if saved is None:
            return
        claimed = saved
    await send_once(notifier, record, target)
    await _save(notifier, record, claimed, had_hint=had_hint)


async def attempt_unrecorded(notifier: Notifier, record: DeliveryRecord) -> None:
    """The first attempt of a webhook delivery planning has not written yet, within its
    endpoint's slots; the outcome is applied to ``record`` and nothing is written
    (planning records the delivery with it, or, when it takes too long, records the
    delivery pending and the outcome as its next version)."""
    target = await aim(notifier, record.delivery, notifier.clock.now())
    if target is None:
        return
    async with notifier.webhook_slots.hold(record.delivery.endpoint_id or ""):
        await send_once(notifier, record, target)


#: How often the outcome of a first attempt that outlasted planning is tried to be saved.
OUTCOME_SAVE_TRIES = 6


async def save_when_ended(notifier: Notifier, attempt: asyncio.Task[None], record: DeliveryRecord) -> None:
    """The outcome of a first attempt that outlasted planning, as version 2 of the
    delivery planning recorded pending; at most ``planning_concurrency`` such saves run at
    once. Should the database stay unreachable, the pending version stands and the due
    list gets the delivery, so it is attempted again (the same delivery id)."""
    await attempt
    async with notifier.outcome_saves:
        for tries in range(1, OUTCOME_SAVE_TRIES + 1):
            try:
                await _save(notifier, record, 1, had_hint=False)
                return
            except TRANSIENT_DB_ERRORS:
                if tries == OUTCOME_SAVE_TRIES:
                    break
                await asyncio.sleep(min(10.0, 0.2 * 2**tries))
    log.warning("first attempt's outcome not saved; attempted again", delivery_id=record.delivery.delivery_id)
    retry = record.delivery.model_copy(
        update={"status": DeliveryStatus.PENDING, "next_attempt_at": notifier.clock.now()}
    )
    await notifier.due.sync(retry)


@dataclass(frozen=True)
class Target:
    """Where an attempt goes: a webhook's endpoint and its circuit breaker (none for e-mail)."""

    endpoint: WebhookEndpoint | None = None
    breaker: CircuitBreaker | None = None


async def aim(notifier: Notifier, delivery: Delivery, now: datetime) -> Target | None:
    """The attempt's target; None when nothing may be sent now, the delivery decided
    already: dead (its endpoint was disabled or removed) or postponed (the endpoint's
    circuit breaker is open)."""
    if delivery.channel is not Channel.WEBHOOK:
        return Target()
    endpoint = (await notifier.directory()).endpoints.get(delivery.endpoint_id or "")
    if endpoint is None or not endpoint.receives_notices:
        delivery.record_failure(
            now, "webhook.endpoint_disabled", "the endpoint was disabled or removed",
            retryable=False, policy=notifier.policy, rng=notifier.rng,
        )  # fmt: skip
        return None
    breaker = notifier.breaker(endpoint.endpoint_id)
    if not breaker.allow_request(now):
        delivery.postpone(breaker.retry_at(now), now)
        return None
    return Target(endpoint, breaker)


async def send_once(notifier: Notifier, record: DeliveryRecord, target: Target) -> None:
    """Send, and apply the outcome to the delivery in hand (and to the endpoint's breaker)."""
    delivery, breaker = record.delivery, target.breaker
    if delivery.channel is Channel.EMAIL:
        outcome = await notifier.email.send(delivery)
    elif target.endpoint is not None:
        outcome = await notifier.webhooks.send(delivery, target.endpoint, record.payload, notifier.clock.now())
    else:
        outcome = SendOutcome.failed("delivery.no_channel", "inbox entries are stored when planned", retryable=False)
    done = notifier.clock.now()
    if outcome.delivered:
        delivery.record_success(done)
        if breaker is not None:
            breaker.record_success()
    else:
        delivery.record_failure(
            done, outcome.error_code, outcome.error_detail,
            retryable=outcome.retryable, policy=notifier.policy, rng=notifier.rng,
        )  # fmt: skip
        if breaker is not None:
            breaker.record_failure(done)


async def _save(
    notifier: Notifier, record: DeliveryRecord, expected: int, *, had_hint: bool, claim: bool = False
) -> int | None:
    """Write the delivery as decided on version ``expected``; None if another worker wrote
    a version meanwhile (it has the delivery now)."""
    delivery = record.delivery
    try:
        # Straight to the store: the version decided on is in hand, so nothing is read first.
        version = await notifier.repos.deliveries.save(delivery.delivery_id, expected, record, None)
    except PreconditionFailed:
        log.info("delivery changed meanwhile; another worker has it", delivery_id=delivery.delivery_id)
        return None
    delivery.events = []
    # The due list holds deliveries waiting for a later attempt (retry, quiet hours,
    # breaker). A claim needs no entry (a crash lets the list be rebuilt at start),
    # and a delivery that never waited has none to remove.
    waiting = delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.SCHEDULED)
    if not claim and (waiting or had_hint):
        await notifier.due.sync(delivery)
    return version
