"""Every endpoint × every role: who is let through, who gets 403 (refused before any I/O)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from tests.integration.registry.registry_support import agreement_body, partner_body, registry_settings
from tests.support.authz import ALL_ROLES, api_routes, role_cases, role_token, shapes
from tests.support.http import running

pytestmark = pytest.mark.infra

ADM, AUD, COL, ENT, AGY = "registry_admin", "auditor", "college", "enterprise", "agency_staff"
COLLEGE_ID, ENTERPRISE_ID = "col-authz", "ent-authz"


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ALL_ROLES, status)


PROFILE = {k: v for k, v in partner_body("enterprise").items() if k != "contacts"}
SEAT = {"position": "director", "representative": "张伟", "term_start": "2026-01-01", "term_end": "2028-12-31"}
GRANT = {"certificate_number": "n-1", "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2099-01-01T00:00:00Z"}
AGREEMENT = agreement_body("col-none", "ent-none")
REASON = {"reason": "r"}
INCENTIVE = {"partner_id": "none", "kind": "land", "reference": "r-1", "valid_from": "2026-06-01T00:00:00Z"}
REGISTER_READERS = {ADM: 200, AUD: 200, ENT: 200, AGY: 200}

# (method, path, body, {role: expected status for roles let through}); every other role: 403.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("POST", "/partners", {"kind": "enterprise"}, {ADM: 422}),
    ("GET", "/partners", None, everyone(200)),
    ("GET", "/partners/none", None, everyone(404)),
    ("PUT", "/partners/none", PROFILE, {ADM: 428}),
    ("PUT", f"/partners/{COLLEGE_ID}/contacts", {"contacts": []}, {ADM: 428, COL: 428, ENT: 403}),
    ("POST", "/partners/none/deactivate", REASON, {ADM: 404}),
    ("GET", "/partners/none/profile", None, everyone(404)),
    # Colleges and enterprises apply for themselves only (this partner does not exist: 404).
    ("POST", "/memberships", {"partner_id": COLLEGE_ID, "reason": "r"}, {ADM: 404, COL: 404, ENT: 403}),
    ("GET", "/memberships", None, everyone(200)),
    ("GET", "/memberships/none", None, everyone(404)),
    *(
        ("POST", f"/memberships/none/{a}", REASON, {ADM: 404})
        for a in ("admit", "reject", "suspend", "reinstate", "withdraw")
    ),
    ("POST", "/memberships/none/expel", REASON, {ADM: 404}),
    ("GET", "/council", None, everyone(404)),
    ("POST", "/council", {"seats": [{**SEAT, "partner_id": "none"}], "reason": "r"}, {ADM: 422}),
    ("PUT", "/council/seats/none", {**SEAT, "reason": "r"}, {ADM: 404}),
    ("POST", "/council/seats/none/vacate", REASON, {ADM: 404}),
    ("POST", "/certifications", {"partner_id": ENTERPRISE_ID}, {ADM: 404, ENT: 404, COL: 403}),
    ("GET", "/certifications", None, everyone(200)),
    ("GET", "/certifications/none", None, everyone(404)),
    ("POST", "/certifications/none/grant", GRANT, {ADM: 404}),
    ("POST", "/certifications/none/reject", REASON, {ADM: 404}),
    ("POST", "/certifications/none/revoke", REASON, {ADM: 404}),
    # Agencies record as their own partner; enterprises read their own register, agencies what they granted.
    ("POST", "/incentives", INCENTIVE, {AGY: 404}),
    ("GET", "/incentives", None, REGISTER_READERS),
    ("GET", "/incentives?partner_id=none", None, {**REGISTER_READERS, ENT: 403}),
    ("GET", "/incentives?agency_id=none", None, {**REGISTER_READERS, AGY: 403}),
    ("GET", "/incentives/summary", None, REGISTER_READERS),
    ("POST", "/agreements", AGREEMENT, {ADM: 422}),
    ("GET", "/agreements", None, everyone(200)),
    ("GET", "/agreements/none", None, everyone(404)),
    ("GET", "/agreements/none/versions", None, everyone(404)),
    ("POST", "/agreements/none/sign", {}, {ADM: 404, COL: 404, ENT: 404}),
    ("POST", "/agreements/none/activate", None, {ADM: 404}),
    ("POST", "/agreements/none/amendments", {**AGREEMENT, "summary": "s"}, {ADM: 428}),
    ("POST", "/agreements/none/amendments/sign", {}, {ADM: 404, COL: 404, ENT: 404}),
    ("POST", "/agreements/none/amendments/withdraw", REASON, {ADM: 404}),
    ("POST", "/agreements/none/suspend", REASON, {ADM: 404}),
    ("POST", "/agreements/none/resume", REASON, {ADM: 404}),
    ("POST", "/agreements/none/terminate", REASON, {ADM: 404}),
    ("GET", "/matching/none", None, everyone(404)),
    # The audit trail's routes every service carries (alliance_shared.web).
    ("GET", "/audit/verify", None, {"ops": 200, AUD: 200}),
    ("GET", "/audit/records", None, {"ops": 200, AUD: 200}),
]

CASES = role_cases(ENDPOINTS)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = registry_settings(infra, "authz", dev_keys_dir, run_consumers=False)
    async with running(build_app(settings)) as http:
        yield http


def token(keys: Path, role: str) -> dict[str, str]:
    return role_token(keys, role, COLLEGE_ID, ENTERPRISE_ID)


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
async def test_endpoint_role(
    client: httpx.AsyncClient, dev_keys_dir: Path, method: str, path: str, body: Any, role: str, expected: int
) -> None:
    response = await client.request(method, path, json=body, headers=token(dev_keys_dir, role))
    assert response.status_code == expected, response.text
    assert response.headers["content-type"].startswith("application/problem+json") or expected == 200
    if expected == 403:
        allowed = next(a for m, p, _, a in ENDPOINTS if (m, p) == (method, path))
        code = "auth.object_forbidden" if role in allowed else "auth.role_forbidden"
        assert response.json()["code"] == code


async def test_every_route_is_in_the_table(infra: Infrastructure, dev_keys_dir: Path) -> None:
    app = build_app(registry_settings(infra, "authz", dev_keys_dir, run_consumers=False))
    routes = api_routes(app)

    ids = {"none", COLLEGE_ID}
    assert shapes(routes, ids) == shapes(((m, p) for m, p, _, _ in ENDPOINTS), ids)


async def test_openapi_is_complete(infra: Infrastructure, dev_keys_dir: Path) -> None:
    """Every route has a summary and a typed 2xx response; every request body has examples."""
    schema = build_app(registry_settings(infra, "authz", dev_keys_dir, run_consumers=False)).openapi()
    components = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            ok = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            if path not in {"/healthz", "/readyz", "/metrics"}:
                assert "$ref" in str(ok.get("content", {})), (method, path)
            body = operation.get("requestBody")
            if body:
                ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
                assert components[ref].get("examples"), (method, path, ref)


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/partners")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.missing_token"
