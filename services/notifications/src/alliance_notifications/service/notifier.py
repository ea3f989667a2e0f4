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
    endpoint_of,
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
from alliance_shared.messaging.outbox import AuditNote, Change, Snapshot, change_with_retry

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

    # --- events in ---------------------------------------------------------------------

    async def handle_event(self, event_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
        """One consumed event: directory, reminders, then its deliveries. Idempotent per event id."""
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

        await change_with_retry(self.stores.contacts, partner_id, decide, caused_by=event_id)

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

                await change_with_retry(self.stores.reminders, snap.aggregate_id, cancel, caused_by=event_id)

    async def route(
        self, routing_type: str, event_id: str, payload: Mapping[str, Any], now: datetime
    ) -> list[PlannedDelivery]:
        """Plan and record every delivery an event (or a fired reminder) calls for."""
        if not any(rule.event_type == routing_type for rule in self.rules):
            return []
        directory = await self.stores.directory()
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
            await self.stores.deliveries.create(
                delivery.delivery_id, delivery_state(delivery, payload), delivery.events
            )

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

    async def run_worker(self) -> None:
        """Attempt due deliveries until cancelled; woken at once when this process plans one."""
        self._slots = asyncio.Semaphore(self.settings.worker_concurrency)
        try:
            while True:
                self.wake.clear()
                try:
                    await self.dispatch_due()
                except Exception:
                    log.warning("delivery worker pass failed; trying again", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=self.settings.worker_poll_seconds)
        finally:
            # Stopping: attempts in hand are abandoned before the database closes; their
            # claims lapse and a later run attempts them again.
            await self._cancel_attempts()

    async def dispatch_due(self) -> int:
        """Start an attempt for each due delivery not already in hand; returns how many started."""
        now = self.clock()
        due = await self.stores.deliveries.find(
            {"status": {"$in": [s.value for s in OPEN_STATES]}, "next_attempt_at": {"$lte": now}},
            sort=[("next_attempt_at", 1)],
            limit=1000,
        )
        started = 0
        for snap in due:
            if snap.aggregate_id in self._in_flight:
                continue
            self._in_flight.add(snap.aggregate_id)
            task = asyncio.create_task(self._attempt_guarded(snap.aggregate_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _attempt_guarded(self, delivery_id: str) -> None:
        assert self._slots is not None
        try:
            async with self._slots:
                await self.attempt(delivery_id)
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

    async def attempt(self, delivery_id: str) -> None:
        """One attempt of one delivery: claim it (a version only one worker can write), send, record."""
        store = self.stores.deliveries
        snap = await store.load(delivery_id)
        if snap is None:
            return
        delivery = delivery_of(snap)
        now = self.clock()
        if not delivery.is_due(now):
            return
        payload: dict[str, Any] = dict(snap.state.get(PAYLOAD) or {})
        resend_of = snap.state.get(RESEND_OF)
        breaker: CircuitBreaker | None = None
        endpoint = None
        if delivery.channel is Channel.WEBHOOK:
            endpoint_snap = await self.stores.endpoints.load(delivery.endpoint_id or "")
            endpoint = endpoint_of(endpoint_snap) if endpoint_snap is not None else None
            if endpoint is None or not endpoint.receives_notices:
                delivery.record_failure(
                    now, "webhook.endpoint_disabled", "the endpoint was disabled or removed",
                    retryable=False, policy=self.policy, rng=self.rng,
                )  # fmt: skip
                await self._save(delivery, snap.version, payload, resend_of)
                return
            breaker = self.breaker(endpoint.endpoint_id)
            if not breaker.allow_request(now):
                delivery.postpone(breaker.retry_at(now), now)
                await self._save(delivery, snap.version, payload, resend_of)
                return
        # Claim: a version with the next attempt moved past the lease; only one writer wins it.
        delivery.next_attempt_at = now + timedelta(seconds=self.settings.claim_seconds)
        claimed = await self._save(delivery, snap.version, payload, resend_of)
        if claimed is None:
            return
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
        await self._save(delivery, claimed, payload, resend_of)
        if delivery.status is DeliveryStatus.FAILED:
            self.wake.set()

    async def _save(
        self, delivery: Delivery, expected_version: int, payload: Mapping[str, Any], resend_of: str | None
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

            if await change_with_retry(self.stores.reminders, reminder.reminder_id, fire) is not None:
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
                await self.stores.deliveries.create(
                    delivery.delivery_id, delivery_state(delivery, {"entry_ids": entry_ids}), delivery.events
                )
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

        await change_with_retry(self.stores.digest_entries, entry_id, decide)

    async def run_every(self, seconds: float, step: Callable[[], Any], name: str) -> None:
        while True:
            try:
                await step()
            except Exception:
                log.warning("periodic step failed; trying again", step=name, exc_info=True)
            await asyncio.sleep(seconds)
