"""The operational endpoints on a port of their own, in the same process.

Metrics and the API's description (``/openapi.json``, ``/docs``, ``/redoc``) tell whoever
reads them how the service is built and how busy it is; they are served only on the
internal ops port (``<SVC>_OPS_PORT``), which Kubernetes exposes to the monitoring
namespace and never to the Ingress. The public port answers them ``404`` problem+json like
any unknown path. ``/healthz`` and ``/readyz`` answer on both ports: the kubelet probes the
public one, the ops port's copy is for people inside the cluster.

Both ports are served by one uvicorn server each, on one event loop and one runtime: the
public server owns the lifespan (the runtime starts and stops with it) and the process's
signals; the ops server stops when it stops, and its end (its port taken, say) stops the
public one, so no service runs unobserved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alliance_shared.runtime import ServiceRuntime
from alliance_shared.settings import ServiceSettings
from alliance_shared.web.problems import install_problem_handlers

OPS_PATHS = ("/metrics", "/openapi.json", "/docs", "/redoc")


def add_health_routes(app: FastAPI, runtime: ServiceRuntime) -> None:
    """/healthz (the process is up) and /readyz (its dependencies are reachable)."""
    settings = runtime.settings

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: MongoDB and Kafka reachable",
        responses={503: {"description": "a dependency is unavailable"}},
    )
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unready", "checks": checks}, status_code=200 if ready else 503
        )


def create_ops_app(public: FastAPI, runtime: ServiceRuntime) -> FastAPI:
    """The ops port's app: health, Prometheus metrics and the public API's documentation."""
    app = FastAPI(title=f"{public.title}: operations", docs_url=None, redoc_url=None, openapi_url=None)
    install_problem_handlers(app)
    add_health_routes(app, runtime)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        runtime.relay.report_backlog()  # from memory: a scrape reads no database
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(public.openapi())

    @app.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=public.title)

    @app.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=public.title)

    return app


def ops_app_of(public: FastAPI) -> FastAPI:
    """The ops app ``create_app`` built next to ``public``."""
    ops = public.state.ops_app
    assert isinstance(ops, FastAPI)
    return ops


class _OpsServer(uvicorn.Server):
    """Leaves the process's signals to the public server; it is stopped when that one ends."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ServiceServers:
    """A service's public server and its ops server, served together until ``stop``."""

    def __init__(self, public: FastAPI, *, host: str, port: int, ops_port: int) -> None:
        if port == ops_port:
            raise ValueError(f"the ops port must differ from the public port ({port})")
        self.public = uvicorn.Server(uvicorn.Config(public, host=host, port=port, log_config=None))
        self.ops = _OpsServer(
            uvicorn.Config(ops_app_of(public), host=host, port=ops_port, log_config=None, lifespan="off")
        )

    @property
    def started(self) -> bool:
        return self.public.started and self.ops.started

    def stop(self) -> None:
        self.public.should_exit = True

    async def serve(self) -> None:
        ops_serving = asyncio.create_task(self.ops.serve(), name="ops-server")
        ops_serving.add_done_callback(lambda _: self.stop())
        try:
            await self.public.serve()
        finally:
            self.ops.should_exit = True
            await ops_serving


def serve(public: FastAPI, settings: ServiceSettings) -> None:
    """``python -m alliance_<service>``: the public port and the ops port until a signal."""
    servers = ServiceServers(public, host=settings.http_host, port=settings.http_port, ops_port=settings.ops_port)
    asyncio.run(servers.serve())
