"""Sign-in: OpenID Connect (authorization code + PKCE, Authlib's Starlette client) and, only
when CONSOLE_DEV_LOGIN is on, a development page that mints a dev token for a chosen role."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from alliance_console.i18n import LANGUAGE_COOKIE, LANGUAGES, _
from alliance_console.settings import ConsoleSettings
from alliance_console.web import Person, checked_form, flash, render, role_label
from alliance_shared.auth.devtokens import default_keys_dir, mint
from alliance_shared.logging import get_logger

log = get_logger(__name__)

#: The roles a dev sign-in may choose, and a person to be for each.
DEV_PEOPLE = {
    "funding_officer": "officer-zhang",
    "funding_approver": "approver-li",
    "supervisor": "supervisor-zhao",
    "evaluator": "expert-sun",
    "college": "college-staff",
    "enterprise": "enterprise-staff",
    "registry_admin": "admin-chen",
    "auditor": "auditor-ma",
    "agency_staff": "agency-staff",
    "ops": "ops-liu",
}
DEV_TOKEN_TTL_S = 8 * 3600
#: Refresh this long before the access token expires (the services' clocks may run ahead).
REFRESH_MARGIN_S = 30
#: Requests that use no token: they never refresh it.
UNREFRESHED_PATHS = ("/static/", "/healthz", "/readyz", "/metrics", "/auth/")


def safe_next(target: str | None) -> str:
    """Only a path of this console (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, for choosing menus only: the services verify it."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def build_oauth(settings: ConsoleSettings) -> OAuth | None:
    if not settings.oidc_issuer:
        return None
    oauth = OAuth()
    oauth.register(
        "idp",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
    )
    return oauth


def keep_refresh(session: dict[str, Any], token: Mapping[str, Any]) -> None:
    """What refreshing needs later: the refresh token (when the IdP gave one) and the expiry."""
    if token.get("refresh_token"):
        session["refresh_token"] = str(token["refresh_token"])
    if token.get("expires_at"):
        session["expires_at"] = int(token["expires_at"])


class TokenRefresh:
    """Refreshes the session's access token shortly before it expires, before a page uses it
    (pure ASGI, inside the session middleware, so the new token is written back to the
    cookie). Without a refresh token, or when the IdP refuses, nothing changes and an
    expired token sends the person to sign in as before. Requests of one session that
    arrive together share one refresh: an IdP that rotates refresh tokens (Hydra) revokes
    the whole chain when one is used twice."""

    def __init__(self, app: ASGIApp, oauth: OAuth | None) -> None:
        self.app = app
        self.oauth = oauth
        self._refreshing: dict[str, asyncio.Task[dict[str, Any] | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wants_token = scope["type"] == "http" and not str(scope.get("path", "")).startswith(UNREFRESHED_PATHS)
        if self.oauth is not None and wants_token and "session" in scope:
            await self.refresh_if_expiring(scope["session"])
        await self.app(scope, receive, send)

    async def refresh_if_expiring(self, session: dict[str, Any]) -> None:
        refresh_token = str(session.get("refresh_token") or "")
        if not refresh_token or not session.get("token"):
            return
        if float(session.get("expires_at") or 0) - time.time() > REFRESH_MARGIN_S:
            return
        task = self._refreshing.get(refresh_token)
        if task is None:
            task = asyncio.create_task(self._refresh(refresh_token))
            self._refreshing[refresh_token] = task
            task.add_done_callback(lambda _t: asyncio.get_running_loop().call_later(
                REFRESH_MARGIN_S, self._refreshing.pop, refresh_token, None))  # fmt: skip
        token = await task
        if token is None:
            session.pop("refresh_token", None)
            return
        session["token"] = str(token["access_token"])
        if token.get("id_token"):
            session["id_token"] = token["id_token"]
        keep_refresh(session, token)

    async def _refresh(self, refresh_token: str) -> dict[str, Any] | None:
        assert self.oauth is not None
        try:
            token = await self.oauth.idp.fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)
        except (OAuthError, httpx.HTTPError) as exc:
            log.info("token refresh refused", error=repr(exc))
            return None
        return dict(token)


def build_auth_router(settings: ConsoleSettings, oauth: OAuth | None) -> APIRouter:
    router = APIRouter()

    @router.get("/auth/login", include_in_schema=False)
    async def login(request: Request, next: str | None = None) -> Response:
        request.session["next"] = safe_next(next)
        if oauth is None:
            if settings.dev_login:
                return RedirectResponse("/auth/dev", status_code=303)
            return render(request, "message.html", title=_("Sign-in is not configured"), status_code=503)
        redirect_uri = settings.public_url.rstrip("/") + "/auth/callback"
        extra = {"audience": settings.oidc_audience} if settings.oidc_audience else {}
        response: Response = await oauth.idp.authorize_redirect(request, redirect_uri, **extra)
        return response

    @router.get("/auth/callback", include_in_schema=False)
    async def callback(request: Request) -> Response:
        if oauth is None:
            raise HTTPException(404)
        try:
            token = await oauth.idp.authorize_access_token(request)
        except OAuthError as exc:
            return render(request, "message.html", title=_("Sign-in failed"), detail=str(exc.description or exc))
        access_token = str(token["access_token"])
        # Roles and partner binding: the verified ID token's claims, completed by the
        # access token's own (when it is a JWT) — the services check the token itself.
        claims = {**unverified_claims(access_token), **dict(token.get("userinfo") or {})}
        person = Person.from_claims(claims)
        request.session["token"] = access_token
        request.session["id_token"] = token.get("id_token")
        keep_refresh(request.session, token)
        request.session["person"] = person.to_session()
        return RedirectResponse(safe_next(request.session.pop("next", None)), status_code=303)

    @router.get("/auth/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        id_token = request.session.get("id_token")
        request.session.clear()
        if oauth is not None and id_token:
            metadata = await oauth.idp.load_server_metadata()
            end_session = metadata.get("end_session_endpoint")
            if end_session:
                target = with_query(
                    end_session, id_token_hint=str(id_token), post_logout_redirect_uri=settings.public_url
                )
                return RedirectResponse(target, status_code=303)
        return RedirectResponse("/", status_code=303)

    @router.get("/auth/dev", include_in_schema=False)
    async def dev_form(request: Request) -> HTMLResponse:
        if not settings.dev_login:
            raise HTTPException(404)
        return render(request, "dev_login.html", people=DEV_PEOPLE, roles=list(DEV_PEOPLE), role_label=role_label)

    @router.post("/auth/dev", include_in_schema=False)
    async def dev_sign_in(request: Request) -> Response:
        if not settings.dev_login:
            raise HTTPException(404)
        form = await checked_form(request)
        role = str(form.get("role", ""))
        if role not in DEV_PEOPLE:
            raise HTTPException(422, "unknown role")
        subject = str(form.get("subject") or DEV_PEOPLE[role]).strip()
        partner_id = str(form.get("partner_id") or "").strip() or None
        keys_dir = Path(settings.dev_keys_dir) if settings.dev_keys_dir else default_keys_dir()
        token = mint(keys_dir, subject, [role], partner_id=partner_id, ttl_s=DEV_TOKEN_TTL_S, name=subject)
        request.session["token"] = token
        request.session["person"] = Person(subject, subject, (role,), partner_id).to_session()
        flash(request, _("Signed in as {name} ({role}).").format(name=subject, role=role_label(role)))
        return RedirectResponse(safe_next(request.session.pop("next", None)), status_code=303)

    @router.post("/language", include_in_schema=False)
    async def switch_language(request: Request) -> Response:
        form = await checked_form(request)
        language = str(form.get("language", ""))
        response = RedirectResponse(safe_next(str(form.get("next") or "/")), status_code=303)
        if language in LANGUAGES:
            # Remembered per person (this browser) for a year.
            response.set_cookie(
                LANGUAGE_COOKIE, language, max_age=365 * 86400, httponly=True, samesite="lax",
                secure=settings.cookie_secure,
            )  # fmt: skip
        return response

    return router


def with_query(base: str, **params: str) -> str:
    return base + ("&" if "?" in base else "?") + urlencode(params)
