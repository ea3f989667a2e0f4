"""Composition root of the funding service: the runtime, the stores, the clock, the
Kafka handlers and the HTTP routers, put together once."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from alliance_funding.adapters.consumers import build_subscription
from alliance_funding.adapters.http import ROUTERS
from alliance_funding.adapters.mongo import INDEXES, TRANSFER_RECEIPTS, MongoTransferReceipts
from alliance_funding.service.deadlines import DeadlinePolicy, deadline_loop
from alliance_funding.service.ports import STORES, Repositories
from alliance_funding.service.reconcile import reconcile_loop
from alliance_funding.settings import Settings
from alliance_shared.clock import Clock, SystemClock
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.app import create_app

DESCRIPTION = """Runs the special funds for school-enterprise cooperation: fund programmes, applications
and their review, awards paid in tranches tied to evaluation results (maker-checker), terminations
and recoveries, a double-entry ledger per programme (integer fen, append-only journal, verify),
education-surcharge credit statements and budget-execution reports (JSON, CSV, XLSX)."""


def build_runtime(settings: Settings) -> ServiceRuntime:
    return ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORES, indexes=INDEXES)


def build_repositories(runtime: ServiceRuntime) -> Repositories:
    return Repositories(runtime.store, MongoTransferReceipts(runtime.db[TRANSFER_RECEIPTS]))


def build_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    runtime = build_runtime(settings)
    repos = build_repositories(runtime)
    runtime.subscriptions = [build_subscription(repos, clock)]

    async def start_reconciling(rt: ServiceRuntime) -> None:
        rt.add_task(reconcile_loop(repos, clock, settings.reconcile_seconds), name="funding-reconcile")
        policy = DeadlinePolicy(
            remind_before=timedelta(days=settings.recovery_reminder_days),
            escalate_after=timedelta(days=settings.recovery_escalate_after_days),
        )
        rt.add_task(deadline_loop(repos, clock, policy, settings.recovery_check_seconds), name="funding-deadlines")

    app = create_app(
        runtime,
        title="Funding service",
        description=DESCRIPTION,
        routers=ROUTERS,
        on_startup=[start_reconciling],
    )
    app.state.repos = repos
    app.state.clock = clock
    app.state.settings = settings
    return app
