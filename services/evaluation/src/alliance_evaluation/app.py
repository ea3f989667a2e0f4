"""Composition root of the evaluation service."""

from __future__ import annotations

from fastapi import FastAPI

from alliance_evaluation.adapters.consumers import build_subscription
from alliance_evaluation.adapters.http import build_router
from alliance_evaluation.adapters.repositories import STORES, Repositories
from alliance_evaluation.service.frameworks import ensure_default_framework
from alliance_evaluation.service.outcomes import housekeeping_loop
from alliance_evaluation.settings import Settings
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.app import create_app

DESCRIPTION = """Evaluates school-enterprise cooperation agreements: indicator frameworks, evidence from
college reports and manual records, evaluation cycles with multi-party panels, results with
explanations, rectification orders, appeals, rankings. Results (`result.completed`) drive the
funding service's tranche releases."""


def build_runtime(settings: Settings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORES)
    runtime.subscriptions = [build_subscription(Repositories(runtime), PLATFORM_CATALOG)]
    return runtime


def build_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = build_runtime(settings)
    repos = Repositories(runtime)

    async def seed(_: ServiceRuntime) -> None:
        if settings.seed_default_framework:
            await ensure_default_framework(repos)

    async def start_housekeeping(rt: ServiceRuntime) -> None:
        rt.add_task(housekeeping_loop(repos, settings), name="evaluation-housekeeping")

    return create_app(
        runtime,
        title="Evaluation service",
        description=DESCRIPTION,
        routers=[build_router(repos, settings)],
        on_startup=[seed, start_housekeeping],
    )
