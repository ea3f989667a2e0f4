"""The FastAPI app factory every service uses: problem+json errors, request and
correlation ids, Prometheus metrics, /healthz, /readyz, Idempotency-Key, and a lifespan
that starts and stops the service runtime. /metrics and the API docs are served on the
ops port only (``web/ops.py``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alliance_shared import context
from alliance_shared.auth.dependencies import require_roles
from alliance_shared.auth.jwt import TokenVerifier
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.vocabulary import Role
from alliance_shared.metrics import Metrics
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE
from alliance_shared.runtime import ServiceRuntime
from alliance_shared.web.idempotency import IDEMPOTENCY_COLLECTION, IdempotencyMiddleware
from alliance_shared.web.limits import RequestLimitsMiddleware
from alliance_shared.web.ops import add_health_routes, create_ops_app
from alliance_shared.web.problems import install_problem_handlers

Hook = Callable[[ServiceRuntime], Awaitable[None]]


class RequestContextMiddleware:
    """Request and correlation ids (bound for logs and events, echoed as headers) and the
    request metrics. Plain ASGI rather than ``@app.middleware("http")``: that wrapper runs
    every request in a task group with a memory stream of its own, a fixed cost per request
    the registry's profile showed (bench/notes.md)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        ctx = context.MessageContext(
            correlation_id=headers.get("x-correlation-id") or request_id,
            request_id=request_id,
            traceparent=headers.get("traceparent") or context.new_traceparent(),
        )
        started = time.perf_counter()
        metrics = self.metrics

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                route_path = getattr(scope.get("route"), "path", "unmatched")
                method, status = scope["method"], str(message["status"])
                metrics.http_requests.labels(metrics.service, method, route_path, status).inc()
                metrics.http_latency.labels(metrics.service, method, route_path).observe(time.perf_counter() - started)
                response_headers = MutableHeaders(scope=message)
                response_headers["X-Request-ID"] = request_id
                response_headers["X-Correlation-ID"] = ctx.correlation_id
            await send(message)

        with context.bound(ctx):
            await self.app(scope, receive, send_with_context)


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Hook] = (),
    version: str = "0.1.0",
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """``body_limits``: path prefix → largest body in bytes, where a route needs more (or
    less) than the service's ``http_max_body_bytes``."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        for hook in on_startup:
            await hook(runtime)
        yield
        await runtime.stop()

    # No docs and no OpenAPI document on the public port: the ops app serves them.
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_file=settings.jwks_file,
        jwks_url=settings.jwks_url,
    )
    app.state.idempotency = runtime.db[IDEMPOTENCY_COLLECTION]
    install_problem_handlers(app)
    app.add_middleware(IdempotencyMiddleware)

    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics)
    # Added last, so it runs first: nothing reads an oversized body or an unchecked id header.
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=settings.http_max_body_bytes, per_path=body_limits)

    add_health_routes(app, runtime)
    app.include_router(audit_router())
    for router in routers:
        app.include_router(router)
    app.state.ops_app = create_ops_app(app, runtime)
    return app


class ChainBreakOut(BaseModel):
    seq: int
    problem: str


class AuditVerification(BaseModel):
    intact: bool
    records: int = Field(description="sequence number of the newest record (0: an empty trail)")
    head_hash: str | None
    breaks: list[ChainBreakOut] = Field(description="every break found, the first broken link first")


class AuditRecord(BaseModel):
    seq: int
    at: str
    actor_id: str | None
    actor_role: str | None
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any
    correlation_id: str | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditRecord]
    next_after_seq: int | None = Field(description="pass as ?after_seq= for the next page; null on the last")


Overseer = Annotated[Principal, Depends(require_roles(Role.AUDITOR, Role.OPS))]


def audit_router() -> APIRouter:
    """Every service's audit trail, for auditors: verify the chain, read its records."""
    router = APIRouter(prefix="/audit", tags=["audit"])

    @router.get("/verify", summary="Verify this service's hash-chained audit trail and its last anchor")
    async def verify_audit_chain(request: Request, _: Overseer) -> AuditVerification:
        runtime: ServiceRuntime = request.app.state.runtime
        breaks = await runtime.verify_audit_chain()
        head = await runtime.audit.head()
        return AuditVerification(
            intact=not breaks,
            records=int(head["_id"]) if head else 0,
            head_hash=head["hash"] if head else None,
            breaks=[ChainBreakOut(seq=b.seq, problem=b.problem) for b in sorted(breaks, key=lambda b: b.seq)],
        )

    @router.get("/records", summary="Audit records in chain order, of one entity when named")
    async def audit_records(
        request: Request,
        _: Overseer,
        entity: Annotated[str | None, Query(max_length=100)] = None,
        entity_id: Annotated[str | None, Query(max_length=200)] = None,
        after_seq: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> AuditPage:
        runtime: ServiceRuntime = request.app.state.runtime
        found = await runtime.audit.records(entity=entity, entity_id=entity_id, after_seq=after_seq, limit=limit + 1)
        items = [AuditRecord(seq=int(r["_id"]), **{k: r.get(k) for k in AUDIT_FIELDS}) for r in found[:limit]]
        return AuditPage(items=items, next_after_seq=items[-1].seq if len(found) > limit else None)

    return router


AUDIT_FIELDS = (
    "at", "actor_id", "actor_role", "action", "entity", "entity_id", "before", "after", "correlation_id", "prev_hash",
    "hash",
)  # fmt: skip
