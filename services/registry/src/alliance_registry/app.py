"""Composition root of the registry service."""

from __future__ import annotations

from fastapi import FastAPI

from alliance_registry.adapters.http import build_router
from alliance_registry.adapters.repositories import INDEXES, STORES, Repositories
from alliance_registry.service.schedule import schedule_loop
from alliance_registry.settings import Settings
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.app import create_app

DESCRIPTION = """The alliance's source of truth for who the partners are and what they agreed to:
partner organisations (colleges, enterprises, industry associations, government agencies,
research institutes), alliance membership and the council, the catalogue of certified
industry-education integration enterprises, and cooperation agreements with their parties,
modes, obligations, term, lifecycle and amendment history. Every change is announced on
`alliance.registry.events` with the whole new state; funding, evaluation and notifications
build their read models from those events."""


def build_runtime(settings: Settings) -> ServiceRuntime:
    return ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORES, indexes=INDEXES)


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = build_runtime(settings)
    repos = Repositories(runtime)

    async def start_schedule(rt: ServiceRuntime) -> None:
        rt.add_task(schedule_loop(repos, settings.schedule_check_seconds), name="registry-schedule")

    app = create_app(
        runtime,
        title="Registry service",
        description=DESCRIPTION,
        routers=[build_router(repos)],
        on_startup=[start_schedule],
    )
    app.state.repositories = repos
    return app
