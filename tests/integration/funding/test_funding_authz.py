"""Every endpoint × every role: who is let through the role check, who gets 403.

Ids that do not exist keep this cheap: a caller let through gets 404, 428 (no
If-Match) or 422 (a body the API refuses) — never a 403 — and the others get 403
``auth.role_forbidden`` before any I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_funding.app import build_app
from tests.integration.funding.funding_support import funding_settings
from tests.support.authz import api_routes, role_cases, role_token, shapes
from tests.support.http import running

pytestmark = pytest.mark.infra

OFF, APP, AUD, COL, ENT = "funding_officer", "funding_approver", "auditor", "college", "enterprise"
EVERYONE = {OFF: 200, APP: 200, AUD: 200, COL: 200, ENT: 200}
STAFF_404 = {OFF: 404, APP: 404, AUD: 404}
ALL_404 = {OFF: 404, APP: 404, AUD: 404, COL: 404, ENT: 404}
APPLICATION_BODY = {
    "programme_id": "none",
    "agreement_id": "none",
    "requested_minor": 100,
    "cofunding_minor": 100,
    "budget_lines": [{"category": "equipment", "amount_minor": 100}],
}
REVISION_BODY = {k: v for k, v in APPLICATION_BODY.items() if k not in {"programme_id", "agreement_id"}}
STATEMENT_BODY = {
    "enterprise_id": "none",
    "year": 2026,
    "investments": [],
    "education_surcharge_due_minor": 0,
    "local_education_surcharge_due_minor": 0,
}
T = "/awards/none/tranches/none"

# (method, path, body, {role: expected status for roles let through}); other roles: 403.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("POST", "/programmes", {}, {OFF: 422}),
    ("GET", "/programmes", None, EVERYONE),
    ("GET", "/programmes/none", None, ALL_404),
    ("PUT", "/programmes/none", {}, {OFF: 428}),
    ("POST", "/programmes/none/open", None, {OFF: 428}),
    ("POST", "/programmes/none/close", {"reason": "r"}, {OFF: 428}),
    ("POST", "/programmes/none/finalise", None, {OFF: 428}),
    ("GET", "/programmes/none/ledger", None, STAFF_404),
    ("GET", "/programmes/none/ledger/journal", None, STAFF_404),
    ("GET", "/programmes/none/ledger/verify", None, STAFF_404),
    ("POST", "/applications", APPLICATION_BODY, {COL: 404, ENT: 404}),
    ("GET", "/applications", None, EVERYONE),
    # Every service's audit trail (alliance_shared.web.app.audit_router), for ops and auditors.
    ("GET", "/audit/verify", None, {"ops": 200, AUD: 200}),
    ("GET", "/audit/records", None, {"ops": 200, AUD: 200}),
    ("GET", "/applications/none", None, ALL_404),
    ("GET", "/applications/none/eligibility", None, ALL_404),
    ("PUT", "/applications/none", REVISION_BODY, {COL: 404, ENT: 404}),
    ("POST", "/applications/none/submit", None, {COL: 404, ENT: 404}),
    ("POST", "/applications/none/withdraw", {}, {COL: 404, ENT: 404}),
    ("POST", "/applications/none/review", None, {OFF: 428}),
    ("POST", "/applications/none/decision", {"decision": "reject", "reason": "r"}, {OFF: 428}),
    ("POST", "/applications/none/award", None, {APP: 404}),
    ("GET", "/awards", None, EVERYONE),
    ("GET", "/awards/none", None, ALL_404),
    ("GET", "/awards/none/money-history", None, ALL_404),
    ("POST", f"{T}/release", None, {OFF: 428}),
    ("POST", f"{T}/request", None, {OFF: 428}),
    ("POST", f"{T}/approve", {}, {APP: 428}),
    ("POST", f"{T}/release-remainder", None, {APP: 428}),
    ("POST", f"{T}/payment", {"bank_reference": "b"}, {OFF: 428}),
    ("POST", "/awards/none/terminate", {"reason": "r"}, {OFF: 428}),
    ("POST", "/awards/none/terminate/approve", None, {APP: 428}),
    ("POST", "/awards/none/recoveries/none/approve", None, {APP: 428}),
    (
        "POST",
        "/awards/none/recoveries",
        {"recovery_id": "r", "amount_minor": 1, "reason": "r", "due_at": "2099-01-01T00:00:00Z"},
        {OFF: 428},
    ),
    (
        "POST",
        "/awards/none/recoveries/none/settlements",
        {"settlement_id": "s", "method": "repayment", "amount_minor": 1, "bank_reference": "b"},
        {OFF: 428},
    ),
    ("POST", "/awards/none/recoveries/none/write-off", {"reason": "r"}, {OFF: 428}),
    ("POST", "/awards/none/recoveries/none/write-off/approve", None, {APP: 428}),
    ("POST", "/surcharge-credit-statements", STATEMENT_BODY, {OFF: 404}),
    ("GET", "/surcharge-credit-statements/ent-authz/2026", None, {OFF: 404, AUD: 404, ENT: 404}),
    ("GET", "/surcharge-credit-statements", None, {OFF: 200, AUD: 200, ENT: 200}),
    ("GET", "/reports/budget-execution", None, {OFF: 200, APP: 200, AUD: 200}),
    ("GET", "/reports/tranche-pipeline", None, {OFF: 200, APP: 200, AUD: 200}),
]

CASES = role_cases(ENDPOINTS)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = funding_settings(infra, "authz", dev_keys_dir, run_consumers=False)
    async with running(build_app(settings)) as http:
        yield http


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
async def test_endpoint_role(
    client: httpx.AsyncClient, dev_keys_dir: Path, method: str, path: str, body: Any, role: str, expected: int
) -> None:
    response = await client.request(method, path, json=body, headers=role_token(dev_keys_dir, role))
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["code"] == "auth.role_forbidden"


async def test_every_route_is_in_the_table(infra: Infrastructure, dev_keys_dir: Path) -> None:
    app = build_app(funding_settings(infra, "authz", dev_keys_dir, run_consumers=False))
    routes = api_routes(app)

    ids = {"none", "ent-authz", "2026"}
    assert shapes(routes, ids) == shapes(((m, p) for m, p, _, _ in ENDPOINTS), ids)


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/programmes")
    assert response.status_code == 401


async def test_every_route_documents_a_summary(infra: Infrastructure, dev_keys_dir: Path) -> None:
    app = build_app(funding_settings(infra, "authz", dev_keys_dir, run_consumers=False))
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path}"
