"""The composition root: settings → FastAPI app with sessions, languages, pages and assets."""

from __future__ import annotations

import secrets
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alliance_console import i18n
from alliance_console.api import ApiError, ServiceClients
from alliance_console.auth import TokenRefresh, build_auth_router, build_oauth
from alliance_console.pages import (
    audit,
    deliveries,
    downloads,
    evaluation,
    funding,
    home,
    incentives,
    partner,
    preferences,
    registry,
)
from alliance_console.pages.common import FrameworkVersions
from alliance_console.settings import ConsoleSettings
from alliance_console.web import TEMPLATES_DIR, CsrfRefused, NotAllowed, SignInRequired, render, sign_in_url
from alliance_shared.logging import get_logger

log = get_logger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "console_session"
SESSION_MAX_AGE_S = 12 * 3600


class LanguageAndMetrics:
    """Sets the request's language and counts it (pure ASGI: the inbox's server-sent
    events stream through untouched, which BaseHTTPMiddleware does not guarantee)."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        i18n.set_language(i18n.pick_language(Request(scope).cookies.get(i18n.LANGUAGE_COOKIE)))
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.add_extension("jinja2.ext.i18n")
    # The callables read the request's language from a context variable, so one
    # environment serves people of both languages at the same time.
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(yuan=i18n.yuan, when=i18n.when, day=i18n.day, number=i18n.number, percent=i18n.percent)
    return templates


def add_probes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        # The console holds no state of its own: ready when it serves.
        return {"status": "ready"}


def create_ops_app(metrics_registry: CollectorRegistry) -> FastAPI:
    """The ops port's app (alliance_shared/web/ops.py): /metrics and the probes, never behind the Ingress."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    add_probes(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return app


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.clients.close()

    app = FastAPI(
        title="Cooperation Alliance console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.templates = build_templates()
    app.state.clients = ServiceClients(settings.service_urls(), settings.service_timeout_s)
    app.state.framework_versions = FrameworkVersions()

    registry_ = CollectorRegistry()
    requests = Counter(
        "console_http_requests_total", "Console requests", ["method", "route", "status"], registry=registry_
    )
    latency = Histogram("console_http_request_seconds", "Console request time", ["method", "route"], registry=registry_)

    app.add_middleware(LanguageAndMetrics, requests=requests, latency=latency)
    oauth = build_oauth(settings)
    app.add_middleware(TokenRefresh, oauth=oauth)

    # Signed (itsdangerous), HttpOnly cookie; Secure outside dev; Lax keeps the OIDC redirect working.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=settings.cookie_secure,
    )

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_url), status_code=303)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> HTMLResponse:
        return render(request, "message.html", title=i18n._("This page is not part of your role."), status_code=403)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> HTMLResponse:
        message = i18n._("The form had expired or did not come from this console. Reload the page and try again.")
        return render(request, "message.html", title=message, status_code=403)

    @app.exception_handler(ApiError)
    async def service_refused(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:
            # An expired token: sign in again and come back to the same page.
            request.session.pop("token", None)
            return RedirectResponse(sign_in_url(request.url.path), status_code=303)
        status = exc.status if exc.status in (403, 404, 504) else 502 if exc.status >= 500 else 400
        return render(request, "message.html", title=exc.message, detail=exc.detail, status_code=status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> HTMLResponse:
        log.error("page failed", path=request.url.path, error=repr(exc), trace=traceback.format_exc())
        return render(request, "message.html", title=i18n._("Something went wrong. Try again later."), status_code=500)

    add_probes(app)
    app.state.ops_app = create_ops_app(registry_)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(build_auth_router(settings, oauth))
    for module in (home, funding, evaluation, partner, registry, audit, deliveries, preferences, incentives, downloads):
        app.include_router(module.router)
    return app
