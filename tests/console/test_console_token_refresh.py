"""The console refreshes a person's access token with the IdP's refresh token instead of
sending them back to sign in: a real Ory Hydra issuing access tokens that live a few
seconds, the registry trusting only Hydra, the console signed in through Hydra."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alliance_devstack.components import free_port
from alliance_devstack.hydra import AUDIENCE, HOST, HydraServer, Identity, LoginConsent, serving_in_thread
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import SERVICES, Platform, ServiceProcess, isolated_env, prefix_of
from alliance_shared.contract.topics import EVENT_TOPICS
from tests.support.kafka_io import skip_history

#: Building Hydra from source on a fresh machine happens in this module's setup.
pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]

SCOPES = "openid profile offline_access"
ACCESS_TOKEN_TTL_S = 6
ADMIN = Identity("refresh-admin-1", ("registry_admin",), name="Registry Admin Refresh")
NOT_STARTED = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def hydra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HydraServer, LoginConsent, str]]:
    server = HydraServer(tmp_path_factory.mktemp("hydra"), access_token_ttl=f"{ACCESS_TOKEN_TTL_S}s")
    login = LoginConsent(admin_url=server.admin_url)
    with serving_in_thread(login.app, name="hydra-login-consent") as port:
        base = f"http://{HOST}:{port}"
        # Hydra generates its signing keys at its first requests: slow on a busy machine.
        server.start(f"{base}/login", f"{base}/consent", f"{base}/logout", timeout_s=240)
        try:
            login.add(ADMIN)
            yield server, login, base
        finally:
            server.stop()


@pytest.fixture(scope="module")
def console(
    hydra: tuple[HydraServer, LoginConsent, str],
    infra: Infrastructure,
    dev_keys_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    server, _login, _base = hydra
    env = isolated_env(
        infra.kafka_services, infra.mongo_url, infra.smtp.host, infra.smtp.port, dev_keys_dir / "jwks.json",
        f"refresh_{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    prefix = prefix_of("registry")
    del env[prefix + "JWKS_FILE"]
    env |= {
        prefix + "JWKS_URL": server.jwks_url,
        prefix + "JWT_ISSUER": server.issuer,
        prefix + "JWT_AUDIENCE": AUDIENCE,
    }
    asyncio.run(skip_history(infra.kafka_admin, env[prefix + "KAFKA_CONSUMER_GROUP"], EVENT_TOPICS))
    logs = tmp_path_factory.mktemp("refresh-logs")
    platform = Platform.create(env, logs, ports={"registry": free_port()}, only=("registry",))
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    client_secret = secrets.token_urlsafe(24)
    server.create_client("console-refresh", client_secret, [f"{public_url}/auth/callback"], scope=SCOPES)
    urls = {name: NOT_STARTED for name in SERVICES} | {"registry": platform["registry"].url}
    process = ServiceProcess(
        "console",
        port,
        {
            "CONSOLE_HOST": "127.0.0.1",
            "CONSOLE_PORT": str(port),
            **{f"CONSOLE_{name.upper()}_URL": url for name, url in urls.items()},
            "CONSOLE_PUBLIC_URL": public_url,
            "CONSOLE_SESSION_SECRET": secrets.token_hex(32),
            "CONSOLE_OIDC_ISSUER": server.issuer,
            "CONSOLE_OIDC_CLIENT_ID": "console-refresh",
            "CONSOLE_OIDC_CLIENT_SECRET": client_secret,
            "CONSOLE_OIDC_SCOPES": SCOPES,
            "CONSOLE_OIDC_AUDIENCE": AUDIENCE,
            "CONSOLE_COOKIE_SECURE": "false",
        },
        logs / "console.log",
    )
    try:
        platform.start(timeout_s=120)
        process.start()
        process.wait_ready(120)
        yield public_url
    finally:
        process.stop()
        platform.stop()


def sign_in(browser: httpx.Client, console: str, login_app: str, subject: str, page: str) -> httpx.Response:
    """Follow the redirects by hand, as a browser does, from ``page`` through Hydra's login back to ``page``."""
    url = f"{console}{page}"
    for _ in range(25):
        response = browser.get(url)
        if response.status_code == 200 and url.startswith(f"{login_app}/login"):
            challenge = httpx.URL(url).params["login_challenge"]
            response = browser.post(f"{login_app}/login", data={"login_challenge": challenge, "subject": subject})
        if not response.is_redirect:
            return response
        url = str(response.url.join(response.headers["location"]))
    raise AssertionError("more than 25 redirects")


def test_an_expired_access_token_is_refreshed_not_a_new_sign_in(
    hydra: tuple[HydraServer, LoginConsent, str], console: str
) -> None:
    _server, _login, login_app = hydra
    with httpx.Client(timeout=20) as browser:
        first = sign_in(browser, console, login_app, ADMIN.subject, "/registry/partners")
        assert first.status_code == 200, first.text[:500]
        assert str(first.url).startswith(f"{console}/registry/partners")
        cookie = browser.cookies.get("console_session")
        time.sleep(ACCESS_TOKEN_TTL_S + 2)  # the access token the session holds has expired
        again = browser.get(f"{console}/registry/partners")
        # Without a refresh the registry answers 401 and the console sends the person to sign in (303).
        assert again.status_code == 200, (again.status_code, again.headers.get("location"))
        assert browser.cookies.get("console_session") != cookie, "the refreshed token is kept in the session"
        later = browser.get(f"{console}/registry/partners")
        assert later.status_code == 200
