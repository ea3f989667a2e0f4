"""Every endpoint × every role: who is let through, who gets 403 (role or object check)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_notifications.app import build_app
from tests.integration.notifications.notifications_support import notifications_settings
from tests.support.authz import ALL_ROLES, api_routes, role_cases, role_token, shapes
from tests.support.http import bearer, running

pytestmark = pytest.mark.infra

ADM, OPS, AUD, COL, ENT = "registry_admin", "ops", "auditor", "college", "enterprise"
EVERYONE = dict.fromkeys(ALL_ROLES, 200)
WH = "/partners/col-authz/webhooks"
RULE = {
    "event_type": "org.coopalliance.funding.tranche.paid.v1",
    "selectors": ["award_recipient"],
    "category": "operational",
    "channels": ["inbox"],
    "template": "funding.tranche.paid",
}

# (method, path, body, {role: expected status for roles let through}); other roles: 403.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("GET", "/inbox", None, EVERYONE),
    ("GET", "/inbox/unread-count", None, EVERYONE),
    ("POST", "/inbox/read-all", None, EVERYONE),
    ("POST", "/inbox/none/read", None, dict.fromkeys(ALL_ROLES, 404)),
    ("GET", "/recipients/partner:col-authz/preferences", None, {COL: 200}),
    ("PUT", "/recipients/partner:col-authz/preferences", {"muted": {}}, {COL: 428}),
    ("GET", "/recipients/member:ops-user/preferences", None, {OPS: 200}),
    ("POST", WH, {"url": "https://127.0.0.1:9/authz"}, {COL: 201}),  # allow-listed: no lookup
    ("GET", WH, None, {COL: 200, OPS: 200, AUD: 200}),
    ("GET", f"{WH}/none", None, {COL: 404, OPS: 404, AUD: 404}),
    ("POST", f"{WH}/none/verify", None, {COL: 404}),
    ("POST", f"{WH}/none/rotate-secret", None, {COL: 404}),
    ("POST", f"{WH}/none/disable", {"reason": "r"}, {COL: 404, OPS: 404}),
    ("GET", "/role-groups/supervisors", None, {ADM: 200, OPS: 200, AUD: 200}),
    ("PUT", "/role-groups/supervisors", {"members": []}, {ADM: 428, OPS: 428}),
    ("GET", "/deliveries", None, {OPS: 200, AUD: 200}),
    ("GET", "/deliveries/none", None, {OPS: 404, AUD: 404}),
    ("POST", "/deliveries/none/resend", None, {OPS: 404}),
    ("GET", "/routing-rules", None, {ADM: 200, OPS: 200, AUD: 200}),
    ("PUT", "/routing-rules", {"rules": [RULE]}, {ADM: 428}),
    ("GET", "/routing-rules/versions", None, {ADM: 200, OPS: 200, AUD: 200}),
    ("POST", "/routing-rules/dry-run", {"event_id": "none"}, {ADM: 404, OPS: 404, AUD: 404}),
    ("GET", "/audit/verify", None, {OPS: 200, AUD: 200}),
    ("GET", "/audit/records", None, {OPS: 200, AUD: 200}),
]
#: Streams forever, so it is not in the table: any authenticated caller, own inbox only
#: (the same ``own_recipient_id`` as /inbox); without a token it is refused.
STREAM = ("GET", "/inbox/stream")

CASES = role_cases(ENDPOINTS)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = notifications_settings(infra, "authz", dev_keys_dir, run_consumers=False)
    async with running(build_app(settings)) as http:
        yield http


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
async def test_endpoint_role(
    client: httpx.AsyncClient, dev_keys_dir: Path, method: str, path: str, body: Any, role: str, expected: int
) -> None:
    response = await client.request(method, path, json=body, headers=role_token(dev_keys_dir, role))
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["code"] in ("auth.role_forbidden", "auth.object_forbidden")


async def test_every_route_is_in_the_table(infra: Infrastructure, dev_keys_dir: Path) -> None:
    app = build_app(notifications_settings(infra, "authz", dev_keys_dir, run_consumers=False))
    routes = api_routes(app)

    ids = {"none", "col-authz", "supervisors"}
    assert shapes(routes, ids) == shapes([*((m, p) for m, p, _, _ in ENDPOINTS), STREAM], ids)


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/inbox"), STREAM, ("GET", "/deliveries")):
        response = await client.request(method, path)
        assert response.status_code == 401
        assert response.json()["code"] == "auth.missing_token"


async def test_a_partner_cannot_reach_another_partners_inbox_preferences_or_webhooks(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    other = bearer(dev_keys_dir, COL, partner_id="col-other")
    for method, path in (
        ("GET", "/recipients/partner:col-authz/preferences"),
        ("GET", WH),
        ("POST", f"{WH}/none/verify"),
    ):
        response = await client.request(method, path, headers=other)
        assert response.status_code == 403
        assert response.json()["code"] == "auth.object_forbidden"
    # A member cannot pose as a partner's contact, nor as another member.
    officer = bearer(dev_keys_dir, "funding_officer", sub="officer-zhang")
    assert (await client.get("/recipients/member:officer-li/preferences", headers=officer)).status_code == 403
    assert (await client.get("/recipients/member:officer-zhang/preferences", headers=officer)).status_code == 200
