"""Composition root of the evaluation service: the stores on MongoDB, the system clock,
the Kafka subscription and the HTTP routers, wired to one use-case context."""

from __future__ import annotations

from fastapi import FastAPI

from alliance_evaluation.adapters.consumers import build_subscription
from alliance_evaluation.adapters.dead_letters import RuntimeDeadLetters
from alliance_evaluation.adapters.http import ROUTERS
from alliance_evaluation.adapters.mongo import INDEXES
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.frameworks import ensure_default_framework
from alliance_evaluation.service.housekeeping import housekeeping_loop
from alliance_evaluation.service.repositories import STORES, Repositories
from alliance_evaluation.settings import Settings
from alliance_shared.clock import Clock, SystemClock
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.app import create_app

DESCRIPTION = """Evaluates school-enterprise cooperation agreements: indicator frameworks, evidence from
college reports and manual records, evaluation cycles with multi-party panels, results with
explanations, rectification orders, appeals, rankings. Results (`result.completed`) drive the
funding service's tranche releases."""


def compose(settings: Settings, clock: Clock | None = None) -> tuple[ServiceRuntime, Context]:
    runtime = ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORES, indexes=INDEXES)
    ctx = Context(
        repos=Repositories(runtime.store),
        clock=clock or SystemClock(),
        settings=settings,
        dead_letters=RuntimeDeadLetters(runtime),
    )
    runtime.subscriptions = [build_subscription(ctx)]
    return runtime, ctx


def build_runtime(settings: Settings) -> ServiceRuntime:
    return compose(settings)[0]


def build_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime, ctx = compose(settings, clock)

    async def seed(_: ServiceRuntime) -> None:
        if settings.seed_default_framework:
            await ensure_default_framework(ctx)

    async def start_housekeeping(rt: ServiceRuntime) -> None:
        rt.add_task(housekeeping_loop(ctx), name="evaluation-housekeeping")

    app = create_app(
        runtime,
        title="Evaluation service",
        description=DESCRIPTION,
        routers=ROUTERS,
        on_startup=[seed, start_housekeeping],
    )
    app.state.evaluation = ctx
    return app
