"""Ory Hydra v2.3 as a real OpenID Connect provider on loopback, for the console's sign-in
tests and for trying the OIDC sign-in locally.

* :func:`hydra_binary` builds Hydra from its Go module once (like FerretDB) into the cache;
* :class:`HydraServer` runs it with an in-memory database on free loopback ports, issuing
  JWT access tokens whose top level carries ``roles``, ``partner_id`` and ``name`` (what
  ``alliance_shared.auth.jwt.TokenVerifier`` reads) for the audience ``coop-alliance``;
* :class:`LoginConsent` is the minimal login and consent app Hydra redirects people to: it
  signs in one of the identities the caller registered and grants their claims.

Hydra itself is never mocked: the tests walk its real authorization-code + PKCE flow.

To try the console's OpenID Connect sign-in by hand::

    uv run python -m alliance_devstack.hydra --console-url http://127.0.0.1:8000 \
        --identity college-staff:college:<partner id>

prints the ``CONSOLE_OIDC_*`` and ``<SVC>_JWKS_URL``/``<SVC>_JWT_ISSUER`` settings to start
the console and the services with, and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from alliance_devstack.components import free_port
from alliance_devstack.errors import StackError
from alliance_devstack.install import _go, _require_go, _say, install_lock
from alliance_devstack.paths import cache_dir

HYDRA_MODULE = "github.com/ory/hydra/v2"
HYDRA_VERSION = "v2.3.0"
#: Hydra's go.mod replaces its API client with the nested module ./internal/httpclient, which
#: module zips leave out; v2.2.1 is the newest release of that client the proxy serves and the
#: one go.mod requires, and it compiles with v2.3.0's commands.
HYDRA_CLIENT_MODULE = "github.com/ory/hydra-client-go/v2"
HYDRA_CLIENT_VERSION = "v2.2.1"
#: The audience the services verify (``<SVC>_JWT_AUDIENCE``).
AUDIENCE = "coop-alliance"
#: Custom claims Hydra puts at the top level of its JWT access tokens.
TOP_LEVEL_CLAIMS = ("roles", "partner_id", "name")
HOST = "127.0.0.1"
GCC_HINT = "Hydra needs cgo for its SQLite store: install a C compiler (Debian/Ubuntu: apt-get install gcc)."


def hydra_binary() -> Path:
    """Ory Hydra, built from its Go module on first use (about 1.5 minutes on two cores)."""
    home = cache_dir() / "hydra" / HYDRA_VERSION
    target = home / "hydra"
    if _runs(target):
        return target
    with install_lock("hydra"):
        if _runs(target):
            return target
        go = _require_go()
        if shutil.which("gcc") is None and shutil.which("cc") is None:
            raise StackError(GCC_HINT)
        _say(f"building Ory Hydra {HYDRA_VERSION} with Go into {target} (once, a minute or two)")
        # cgo for go-sqlite3: DSN=memory is SQLite in memory (build tag `sqlite`, as Hydra's Makefile).
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "1"}
        source = home / "src"
        shutil.rmtree(source, ignore_errors=True)
        home.mkdir(parents=True, exist_ok=True)
        try:
            # `go install module@version` is refused by the proxy here (as for FerretDB), and it
            # would not honour go.mod's replace directives anyway: download and build in place.
            with tempfile.TemporaryDirectory() as scratch:
                hydra = _download(go, f"{HYDRA_MODULE}@{HYDRA_VERSION}", scratch, env)
                client = _download(go, f"{HYDRA_CLIENT_MODULE}@{HYDRA_CLIENT_VERSION}", scratch, env)
            shutil.copytree(hydra, source)
            shutil.copytree(client, source / "internal" / "httpclient")
            for path in [source, *source.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
            partial = home / "hydra.partial"
            ldflags = f"-X github.com/ory/hydra/v2/driver/config.Version={HYDRA_VERSION}"
            build = ["build", "-trimpath", "-tags", "sqlite,sqlite_omit_load_extension", "-ldflags", ldflags]
            _go(go, [*build, "-o", str(partial), "."], str(source), env)
            partial.rename(target)
        finally:
            shutil.rmtree(source, ignore_errors=True)
        if not _runs(target):
            raise StackError(f"the Hydra binary built at {target} does not run (`{target} version` fails)")
    return target


def _download(go: str, module: str, scratch: str, env: dict[str, str]) -> Path:
    return Path(json.loads(_go(go, ["mod", "download", "-json", module], scratch, env))["Dir"])


def _runs(binary: Path) -> bool:
    if not binary.exists():
        return False
    try:
        result = subprocess.run([str(binary), "version"], capture_output=True, timeout=30, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and HYDRA_VERSION.encode() in result.stdout


@dataclass
class HydraServer:
    """One Hydra process (``serve all``, in-memory store) on free loopback ports.

    ``login_url``/``consent_url``/``logout_url`` are where Hydra sends the browser; with a
    :class:`LoginConsent` they are known only once it serves, so :meth:`start` takes them.
    """

    workdir: Path
    public_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    access_token_ttl: str = "1h"  # noqa: S105 - a duration, not a secret
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        """Also the public URL: discovery lives at ``{issuer}/.well-known/openid-configuration``."""
        return f"http://{HOST}:{self.public_port}"

    @property
    def admin_url(self) -> str:
        return f"http://{HOST}:{self.admin_port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    @property
    def log(self) -> Path:
        return self.workdir / "hydra.log"

    def config(self, login_url: str, consent_url: str, logout_url: str) -> dict[str, Any]:
        return {
            "dsn": "memory",
            "log": {"level": "info", "format": "text"},
            "serve": {
                "public": {"host": HOST, "port": self.public_port},
                "admin": {"host": HOST, "port": self.admin_port},
                # Plain HTTP on loopback (the --dev flag): the CSRF cookies must not be Secure.
                "cookies": {"same_site_mode": "Lax"},
            },
            "urls": {
                "self": {"issuer": self.issuer, "public": self.issuer, "admin": self.admin_url},
                "login": login_url,
                "consent": consent_url,
                "logout": logout_url,
                "error": login_url.rsplit("/", 1)[0] + "/error",
            },
            "secrets": {"system": [secrets.token_hex(32)]},
            # The services verify access tokens themselves against the JWKS: they must be JWTs.
            "strategies": {"access_token": "jwt"},
            "oauth2": {
                "allowed_top_level_claims": list(TOP_LEVEL_CLAIMS),
                # The services read the claims at the top level; no second copy under `ext`.
                "mirror_top_level_claims": False,
                "expose_internal_errors": True,
                # Every client must use PKCE: a client that does not is refused, not let through.
                "pkce": {"enforced": True},
            },
            "ttl": {"access_token": self.access_token_ttl},
        }

    def start(self, login_url: str, consent_url: str, logout_url: str, *, timeout_s: float = 60.0) -> None:
        binary = hydra_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "hydra.yaml"
        # JSON is YAML; Hydra picks the parser by the file's extension.
        config.write_text(json.dumps(self.config(login_url, consent_url, logout_url), indent=2))
        config.chmod(0o600)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - the binary we built, fixed arguments
                [str(binary), "serve", "all", "--dev", "--sqa-opt-out", "-c", str(config)],
                cwd=self.workdir,
                env={**os.environ, "SQA_OPT_OUT": "true"},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise StackError(f"Hydra exited with {code} while starting:\n{self.log_tail()}")
            if _get_ok(f"{self.admin_url}/health/ready") and _get_ok(f"{self.issuer}/.well-known/openid-configuration"):
                return
            time.sleep(0.2)
        raise StackError(f"Hydra was not ready after {timeout_s:.0f}s; see {self.log}:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def create_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Sequence[str],
        *,
        post_logout_redirect_uris: Sequence[str] = (),
        scope: str = "openid profile offline_access",
    ) -> dict[str, Any]:
        """A confidential authorization-code client (PKCE is the client's choice) allowed the
        audience ``coop-alliance``, through the admin API."""
        body = {
            "client_id": client_id,
            "client_secret": client_secret,
            "client_name": client_id,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": list(redirect_uris),
            "post_logout_redirect_uris": list(post_logout_redirect_uris),
            "scope": scope,
            "audience": [AUDIENCE],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        response = httpx.post(f"{self.admin_url}/admin/clients", json=body, timeout=10)
        if response.status_code != 201:
            raise StackError(f"Hydra refused the client {client_id}: {response.status_code} {response.text}")
        return cast(dict[str, Any], response.json())


def _get_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class Identity:
    """A person the login app can sign in, with the claims the platform reads."""

    subject: str
    roles: tuple[str, ...]
    partner_id: str | None = None
    name: str | None = None

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {"roles": list(self.roles)}
        if self.partner_id:
            claims["partner_id"] = self.partner_id
        if self.name:
            claims["name"] = self.name
        return claims


@dataclass
class LoginConsent:
    """Hydra's login, consent and logout endpoints for tests and local trials.

    ``GET /login`` shows a form to pick one of the registered identities, or signs in
    ``auto_subject`` straight away when set; consent is granted for every requested scope
    and requested access-token audience (as Ory's reference consent app does: a client that
    wants tokens for ``coop-alliance`` must ask for that audience), with the identity's
    claims in both the ID token and the access token. Serve :attr:`app`, e.g. with
    :func:`serving_in_thread`.
    """

    admin_url: str
    identities: dict[str, Identity] = field(default_factory=dict)
    auto_subject: str | None = None
    #: Every challenge handled, in order ("login:<subject>", "consent:<subject>", "logout:<subject>").
    handled: list[str] = field(default_factory=list)

    def add(self, identity: Identity) -> Identity:
        self.identities[identity.subject] = identity
        return identity

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/login", self._login, methods=["GET", "POST"]),
                Route("/consent", self._consent, methods=["GET"]),
                Route("/logout", self._logout, methods=["GET"]),
                Route("/error", self._error, methods=["GET"]),
            ]
        )

    async def _admin(self, method: str, path: str, challenge: Mapping[str, str], body: Any = None) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.admin_url, timeout=10) as client:
            response = await client.request(method, f"/admin/oauth2/auth/requests/{path}", params=challenge, json=body)
        if response.status_code != 200:
            raise StackError(f"Hydra admin {method} {path}: {response.status_code} {response.text}")
        return cast(dict[str, Any], response.json())

    async def _login(self, request: Request) -> Response:
        form = await request.form() if request.method == "POST" else None
        challenge = str((form or request.query_params).get("login_challenge", ""))
        if not challenge:
            return PlainTextResponse("login_challenge missing", status_code=400)
        login = await self._admin("GET", "login", {"login_challenge": challenge})
        # Hydra remembers a session: it must then be accepted for the same subject.
        subject = login["subject"] if login.get("skip") else None
        if subject is None and form is not None:
            subject = str(form.get("subject", ""))
        if subject is None:
            subject = self.auto_subject
        if subject is None:
            return HTMLResponse(self._form(challenge))
        if subject not in self.identities:
            return PlainTextResponse(f"unknown subject {subject!r}", status_code=400)
        # Remembered for the browser session, as an IdP's single sign-on is: the next sign-in of
        # this browser skips the form, and RP-initiated logout has a session to end.
        accepted = await self._admin(
            "PUT",
            "login/accept",
            {"login_challenge": challenge},
            {"subject": subject, "remember": True, "remember_for": 0},
        )
        self.handled.append(f"login:{subject}")
        return RedirectResponse(accepted["redirect_to"], status_code=303)

    def _form(self, challenge: str) -> str:
        options = "".join(
            f'<option value="{html.escape(s)}">{html.escape(i.name or s)} ({html.escape(", ".join(i.roles))})</option>'
            for s, i in self.identities.items()
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in (test IdP)</title></head>'
            '<body><main><h1>Sign in</h1><form method="post" action="/login">'
            f'<input type="hidden" name="login_challenge" value="{html.escape(challenge)}">'
            f'<label for="subject">Person</label> <select id="subject" name="subject">{options}</select> '
            '<button type="submit">Sign in</button></form></main></body></html>'
        )

    async def _consent(self, request: Request) -> Response:
        challenge = request.query_params.get("consent_challenge", "")
        if not challenge:
            return PlainTextResponse("consent_challenge missing", status_code=400)
        consent = await self._admin("GET", "consent", {"consent_challenge": challenge})
        identity = self.identities.get(consent["subject"])
        if identity is None:
            return PlainTextResponse(f"unknown subject {consent['subject']!r}", status_code=400)
        claims = identity.claims()
        accepted = await self._admin(
            "PUT",
            "consent/accept",
            {"consent_challenge": challenge},
            {
                "grant_scope": consent.get("requested_scope") or [],
                "grant_access_token_audience": consent.get("requested_access_token_audience") or [],
                "remember": False,
                "session": {"access_token": claims, "id_token": claims},
            },
        )
        self.handled.append(f"consent:{identity.subject}")
        return RedirectResponse(accepted["redirect_to"], status_code=303)

    async def _logout(self, request: Request) -> Response:
        challenge = request.query_params.get("logout_challenge", "")
        if not challenge:
            return PlainTextResponse("logout_challenge missing", status_code=400)
        logout = await self._admin("GET", "logout", {"logout_challenge": challenge})
        accepted = await self._admin("PUT", "logout/accept", {"logout_challenge": challenge})
        self.handled.append(f"logout:{logout.get('subject')}")
        return RedirectResponse(accepted["redirect_to"], status_code=303)

    async def _error(self, request: Request) -> Response:
        details = urlencode(dict(request.query_params))
        return PlainTextResponse(f"Hydra reported an error: {details}", status_code=400)


@dataclass
class OidcProvider:
    """A running Hydra and its login/consent app (see :func:`running_hydra`)."""

    hydra: HydraServer
    login: LoginConsent
    login_app_url: str

    @property
    def issuer(self) -> str:
        return self.hydra.issuer

    @property
    def jwks_url(self) -> str:
        return self.hydra.jwks_url

    def add(self, identity: Identity) -> Identity:
        return self.login.add(identity)


@contextmanager
def running_hydra(workdir: Path) -> Iterator[OidcProvider]:
    """Hydra plus its login/consent app on loopback until the block ends. The app runs in a
    thread of its own, so a caller that blocks (a sync browser driver, a sync test) does
    not stall the redirects it causes."""
    hydra = HydraServer(workdir)
    login = LoginConsent(admin_url=hydra.admin_url)
    with serving_in_thread(login.app, name="hydra-login-consent") as port:
        base = f"http://{HOST}:{port}"
        hydra.start(f"{base}/login", f"{base}/consent", f"{base}/logout")
        try:
            yield OidcProvider(hydra, login, base)
        finally:
            hydra.stop()


@contextmanager
def serving_in_thread(app: ASGIApp, *, name: str, timeout_s: float = 10.0) -> Iterator[int]:
    """Serve ``app`` on a free 127.0.0.1 port from a thread with its own event loop; yields the port."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise StackError(f"the {name} app did not start")
        time.sleep(0.02)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


#: Who can sign in when trying it by hand (college and enterprise staff need --identity with a partner).
DEFAULT_IDENTITIES = (
    Identity("officer-zhang", ("funding_officer",), name="张科长 (funding officer)"),
    Identity("approver-li", ("funding_approver",), name="李处长 (funding approver)"),
    Identity("supervisor-zhao", ("supervisor",), name="赵督导 (supervisor)"),
    Identity("expert-sun", ("evaluator",), name="孙专家 (evaluator)"),
    Identity("admin-chen", ("registry_admin",), name="陈管理员 (registry admin)"),
    Identity("auditor-ma", ("auditor",), name="马审计 (auditor)"),
)


def _identity(text: str) -> Identity:
    subject, _, rest = text.partition(":")
    role, _, partner_id = rest.partition(":")
    if not subject or not role:
        raise argparse.ArgumentTypeError("expected SUBJECT:ROLE or SUBJECT:ROLE:PARTNER_ID")
    return Identity(subject, (role,), partner_id=partner_id or None, name=subject)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alliance_devstack.hydra", description="Ory Hydra on loopback for trying the console's sign-in"
    )
    parser.add_argument("--console-url", default="http://127.0.0.1:8000", help="the console's CONSOLE_PUBLIC_URL")
    parser.add_argument("--identity", type=_identity, action="append", default=[], help="SUBJECT:ROLE[:PARTNER_ID]")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="alliance-hydra-"))
    # SIGTERM ends it like Ctrl-C, so Hydra (in a session of its own) is stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    console = str(args.console_url).rstrip("/")
    secret = secrets.token_urlsafe(24)
    try:
        with running_hydra(workdir) as provider:
            for identity in (*DEFAULT_IDENTITIES, *args.identity):
                provider.add(identity)
            provider.hydra.create_client(
                "alliance-console", secret, [f"{console}/auth/callback"], post_logout_redirect_uris=[console]
            )
            settings = {
                "CONSOLE_OIDC_ISSUER": provider.issuer,
                "CONSOLE_OIDC_CLIENT_ID": "alliance-console",
                "CONSOLE_OIDC_CLIENT_SECRET": secret,
                "CONSOLE_OIDC_AUDIENCE": AUDIENCE,
                "CONSOLE_DEV_LOGIN": "false",
            }
            for service in ("REGISTRY", "FUNDING", "EVALUATION", "NOTIFICATIONS"):
                settings |= {f"{service}_JWKS_URL": provider.jwks_url, f"{service}_JWT_ISSUER": provider.issuer}
            print(f"Ory Hydra {HYDRA_VERSION}: issuer {provider.issuer}, login app {provider.login_app_url}")
            print(f"log: {provider.hydra.log}; unset <SVC>_JWKS_FILE for the services. Settings:")
            for key, value in settings.items():
                print(f"export {key}={shlex.quote(value)}")
            sys.stdout.flush()
            while provider.hydra.process is not None and provider.hydra.process.poll() is None:
                time.sleep(1)
            print(f"Hydra exited:\n{provider.hydra.log_tail()}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
