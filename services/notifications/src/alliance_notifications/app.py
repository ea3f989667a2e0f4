"""Composition root of the notifications service: the runtime, the notifier on its
MongoDB stores, SMTP and httpx, the consumers, the background loops and the HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from alliance_notifications.adapters.channels import EmailSender, WebhookSender
from alliance_notifications.adapters.consumers import build_subscription
from alliance_notifications.adapters.due_list import INDEXES, MongoDueList
from alliance_notifications.adapters.egress import DnsResolver
from alliance_notifications.adapters.http import ROUTERS
from alliance_notifications.adapters.secret_cipher import FernetCipher
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.repositories import STORE_NAMES, Repositories
from alliance_notifications.service.routing_rules import seed_rule_set
from alliance_notifications.service.schedules import fire_due_reminders, run_every, send_digests
from alliance_notifications.service.webhooks import drop_expired_secrets
from alliance_notifications.service.worker import DeliveryWorker
from alliance_notifications.settings import Settings
from alliance_shared.clock import SystemClock
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.logging import get_logger
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.app import create_app

DESCRIPTION = """Tells everyone who must hear about a decision: partner contacts and role groups by
e-mail (zh-CN or en), college systems by signed webhooks, everybody in the in-app inbox (with a
live SSE stream). Routing rules, preferences (regulatory notices cannot be muted), quiet hours,
reminders before deadlines, a daily digest, and a delivery log with retries and resend.
Outcomes are published on `alliance.notifications.events`."""

log = get_logger(__name__)


def build_runtime(settings: Settings) -> tuple[ServiceRuntime, Notifier]:
    runtime = ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORE_NAMES, indexes=INDEXES)
    if settings.webhook_secret_key is None:
        log.warning(
            "NOTIFICATIONS_WEBHOOK_SECRET_KEY is unset: webhook secrets are encrypted with the public development key"
        )
    resolver = DnsResolver(settings.webhook_connect_timeout_seconds)
    notifier = Notifier(
        Repositories.on(runtime.store, FernetCipher(settings.secret_keys)),
        settings,
        clock=SystemClock(),
        due=MongoDueList(runtime.db),
        email=EmailSender(settings),
        webhooks=WebhookSender(settings, resolver),
        resolver=resolver,
    )
    runtime.subscriptions = [build_subscription(notifier)]
    return runtime, notifier


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime, notifier = build_runtime(settings)
    worker = DeliveryWorker(notifier)

    async def start_loops(rt: ServiceRuntime) -> None:
        await seed_rule_set(notifier)
        rt.add_task(worker.run(), name="delivery-worker")
        rt.add_task(
            run_every(settings.reminder_scan_seconds, lambda: fire_due_reminders(notifier), "reminders"),
            name="reminders",
        )
        rt.add_task(
            run_every(settings.digest_scan_seconds, lambda: send_digests(notifier), "digests"), name="daily-digest"
        )
        rt.add_task(
            run_every(settings.secret_sweep_seconds, lambda: drop_expired_secrets(notifier), "secret sweep"),
            name="secret-sweep",
        )

    app = create_app(
        runtime,
        title="Notifications service",
        description=DESCRIPTION,
        routers=ROUTERS,
        on_startup=[start_loops],
    )
    app.state.notifier = notifier
    original = app.router.lifespan_context

    # Close the webhook client's pool (and any attempt in hand) after the runtime stops.

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with original(app_):
            yield
        await worker.cancel_attempts()
        await notifier.close()

    app.router.lifespan_context = lifespan
    return app
