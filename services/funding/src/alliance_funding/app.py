"""Composition root of the funding service."""

from __future__ import annotations

from fastapi import FastAPI

from alliance_funding.adapters.consumers import build_subscription
from alliance_funding.adapters.http import build_router
from alliance_funding.adapters.repositories import STORES, Repositories
from alliance_funding.service.reconcile import reconcile_loop
from alliance_funding.settings import Settings
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.app import create_app

DESCRIPTION = """Runs the special funds for school-enterprise cooperation: fund programmes, applications
and their review, awards paid in tranches tied to evaluation results (maker-checker), terminations
and recoveries, a double-entry ledger per programme (integer fen, append-only journal, verify),
education-surcharge credit statements and budget-execution reports (JSON, CSV, XLSX)."""


def build_runtime(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORES)
    runtime.subscriptions = [build_subscription(Repositories(runtime), PLATFORM_CATALOG)]
    return runtime


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = build_runtime(settings)
    repos = Repositories(runtime)

    async def start_reconciling(rt: ServiceRuntime) -> None:
        rt.add_task(reconcile_loop(repos, settings.reconcile_seconds), name="funding-reconcile")

    return create_app(
        runtime,
        title="Funding service",
        description=DESCRIPTION,
        routers=[build_router(repos, settings)],
        on_startup=[start_reconciling],
    )
