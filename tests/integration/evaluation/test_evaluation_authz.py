"""Every endpoint × every role: who is let through the role check, who gets 403."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app
from tests.integration.evaluation.evaluation_support import evaluation_settings
from tests.support.authz import api_routes, role_cases, role_token, shapes
from tests.support.http import running

pytestmark = pytest.mark.infra

SUP, EVA, AUD, COL, ENT = "supervisor", "evaluator", "auditor", "college", "enterprise"

CYCLE_BODY = {
    "kind": "annual",
    "name": "authz",
    "agreement_ids": ["agr-none"],
    "window_start": "2025-01-01",
    "window_end": "2025-12-31",
    "due_at": "2099-01-01T00:00:00Z",
}
EVIDENCE_BODY = {
    "kind": "enterprise_investment",
    "occurred_on": "2025-05-01",
    "document_ref": "att://x",
    "amount_minor": 100,
    "currency": "CNY",
}
ORDER_BODY = {
    "result_id": "none",
    "items": [{"indicator_code": "TT-01", "requirement": "r"}],
    "responsible_party_id": "p",
    "due_at": "2099-01-01T00:00:00Z",
}
WINDOW = "?window_start=2025-01-01&window_end=2025-12-31"

# (method, path, body, {role: expected status for roles let through}); other roles: 403.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("GET", "/frameworks", None, {SUP: 200, EVA: 200, AUD: 200, COL: 200, ENT: 200}),
    ("GET", "/frameworks/default/versions/1", None, {SUP: 200, EVA: 200, AUD: 200, COL: 200, ENT: 200}),
    ("POST", "/frameworks/none/versions", {}, {SUP: 404}),
    ("PUT", "/frameworks/none/versions/1", {}, {SUP: 428}),
    ("POST", "/frameworks/none/versions/1/publish", None, {SUP: 428}),
    ("GET", "/agreements/none", None, {SUP: 404, EVA: 404, AUD: 404, COL: 404, ENT: 404}),
    ("GET", "/agreements/none/evidence" + WINDOW, None, {SUP: 404, EVA: 404, AUD: 404, COL: 404, ENT: 404}),
    ("POST", "/agreements/none/evidence", EVIDENCE_BODY, {SUP: 404, ENT: 404}),
    ("GET", "/agreements/none/results", None, {SUP: 404, AUD: 404, COL: 404, ENT: 404}),
    ("POST", "/cycles", CYCLE_BODY, {SUP: 422}),
    ("GET", "/cycles", None, {SUP: 200, EVA: 200, AUD: 200}),
    ("GET", "/cycles/none", None, {SUP: 404, EVA: 404, AUD: 404}),
    ("POST", "/cycles/none/start-scoring", None, {SUP: 428}),
    ("POST", "/cycles/none/complete", None, {SUP: 428}),
    ("POST", "/cycles/none/panels/agr/members", {"evaluator_id": "e", "role": "industry_expert"}, {SUP: 404}),
    ("GET", "/cycles/none/panels/agr", None, {SUP: 404, EVA: 404, AUD: 404}),
    ("PUT", "/cycles/none/panels/agr/scores/PN-01", {"score": 50}, {SUP: 404, EVA: 404}),
    ("GET", "/cycles/none/ranking", None, {SUP: 404, AUD: 404}),
    ("GET", "/cycles/none/dashboard", None, {SUP: 404, AUD: 404}),
    ("GET", "/programmes/none", None, {SUP: 404, EVA: 404, AUD: 404}),
    ("GET", "/results/none", None, {SUP: 404, AUD: 404, COL: 404, ENT: 404}),
    ("POST", "/results/none/appeals", {"grounds": "g"}, {COL: 404, ENT: 404}),
    ("GET", "/appeals", None, {SUP: 200, AUD: 200, COL: 200, ENT: 200}),
    ("GET", "/appeals/none", None, {SUP: 404, AUD: 404, COL: 404, ENT: 404}),
    ("POST", "/appeals/none/decision", {"decision": "rejected", "reason": "r"}, {SUP: 428}),
    ("POST", "/rectifications", ORDER_BODY, {SUP: 404}),
    ("GET", "/rectifications", None, {SUP: 200, AUD: 200, COL: 200, ENT: 200}),
    ("GET", "/rectifications/none", None, {SUP: 404, AUD: 404, COL: 404, ENT: 404}),
    ("POST", "/rectifications/none/response", {"evidence_refs": ["att://r"]}, {COL: 404, ENT: 404}),
    ("POST", "/rectifications/none/return", {"reason": "r"}, {SUP: 404}),
    ("POST", "/rectifications/none/close", {"reason": "r"}, {SUP: 404}),
    # Every service's audit trail (alliance_shared.web.app.audit_router), for ops and auditors.
    ("GET", "/audit/verify", None, {"ops": 200, AUD: 200}),
    ("GET", "/audit/records", None, {"ops": 200, AUD: 200}),
]

CASES = role_cases(ENDPOINTS)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = evaluation_settings(infra, "authz", dev_keys_dir, run_consumers=False)
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
    app = build_app(evaluation_settings(infra, "authz", dev_keys_dir, run_consumers=False))
    ids = {"none", "agr", "default", "1", "PN-01"}
    assert shapes(api_routes(app), ids) == shapes(((m, p) for m, p, _, _ in ENDPOINTS), ids)


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/frameworks")
    assert response.status_code == 401
    assert response.json()["code"] == "auth.missing_token"
