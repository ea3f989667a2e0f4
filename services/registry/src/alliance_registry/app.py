"""Composition root of the registry service."""

from __future__ import annotations

from fastapi import FastAPI

from alliance_registry.adapters.consumers import build_subscription
from alliance_registry.adapters.http import ROUTERS
from alliance_registry.adapters.mongo import CREDIT_CODES, INDEXES, MongoCreditCodeClaims
from alliance_registry.service.repositories import STORES, Repositories
from alliance_registry.service.schedule import schedule_loop
from alliance_registry.settings import Settings
from alliance_shared.clock import Clock, SystemClock
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.app import create_app

DESCRIPTION = """The alliance's source of truth for who the partners are and what they agreed to:
partner organisations (colleges, enterprises, industry associations, government agencies,
research institutes), alliance membership and the council, the catalogue of certified
industry-education integration enterprises, and cooperation agreements with their parties,
modes, obligations, term, lifecycle and amendment history, and the incentive register of
catalogue enterprises (fiscal, tax, financial, land and credit support). Every change is announced on
`alliance.registry.events` with the whole new state; funding, evaluation and notifications
build their read models from those events."""


def build_runtime(settings: Settings) -> ServiceRuntime:
    return ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORES, indexes=INDEXES)


def build_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    runtime = build_runtime(settings)
    repos = Repositories(runtime.store, MongoCreditCodeClaims(runtime.db[CREDIT_CODES]))
    runtime.subscriptions = [build_subscription(repos, clock)]

    async def start_schedule(rt: ServiceRuntime) -> None:
        rt.add_task(schedule_loop(repos, clock, settings.schedule_check_seconds), name="registry-schedule")

    app = create_app(
        runtime,
        title="Registry service",
        description=DESCRIPTION,
        routers=ROUTERS,
        on_startup=[start_schedule],
    )
    app.state.repositories = repos
    app.state.clock = clock
    return app
