"""Real OpenID Connect sign-in: Ory Hydra v2.3 (built from its Go module) issues the tokens,
the services trust only Hydra's JWKS and issuer, and the console signs people in through it.

Nothing of the flow is simulated: the browser side is an HTTP client that follows every
redirect by hand (keeping cookies, as a browser does) through Hydra, the login/consent app
and back; the services run as processes against the session's real Kafka and MongoDB-wire
server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from playwright.sync_api import Browser, sync_playwright

from alliance_devstack.components import free_port
from alliance_devstack.demo.story import credit_code
from alliance_devstack.hydra import AUDIENCE, Identity, OidcProvider, running_hydra
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import SERVICES, Platform, ServiceProcess, isolated_env, prefix_of
from alliance_shared.auth.devtokens import mint
from alliance_shared.contract.topics import EVENT_TOPICS
from tests.support.kafka_io import skip_history

#: The first run on a machine builds Hydra from source inside the first test's setup (1.5-2.5
#: minutes on two cores), so the default 300 s per test is too tight there.
pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]

SCOPES = "openid profile offline_access"
#: The services started: the registry serves every call and page these tests make.
NEEDED = ("registry",)
#: Where the console finds the services not started (the discard port: refused at once).
NOT_STARTED = "http://127.0.0.1:9"
#: Where the Authlib client says it wants the code; never fetched, the walk stops there.
APP_CALLBACK = "http://127.0.0.1:9/callback"

ADMIN = Identity("hydra-admin-1", ("registry_admin",), name="Registry Admin One")
AUDITOR = Identity("hydra-auditor-1", ("auditor",), name="Auditor One")


def _college(partner_id: str) -> Identity:
    return Identity(f"hydra-college-{partner_id}", ("college",), partner_id=partner_id, name="College Staff")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with running_hydra(tmp_path_factory.mktemp("hydra")) as provider:
        provider.add(ADMIN)
        provider.add(AUDITOR)
        yield provider


@pytest.fixture(scope="module")
def discovery(idp: OidcProvider) -> dict[str, Any]:
    response = httpx.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    return cast(dict[str, Any], response.json())


@pytest.fixture(scope="module")
def trusting_platform(
    infra: Infrastructure, idp: OidcProvider, dev_keys_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """The registry with Hydra as its only token issuer (JWKS by URL, as in a cluster). Only
    the registry: the pages and calls here need no other service, and fewer processes keep
    the test quick on two cores."""
    run_id = uuid.uuid4().hex[:8]
    env = isolated_env(
        infra.kafka_services, infra.mongo_url, infra.smtp.host, infra.smtp.port, dev_keys_dir / "jwks.json",
        f"oidc_{run_id}",
    )  # fmt: skip
    for name in SERVICES:
        prefix = prefix_of(name)
        del env[prefix + "JWKS_FILE"]
        env[prefix + "JWKS_URL"] = idp.jwks_url
        env[prefix + "JWT_ISSUER"] = idp.issuer
        env[prefix + "JWT_AUDIENCE"] = AUDIENCE

    async def start_at_topic_ends() -> None:
        for name in NEEDED:
            await skip_history(infra.kafka_admin, env[prefix_of(name) + "KAFKA_CONSUMER_GROUP"], EVENT_TOPICS)

    asyncio.run(start_at_topic_ends())
    running = Platform.create(
        env, tmp_path_factory.mktemp(f"oidc-platform-{run_id}"), ports={n: free_port() for n in SERVICES}, only=NEEDED
    )
    try:
        running.start(timeout_s=120)
        yield running
    finally:
        running.stop()


# ---------------------------------------------------------------- the browser side


@dataclass
class Walk:
    """The URLs a browser visited, in order, and the last response it got."""

    visited: list[str]
    last: httpx.Response | None


def walk(
    browser: httpx.Client, url: str, idp: OidcProvider, subject: str | None, *, stop_at: str | None = None
) -> Walk:
    """Follow redirects by hand from ``url``; at the login app's form, sign in as ``subject``
    (None: stop there). Stops before fetching a URL starting with ``stop_at``, or at the
    first page that is not a redirect."""
    visited: list[str] = []
    for _ in range(25):
        visited.append(url)
        if stop_at is not None and url.startswith(stop_at):
            return Walk(visited, None)
        response = browser.get(url)
        if subject is not None and response.status_code == 200 and url.startswith(f"{idp.login_app_url}/login"):
            challenge = httpx.URL(url).params["login_challenge"]
            response = browser.post(
                f"{idp.login_app_url}/login", data={"login_challenge": challenge, "subject": subject}
            )
        if not response.is_redirect:
            return Walk(visited, response)
        url = str(response.url.join(response.headers["location"]))
    hops = "\n  ".join(u.split("?")[0] for u in visited)
    raise AssertionError(f"more than 25 redirects (a sign-in loop?):\n  {hops}")


def claims_of(jwt: str) -> dict[str, Any]:
    """The payload, unverified (the services verify; this only reads what Hydra put in)."""
    payload = jwt.split(".")[1]
    return cast(dict[str, Any], json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def sign_in_with_authlib(
    idp: OidcProvider, discovery: dict[str, Any], identity: Identity, *, audience: str | None = AUDIENCE
) -> dict[str, Any]:
    """The authorization-code flow with PKCE (S256) as a relying party runs it, through Authlib,
    asking for an access token for ``audience`` (the services' ``coop-alliance``)."""
    client_id = f"app-{uuid.uuid4().hex[:8]}"
    client_secret = secrets.token_urlsafe(24)
    idp.hydra.create_client(client_id, client_secret, [APP_CALLBACK], scope=SCOPES)
    idp.add(identity)
    client = OAuth2Client(
        client_id, client_secret, scope=SCOPES, redirect_uri=APP_CALLBACK, code_challenge_method="S256"
    )
    verifier = generate_token(48)
    extra = {"audience": audience} if audience else {}
    url, state = client.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier, **extra)
    with httpx.Client(timeout=10) as browser:
        trail = walk(browser, url, idp, identity.subject, stop_at=APP_CALLBACK)
    callback = trail.visited[-1]
    assert httpx.URL(callback).params["state"] == state
    assert f"login:{identity.subject}" in idp.login.handled
    assert f"consent:{identity.subject}" in idp.login.handled
    token = client.fetch_token(discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    token["_client"] = client
    return cast(dict[str, Any], token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- Hydra ↔ the services


def test_hydra_refuses_a_code_exchange_without_pkce(idp: OidcProvider, discovery: dict[str, Any]) -> None:
    client_id, client_secret = f"no-pkce-{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(24)
    idp.hydra.create_client(client_id, client_secret, [APP_CALLBACK], scope=SCOPES)
    client = OAuth2Client(client_id, client_secret, scope=SCOPES, redirect_uri=APP_CALLBACK)
    url, _state = client.create_authorization_url(discovery["authorization_endpoint"], audience=AUDIENCE)
    with httpx.Client(timeout=10) as browser:
        trail = walk(browser, url, idp, ADMIN.subject, stop_at=APP_CALLBACK)
    params = httpx.URL(trail.visited[-1]).params
    assert "code" not in params
    assert params.get("error") == "invalid_request"
    assert "code_challenge" in params.get("error_description", "") or "PKCE" in params.get("error_hint", "")


def test_a_hydra_token_carries_the_platform_claims(idp: OidcProvider, discovery: dict[str, Any]) -> None:
    token = sign_in_with_authlib(idp, discovery, ADMIN)
    access = claims_of(token["access_token"])
    assert access["iss"] == idp.issuer == discovery["issuer"]
    assert access["aud"] == [AUDIENCE]
    assert access["sub"] == ADMIN.subject
    assert access["roles"] == ["registry_admin"]
    assert access["name"] == ADMIN.name
    assert "ext" not in access, "claims are top level only (mirror_top_level_claims: false)"
    for claim in ("exp", "iat", "sub", "iss", "aud"):
        assert claim in access
    identity = claims_of(token["id_token"])
    assert identity["sub"] == ADMIN.subject
    assert identity["roles"] == ["registry_admin"]
    assert token.get("refresh_token"), "offline_access grants a refresh token"


def test_the_registry_accepts_hydra_tokens_and_their_roles(
    idp: OidcProvider, discovery: dict[str, Any], trusting_platform: Platform, dev_keys_dir: Path
) -> None:
    registry = trusting_platform["registry"].url
    admin = sign_in_with_authlib(idp, discovery, ADMIN)
    name = f"OIDC 测试职业学院 {uuid.uuid4().hex[:6]}"
    partner_id = register_college(registry, admin["access_token"], name)

    # the college's staff: roles and partner binding come from Hydra's claims
    college = sign_in_with_authlib(idp, discovery, _college(partner_id))
    assert claims_of(college["access_token"])["partner_id"] == partner_id
    own = httpx.get(f"{registry}/partners/{partner_id}", headers=bearer(college["access_token"]), timeout=10)
    assert own.status_code == 200, own.text
    refused = httpx.post(
        f"{registry}/partners",
        json=college_body(f"{name} bis"),
        headers={**bearer(college["access_token"]), "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert refused.status_code == 403, refused.text

    # a refreshed token is just as good (the console refreshes rather than re-prompting)
    client = cast(OAuth2Client, admin["_client"])
    refreshed = client.refresh_token(discovery["token_endpoint"], refresh_token=admin["refresh_token"])
    assert refreshed["access_token"] != admin["access_token"]
    listed = httpx.get(
        f"{registry}/partners", params={"q": name}, headers=bearer(refreshed["access_token"]), timeout=10
    )
    assert listed.status_code == 200, listed.text
    assert [p["partner_id"] for p in listed.json()["items"]] == [partner_id]

    # a token not issued for the platform's audience is refused
    elsewhere = sign_in_with_authlib(idp, discovery, ADMIN, audience=None)
    assert claims_of(elsewhere["access_token"])["aud"] == []
    answer = httpx.get(f"{registry}/partners", headers=bearer(elsewhere["access_token"]), timeout=10)
    assert answer.status_code == 401, answer.text

    # the registry trusts Hydra's keys only: a dev-minted token claiming Hydra's issuer fails
    forged = mint(dev_keys_dir, ADMIN.subject, ["registry_admin"], issuer=idp.issuer, audience=AUDIENCE)
    answer = httpx.get(f"{registry}/partners", headers=bearer(forged), timeout=10)
    assert answer.status_code == 401, answer.text


def college_body(name: str) -> dict[str, Any]:
    return {
        "kind": "college",
        "name_zh": name,
        "credit_code": credit_code(),
        "region_code": "440305",
        "sector_code": "P83",
        "address": "深圳市南山区",
        "college": {"level": "higher_vocational", "majors": ["460103"]},
        "contacts": [
            {
                "name": "联络人",
                "email": f"oidc-{uuid.uuid4().hex[:6]}@test.coopalliance.local",
                "phone": "+86 755 2601 8899",
                "position": "cooperation office",
            }
        ],
    }


def register_college(registry: str, admin_token: str, name: str) -> str:
    created = httpx.post(
        f"{registry}/partners",
        json=college_body(name),
        headers={**bearer(admin_token), "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["partner_id"])


# ---------------------------------------------------------------- the console


CONSOLE_CLIENT_ID = "alliance-console"


@pytest.fixture(scope="module")
def console(
    idp: OidcProvider, trusting_platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    client_secret = secrets.token_urlsafe(24)
    idp.hydra.create_client(
        CONSOLE_CLIENT_ID,
        client_secret,
        [f"{public_url}/auth/callback"],
        post_logout_redirect_uris=[public_url, f"{public_url}/"],
        scope=SCOPES,
    )
    urls = {name: NOT_STARTED for name in SERVICES} | {n: s.url for n, s in trusting_platform.services.items()}
    env = {
        "CONSOLE_HOST": "127.0.0.1",
        "CONSOLE_PORT": str(port),
        **{f"CONSOLE_{name.upper()}_URL": url for name, url in urls.items()},
        "CONSOLE_PUBLIC_URL": public_url,
        "CONSOLE_SESSION_SECRET": secrets.token_hex(32),
        "CONSOLE_DEV_LOGIN": "false",
        "CONSOLE_OIDC_ISSUER": idp.issuer,
        "CONSOLE_OIDC_CLIENT_ID": CONSOLE_CLIENT_ID,
        "CONSOLE_OIDC_CLIENT_SECRET": client_secret,
        "CONSOLE_OIDC_SCOPES": SCOPES,
        "CONSOLE_OIDC_AUDIENCE": AUDIENCE,
        # plain HTTP on loopback: a Secure cookie would not come back
        "CONSOLE_COOKIE_SECURE": "false",
    }
    process = ServiceProcess("console", port, env, tmp_path_factory.mktemp("console") / "console.log")
    process.start()
    try:
        process.wait_ready(60)
        yield process
    finally:
        process.stop()


def test_the_console_signs_in_through_hydra_and_shows_registry_data(
    idp: OidcProvider, discovery: dict[str, Any], trusting_platform: Platform, console: ServiceProcess
) -> None:
    name = f"经 Hydra 登录可见的学院 {uuid.uuid4().hex[:6]}"
    admin = sign_in_with_authlib(idp, discovery, ADMIN)
    register_college(trusting_platform["registry"].url, admin["access_token"], name)
    partners_page = f"{console.url}/registry/partners?q={name}"

    with httpx.Client(timeout=30) as browser:
        # anonymous: the page sends the person to sign in, and sign-in goes to the IdP
        trail = walk(browser, partners_page, idp, ADMIN.subject)
        assert trail.last is not None
        assert trail.last.status_code == 200, f"{trail.visited[-1]}: {trail.last.text[:1000]}\n{console.log_tail()}"
        authorize = next(u for u in trail.visited if u.startswith(discovery["authorization_endpoint"]))
        request = httpx.URL(authorize).params
        assert request["client_id"] == CONSOLE_CLIENT_ID
        assert request["code_challenge_method"] == "S256"
        assert request["code_challenge"]
        assert any(u.startswith(f"{idp.login_app_url}/login") for u in trail.visited)
        assert any(u.startswith(f"{idp.login_app_url}/consent") for u in trail.visited)
        assert any(u.startswith(f"{console.url}/auth/callback?code=") for u in trail.visited)
        # back on the page asked for, with the partner the registry returned for the Hydra token
        assert str(trail.last.url) == partners_page or trail.last.url.path == "/registry/partners"
        assert name in trail.last.text

        # the session is a cookie of the console's own; a second page needs no new sign-in
        again = browser.get(partners_page)
        assert again.status_code == 200
        assert name in again.text

        # logging out ends the session at the console and at Hydra (RP-initiated logout)
        out = walk(browser, f"{console.url}/auth/logout", idp, None)
        assert out.last is not None
        assert out.last.status_code < 400, out.last.text[:2000]
        assert f"logout:{ADMIN.subject}" in idp.login.handled
        after = browser.get(partners_page)
        assert after.is_redirect
        assert "/auth/login" in after.headers["location"]


def test_the_console_follows_the_idp_roles(
    idp: OidcProvider, discovery: dict[str, Any], trusting_platform: Platform, console: ServiceProcess
) -> None:
    """A college's staff signed in through Hydra is not the registry admin: the admin's page is refused."""
    admin = sign_in_with_authlib(idp, discovery, ADMIN)
    partner_id = register_college(
        trusting_platform["registry"].url, admin["access_token"], f"角色学院 {uuid.uuid4().hex[:6]}"
    )
    college = idp.add(_college(partner_id))
    with httpx.Client(timeout=30) as browser:
        trail = walk(browser, f"{console.url}/auth/login?next=/registry/partners", idp, college.subject)
        assert f"consent:{college.subject}" in idp.login.handled
        assert any(u.startswith(f"{console.url}/auth/callback?code=") for u in trail.visited)
        assert trail.last is not None
        assert trail.visited[-1] == f"{console.url}/registry/partners"
        assert trail.last.status_code == 403, f"{trail.last.text[:1000]}\n{console.log_tail()}"


def test_the_dev_sign_in_does_not_exist_with_oidc(console: ServiceProcess) -> None:
    with httpx.Client(timeout=10) as browser:
        assert browser.get(f"{console.url}/auth/dev").status_code == 404
        posted = browser.post(f"{console.url}/auth/dev", data={"role": "registry_admin"})
        assert posted.status_code in {403, 404}, "refused before any token is minted"
        assert browser.get(f"{console.url}/registry/partners").is_redirect


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        # Playwright's own browser builds cannot be fetched here: Debian's chromium instead.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def test_a_real_browser_signs_in_through_hydra(
    idp: OidcProvider,
    discovery: dict[str, Any],
    trusting_platform: Platform,
    console: ServiceProcess,
    chromium: Browser,
) -> None:
    """The same sign-in in headless chromium: its cookies, redirects and the login form, as a person meets them."""
    name = f"浏览器经 Hydra 登录 {uuid.uuid4().hex[:6]}"
    admin = sign_in_with_authlib(idp, discovery, ADMIN)
    register_college(trusting_platform["registry"].url, admin["access_token"], name)
    context = chromium.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{console.url}/registry/partners")
        page.wait_for_url(f"{idp.login_app_url}/login**")
        page.get_by_label("Person").select_option(ADMIN.subject)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{console.url}/registry/partners**")
        page.goto(f"{console.url}/registry/partners?q={name}")
        assert page.get_by_text(name).count() >= 1, page.content()[:2000]
        assert page.context.cookies(console.url), "the console keeps the session in its own cookie"
    finally:
        context.close()
