"""Use cases of the notifications service: fold registry partners into the directory,
plan an event's deliveries, attempt due deliveries, fire reminders, send digests.

Every decision is the domain's (``plan_deliveries``, ``Delivery``, ``Reminder``,
``CircuitBreaker``...); this module loads, decides and saves through the versioned
stores, so each state change is one insert and a redelivered event changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from alliance_notifications.adapters.channels import EmailSender, Outcome, WebhookSender
from alliance_notifications.adapters.repositories import (
    PAYLOAD,
    RESEND_OF,
    Stores,
    delivery_of,
    delivery_state,
    model_state,
    reminder_of,
)
from alliance_notifications.domain.circuit_breaker import CircuitBreaker
from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.delivery import OPEN_STATES, Delivery, DeliveryStatus
from alliance_notifications.domain.digest import (
    DigestEntry,
    build_daily_digests,
    plan_digest_delivery,
    render_digest,
)
from alliance_notifications.domain.recipients import PartnerContact, RecipientDirectory, zone
from alliance_notifications.domain.reminders import cancellation_scopes, schedule_reminders
from alliance_notifications.domain.routing import Disposition, PlannedDelivery, RoutingRule, plan_deliveries
from alliance_notifications.domain.templates import RenderResult, TemplateRenderer
from alliance_notifications.settings import Settings
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import Conflict, DomainError, PreconditionFailed
from alliance_shared.logging import get_logger
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import Change, apply_change

log = get_logger(__name__)

PARTNER_EVENTS = frozenset(
    f"org.coopalliance.registry.partner.{verb}.v1" for verb in ("registered", "updated", "deactivated")
)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Notifier:
    """The service's use cases around one set of stores; shared by consumers, loops and the API."""

    def __init__(
        self,
        stores: Stores,
        settings: Settings,
        *,
        renderer: TemplateRenderer | None = None,
        rules: Sequence[RoutingRule] = DEFAULT_RULES,
        clock: Clock = utcnow,
    ) -> None:
        self.stores = stores
        self.settings = settings
        self.renderer = renderer or TemplateRenderer()
        self.rules = rules
        self.clock = clock
        self.policy = settings.retry_policy
        self.email = EmailSender(settings)
        self._webhooks: WebhookSender | None = None
        self.rng = random.SystemRandom()
        self.breakers: dict[str, CircuitBreaker] = {}
        self.wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._noted: list[str] = []
        self._directory: tuple[float, RecipientDirectory] | None = None
        self._planning: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None

    @property
    def webhooks(self) -> WebhookSender:
        # httpx binds its pool to the running loop: made on first use, inside the loop.
        if self._webhooks is None:
            self._webhooks = WebhookSender(self.settings)
        return self._webhooks

    async def _cancel_attempts(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        await self._cancel_attempts()
        if self._webhooks is not None:
            await self._webhooks.close()
            self._webhooks = None

    async def directory(self) -> RecipientDirectory:
        """The recipient directory, read again at most every ``directory_cache_seconds``
        (and at once after this process changed it). Routing reads it for every event;
        another replica's change shows within the cache time."""
        now = asyncio.get_running_loop().time()
        cached = self._directory
        if cached is not None and now - cached[0] < self.settings.directory_cache_seconds:
            return cached[1]
        directory = await self.stores.directory()
        self._directory = (now, directory)
        return directory

    def directory_changed(self) -> None:
        self._directory = None

    # --- events in ---------------------------------------------------------------------

    async def handle_event(self, event_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
        """One consumed event: directory, reminders, then its deliveries. Idempotent per event id."""
        if self._planning is None:
            self._planning = asyncio.Semaphore(self.settings.planning_concurrency)
        async with self._planning:
            await self._handle_event(event_id, event_type, payload)

    async def _handle_event(self, event_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
        now = self.clock()
        if event_type in PARTNER_EVENTS:
            await self.apply_partner_event(event_id, event_type, payload)
        await self.track_reminders(event_id, event_type, payload, now)
        await self.route(event_type, event_id, payload, now)

    async def apply_partner_event(self, event_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
        partner_id = payload.get("partner_id")
        if not isinstance(partner_id, str):
            return

        def decide(current: Snapshot | None) -> Change | None:
            directory = RecipientDirectory()
            if current is not None:
                directory.upsert_contact(PartnerContact.model_validate(current.state))
            if not directory.apply_registry_event(event_type, payload) or partner_id not in directory.contacts:
                return None
            contact = directory.contacts[partner_id]
            return Change(
                state=contact.model_dump(mode="python"),
                audit=AuditNote("contact.applied", "contact", partner_id, after={"event_type": event_type}),
            )

        await apply_change(self.stores.contacts, partner_id, decide, caused_by=event_id)
        self.directory_changed()

    async def track_reminders(self, event_id: str, event_type: str, payload: Mapping[str, Any], now: datetime) -> None:
        try:
            scheduled = schedule_reminders(event_type, event_id, payload, now)
            scopes = cancellation_scopes(event_type, payload)
        except DomainError as error:
            log.warning("event carries no reminder fields", event_id=event_id, code=error.code, detail=error.detail)
            return
        for reminder in scheduled:
            with contextlib.suppress(Conflict):
                await self.stores.reminders.create(reminder.reminder_id, model_state(reminder), caused_by=event_id)
        for scope in scopes:
            for snap in await self.stores.reminders.find({"scope": scope, "status": "scheduled"}):

                def cancel(current: Snapshot | None) -> Change | None:
                    if current is None:
                        return None
                    reminder = reminder_of(current)
                    if reminder.status.value != "scheduled":
                        return None
                    reminder.cancel(now, f"cancelled by {event_type}")
                    return Change(model_state(reminder))

                await apply_change(self.stores.reminders, snap.aggregate_id, cancel, caused_by=event_id)

    async def route(
        self, routing_type: str, event_id: str, payload: Mapping[str, Any], now: datetime
    ) -> list[PlannedDelivery]:
        """Plan and record every delivery an event (or a fired reminder) calls for."""
        if not any(rule.event_type == routing_type for rule in self.rules):
            return []
        directory = await self.directory()
        plans = plan_deliveries(routing_type, event_id, payload, directory, self.rules, {}, now)
        audiences = {p.audience_id for p in plans}
        stored = await self.stores.preferences_of(sorted(audiences))
        preferences = {a: stored.get(a) or self.settings.default_preferences(a) for a in audiences}
        plans = plan_deliveries(routing_type, event_id, payload, directory, self.rules, preferences, now)
        for plan in plans:
            await self.record_plan(plan, payload, now)
        if any(p.disposition in (Disposition.SEND, Disposition.DELAY) for p in plans):
            self.wake.set()
        return plans

    def render(self, plan: PlannedDelivery, payload: Mapping[str, Any]) -> RenderResult:
        return self.renderer.render(
            plan.template,
            plan.locale,
            payload=payload,
            recipient_name=plan.recipient_name,
            time_zone=plan.time_zone,
            event_id=plan.event_id,
            event_type=plan.event_type,
        )

    async def record_plan(self, plan: PlannedDelivery, payload: Mapping[str, Any], now: datetime) -> None:
        if plan.disposition is Disposition.DIGEST:
            entry = DigestEntry.from_plan(plan, payload)
            with contextlib.suppress(Conflict):
                await self.stores.digest_entries.create(
                    entry.entry_id, {**entry.model_dump(mode="python"), "digest_id": None}
                )
            return
        sendable = plan.disposition in (Disposition.SEND, Disposition.DELAY)
        rendered = self.render(plan, payload) if sendable and plan.channel is not Channel.WEBHOOK else None
        delivery = Delivery.from_plan(plan, now, rendered)
        if plan.channel is Channel.INBOX and delivery.status is DeliveryStatus.PENDING:
            await self._store_inbox_entry(delivery, now)
            delivery.record_success(now)
        with contextlib.suppress(Conflict):  # planned before: the event was redelivered
            await self.create_delivery(delivery, payload)

    async def _store_inbox_entry(self, delivery: Delivery, now: datetime) -> None:
        entry = {
            "inbox_id": delivery.delivery_id,
            "recipient_id": delivery.audience_id,
            "partner_id": delivery.partner_id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "category": delivery.category.value,
            "subject": delivery.subject,
            "body": delivery.body,
            "locale": delivery.locale.value,
            "created_at": now,
            "read_at": None,
        }
        with contextlib.suppress(Conflict):
            await self.stores.inbox.create(delivery.delivery_id, entry)

    # --- the delivery worker -----------------------------------------------------------

    async def create_delivery(
        self,
        delivery: Delivery,
        payload: Mapping[str, Any],
        *,
        resend_of: str | None = None,
        audit: AuditNote | None = None,
    ) -> None:
        """Version 1 of a delivery (Conflict if it exists: planned before); noted for the worker."""
        await self.stores.deliveries.create(
            delivery.delivery_id, delivery_state(delivery, payload, resend_of), delivery.events, audit
        )
        delivery.events = []
        if delivery.status not in OPEN_STATES or delivery.next_attempt_at is None:
            return  # final from the start (inbox entry, skipped, unroutable, unrenderable)
        if delivery.next_attempt_at <= self.clock():
            # Attempted at once by this process; should it stop first, the due list is
            # rebuilt from the log at the next start.
            self._noted.append(delivery.delivery_id)
            self.wake.set()
        else:
            await self.stores.sync_due(delivery)  # held for quiet hours

    async def run_worker(self) -> None:
        """Attempt due deliveries until cancelled. Deliveries this process planned are
        started at once; every ``worker_poll_seconds`` the due list is scanned for the rest
        (retries whose time came, e-mails released after quiet hours, other replicas' work)."""
        self._slots = asyncio.Semaphore(self.settings.worker_concurrency)
        loop = asyncio.get_running_loop()
        next_scan = 0.0
        try:
            await self.stores.rebuild_due()
            while True:
                self.wake.clear()
                noted, self._noted = self._noted, []
                for delivery_id in noted:
                    self._start(delivery_id, claim=False)
                if loop.time() >= next_scan:
                    try:
                        await self.dispatch_due()
                    except Exception:
                        log.warning("delivery worker pass failed; trying again", exc_info=True)
                    next_scan = loop.time() + self.settings.worker_poll_seconds
                if not self._noted:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), timeout=max(0.01, next_scan - loop.time()))
        finally:
            # Stopping: attempts in hand are abandoned before the database closes; their
            # claims lapse and a later run attempts them again.
            await self._cancel_attempts()

    async def dispatch_due(self) -> int:
        """Start an attempt for each due delivery not already in hand; returns how many started."""
        started = 0
        for delivery_id in await self.stores.due_ids(self.clock()):
            started += self._start(delivery_id)
        return started

    def _start(self, delivery_id: str, *, claim: bool = True) -> int:
        if delivery_id in self._in_flight:
            return 0
        self._in_flight.add(delivery_id)
        task = asyncio.create_task(self._attempt_guarded(delivery_id, claim))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 1

    async def _attempt_guarded(self, delivery_id: str, claim: bool) -> None:
        assert self._slots is not None
        try:
            async with self._slots:
                await self.attempt(delivery_id, claim=claim)
        except Exception:
            log.warning("delivery attempt failed unexpectedly; it stays due", delivery_id=delivery_id, exc_info=True)
        finally:
            self._in_flight.discard(delivery_id)

    def breaker(self, endpoint_id: str) -> CircuitBreaker:
        breaker = self.breakers.get(endpoint_id)
        if breaker is None:
            breaker = CircuitBreaker(
                endpoint_id=endpoint_id,
                failure_threshold=self.settings.breaker_failure_threshold,
                cool_down_seconds=self.settings.breaker_cool_down_seconds,
            )
            self.breakers[endpoint_id] = breaker
        return breaker

    async def attempt(self, delivery_id: str, *, claim: bool = True) -> None:
        """One attempt of one delivery: claim it (a version only one worker can write), send, record.

        A delivery this process has just planned is not claimed: no other worker knows of
        it (it is on no due list) unless another replica rebuilds its list from the log at
        that very moment — then a receiver may see the same delivery id twice, which the
        delivery id header lets it drop."""
        store = self.stores.deliveries
        snap = await store.load(delivery_id)
        if snap is None:
            return
        delivery = delivery_of(snap)
        now = self.clock()
        if not delivery.is_due(now):
            await self.stores.sync_due(delivery)  # a stale entry of the due list
            return
        had_hint = delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.SCHEDULED)
        payload: dict[str, Any] = dict(snap.state.get(PAYLOAD) or {})
        resend_of = snap.state.get(RESEND_OF)
        breaker: CircuitBreaker | None = None
        endpoint = None
        if delivery.channel is Channel.WEBHOOK:
            endpoint = (await self.directory()).endpoints.get(delivery.endpoint_id or "")
            if endpoint is None or not endpoint.receives_notices:
                delivery.record_failure(
                    now, "webhook.endpoint_disabled", "the endpoint was disabled or removed",
                    retryable=False, policy=self.policy, rng=self.rng,
                )  # fmt: skip
                await self._save(delivery, snap.version, payload, resend_of, had_hint=had_hint)
                return
            breaker = self.breaker(endpoint.endpoint_id)
            if not breaker.allow_request(now):
                delivery.postpone(breaker.retry_at(now), now)
                await self._save(delivery, snap.version, payload, resend_of, had_hint=had_hint)
                return
        # Claim: a version with the next attempt moved past the lease; only one writer wins it.
        claimed = snap.version
        if claim:
            delivery.next_attempt_at = now + timedelta(seconds=self.settings.claim_seconds)
            saved = await self._save(delivery, snap.version, payload, resend_of, had_hint=had_hint, claim=True)
            if saved is None:
                return
            claimed = saved
        if delivery.channel is Channel.EMAIL:
            outcome = await self.email.send(delivery)
        elif endpoint is not None:
            outcome = await self.webhooks.send(delivery, endpoint, payload, now)
        else:
            outcome = Outcome.failed("delivery.no_channel", "inbox entries are stored when planned", retryable=False)
        done = self.clock()
        if outcome.delivered:
            delivery.record_success(done)
            if breaker is not None:
                breaker.record_success()
        else:
            delivery.record_failure(
                done, outcome.error_code, outcome.error_detail,
                retryable=outcome.retryable, policy=self.policy, rng=self.rng,
            )  # fmt: skip
            if breaker is not None:
                breaker.record_failure(done)
        await self._save(delivery, claimed, payload, resend_of, had_hint=had_hint)

    async def _save(
        self,
        delivery: Delivery,
        expected_version: int,
        payload: Mapping[str, Any],
        resend_of: str | None,
        *,
        had_hint: bool,
        claim: bool = False,
    ) -> int | None:
        try:
            version = await self.stores.deliveries.save(
                delivery.delivery_id,
                expected_version,
                delivery_state(delivery, payload, resend_of),
                list(delivery.events),
            )
        except PreconditionFailed:
            log.info("delivery changed meanwhile; another worker has it", delivery_id=delivery.delivery_id)
            return None
        delivery.events = []
        # The due list holds deliveries waiting for a later attempt (retry, quiet hours,
        # breaker). A claim needs no entry (a crash lets the list be rebuilt at start),
        # and a delivery that never waited has none to remove.
        waiting = delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.SCHEDULED)
        if not claim and (waiting or had_hint):
            await self.stores.sync_due(delivery)
        return version

    # --- reminders and digests ----------------------------------------------------------

    async def fire_due_reminders(self) -> int:
        """Route each due reminder, then mark it fired. Routing first: a crash in between
        re-routes on the next pass, which plans nothing twice (unique delivery ids)."""
        now = self.clock()
        fired = 0
        for snap in await self.stores.reminders.find({"status": "scheduled", "fire_at": {"$lte": now}}):
            reminder = reminder_of(snap)
            if not reminder.is_due(now):
                continue
            await self.route(reminder.routing_type, reminder.reminder_id, reminder.payload, now)

            def fire(current: Snapshot | None) -> Change | None:
                if current is None:
                    return None
                latest = reminder_of(current)
                if not latest.is_due(now):
                    return None
                latest.fire(now)
                return Change(model_state(latest))

            if await apply_change(self.stores.reminders, reminder.reminder_id, fire) is not None:
                fired += 1
        return fired

    async def send_digests(self) -> int:
        """Batch pending digest entries of recipients whose local digest hour has come."""
        now = self.clock()
        entries = []
        for snap in await self.stores.digest_entries.find({"digest_id": None}):
            entry = DigestEntry.model_validate({k: v for k, v in snap.state.items() if k != "digest_id"})
            if now.astimezone(zone(entry.time_zone)).hour >= self.settings.digest_hour:
                entries.append(entry)
        sent = 0
        for digest in build_daily_digests(entries, now):
            stored = await self.stores.preferences_of([digest.recipient_id])
            prefs = stored.get(digest.recipient_id) or self.settings.default_preferences(digest.recipient_id)
            plan = plan_digest_delivery(digest, prefs, now)
            delivery = Delivery.from_plan(plan, now, render_digest(digest, self.renderer))
            entry_ids = [e.entry_id for e in digest.entries]
            try:
                await self.create_delivery(delivery, {"entry_ids": entry_ids})
                sent += 1
            except Conflict:
                # Today's digest went out already (maybe just before a crash): settle what it held.
                existing = await self.stores.deliveries.load(delivery.delivery_id)
                entry_ids = list((existing.state.get(PAYLOAD) or {}).get("entry_ids", [])) if existing else []
            for entry_id in entry_ids:
                await self._mark_digested(entry_id, digest.digest_id)
        if sent:
            self.wake.set()
        return sent

    async def _mark_digested(self, entry_id: str, digest_id: str) -> None:
        def decide(current: Snapshot | None) -> Change | None:
            if current is None or current.state.get("digest_id") is not None:
                return None
            return Change({**current.state, "digest_id": digest_id})

        await apply_change(self.stores.digest_entries, entry_id, decide)

    async def run_every(self, seconds: float, step: Callable[[], Any], name: str) -> None:
        while True:
            try:
                await step()
            except Exception:
                log.warning("periodic step failed; trying again", step=name, exc_info=True)
            await asyncio.sleep(seconds)
