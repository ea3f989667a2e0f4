"""If-Match is exact on every registry route that takes it: only the current version
succeeds; an older one, a newer one or a malformed tag is 412 and changes nothing.

The routes are read from the app itself (every route whose dependencies read If-Match,
required or optional), so a new If-Match route fails ``test_every_if_match_route_has_a_case``
until it is driven here too. Each case prepares, through the API, a resource on which the
command succeeds; after a success the next example prepares a fresh one. Real Kafka and
MongoDB-wire server, the app in-process; versions are read exactly from the store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from hypothesis import example, given, settings
from hypothesis import strategies as st

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from alliance_registry.service.repositories import Repositories
from alliance_shared.persistence.versioned_store import Snapshot, VersionedStore
from tests.integration.registry.registry_support import (
    admin,
    agreement_body,
    partner_body,
    partner_token,
    register,
    registry_settings,
)
from tests.support.http import running
from tests.support.if_match import Route, if_match_routes

pytestmark = pytest.mark.infra

REASON = {"reason": "If-Match property"}
SEAT = {"representative": "张伟", "term_start": "2026-01-01", "term_end": "2028-12-31"}
ASSIGN = {**SEAT, "position": "director", "reason": "elected"}

#: Tags that are not an ETag of this API.
MALFORMED = ('"abc"', "*", 'W/"1x"', '""', "1, 2", '"-1"', "W/")


def documented_412(app: FastAPI) -> set[Route]:
    """Every operation whose OpenAPI document says it can answer 412."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "412" in operation.get("responses", {})
    }


@dataclass(frozen=True)
class Target:
    """One resource the route's command succeeds on: where to send what, as whom, and
    which aggregate (store, id) it changes."""

    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    store: str
    aggregate_id: str


@dataclass
class Registry:
    """The app under test, with helpers that put resources in the state a command needs."""

    app: FastAPI
    http: httpx.AsyncClient
    keys: Path
    council_seated: bool = False
    prepared: dict[Route, Target] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return admin(self.keys)

    def store(self, name: str) -> VersionedStore:
        repos: Repositories = self.app.state.repositories
        repo: Any = getattr(repos, name)
        store: VersionedStore = repo.store
        return store

    async def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.request(method, path, json=body, headers=self.admin)
        assert response.status_code in (200, 201), (method, path, response.text)
        return dict(response.json())

    async def partner(self, kind: str) -> str:
        return str((await register(self.http, self.keys, kind))["partner_id"])

    async def member(self, kind: str, *moves: str) -> str:
        partner_id = await self.partner(kind)
        await self.ok("POST", "/memberships", {"partner_id": partner_id, "reason": "letter"})
        for move in moves:
            await self.ok("POST", f"/memberships/{partner_id}/{move}", REASON)
        return partner_id

    async def council(self) -> None:
        if self.council_seated:
            return
        founders = (("chair", "college"), ("director", "enterprise"), ("director", "industry_association"))
        seats = [
            {**SEAT, "position": position, "partner_id": await self.member(kind, "admit")}
            for position, kind in founders
        ]
        await self.ok("POST", "/council", {"seats": seats, "reason": "founding"})
        self.council_seated = True

    async def certification(self, *, granted: bool) -> str:
        enterprise = await self.partner("enterprise")
        cid = str((await self.ok("POST", "/certifications", {"partner_id": enterprise}))["certification_id"])
        if granted:
            grant = {
                "certificate_number": "n-1",
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_to": "2099-01-01T00:00:00Z",
            }
            await self.ok("POST", f"/certifications/{cid}/grant", grant)
        return cid

    async def agreement(self, *, start: date, signed: bool) -> tuple[str, str, str]:
        college, enterprise = await self.partner("college"), await self.partner("enterprise")
        body = agreement_body(college, enterprise, start=start)
        agreement_id = str((await self.ok("POST", "/agreements", body))["agreement_id"])
        if signed:
            for kind, party in (("college", college), ("enterprise", enterprise)):
                signature = await self.http.post(
                    f"/agreements/{agreement_id}/sign", json={}, headers=partner_token(self.keys, kind, party)
                )
                assert signature.status_code == 200, signature.text
        return agreement_id, college, enterprise

    async def sign_amendment(self, agreement_id: str, college: str, enterprise: str) -> None:
        for kind, party in (("college", college), ("enterprise", enterprise)):
            signature = await self.http.post(
                f"/agreements/{agreement_id}/amendments/sign", json={}, headers=partner_token(self.keys, kind, party)
            )
            assert signature.status_code == 200, signature.text


TODAY = date.today()
LATER = TODAY + timedelta(days=10)
Prepare = Callable[[Registry], Awaitable[Target]]


async def _profile(r: Registry) -> Target:
    partner_id = await r.partner("enterprise")
    body = {k: v for k, v in partner_body("enterprise").items() if k != "contacts"}
    return Target(f"/partners/{partner_id}", body, r.admin, "partners", partner_id)


async def _contacts(r: Registry) -> Target:
    partner_id = await r.partner("college")
    headers = partner_token(r.keys, "college", partner_id)  # the partner itself
    return Target(f"/partners/{partner_id}/contacts", {"contacts": []}, headers, "partners", partner_id)


async def _deactivate(r: Registry) -> Target:
    partner_id = await r.partner("enterprise")
    return Target(f"/partners/{partner_id}/deactivate", REASON, r.admin, "partners", partner_id)


def _membership(action: str, *before: str) -> Prepare:
    async def prepare(r: Registry) -> Target:
        partner_id = await r.member("enterprise", *before)
        return Target(f"/memberships/{partner_id}/{action}", REASON, r.admin, "memberships", partner_id)

    return prepare


async def _assign_seat(r: Registry) -> Target:
    await r.council()
    partner_id = await r.member("enterprise", "admit")
    return Target(f"/council/seats/{partner_id}", ASSIGN, r.admin, "council", "council")


async def _vacate_seat(r: Registry) -> Target:
    await r.council()
    partner_id = await r.member("enterprise", "admit")
    await r.ok("PUT", f"/council/seats/{partner_id}", ASSIGN)
    return Target(f"/council/seats/{partner_id}/vacate", REASON, r.admin, "council", "council")


async def _grant(r: Registry) -> Target:
    cid = await r.certification(granted=False)
    body = {"certificate_number": "n-2", "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2099-01-01T00:00:00Z"}
    return Target(f"/certifications/{cid}/grant", body, r.admin, "certifications", cid)


async def _revoke(r: Registry) -> Target:
    cid = await r.certification(granted=True)
    return Target(f"/certifications/{cid}/revoke", REASON, r.admin, "certifications", cid)


async def _sign(r: Registry) -> Target:
    agreement_id, college, _ = await r.agreement(start=LATER, signed=False)
    headers = partner_token(r.keys, "college", college)
    return Target(f"/agreements/{agreement_id}/sign", {}, headers, "agreements", agreement_id)


async def _activate(r: Registry) -> Target:
    agreement_id, college, enterprise = await r.agreement(start=LATER, signed=True)
    # Signed before its start; moved to a term that has begun, it may be brought into force.
    started = agreement_body(college, enterprise, start=TODAY - timedelta(days=1))
    current = await r.http.get(f"/agreements/{agreement_id}", headers=r.admin)
    amended = await r.http.post(
        f"/agreements/{agreement_id}/amendments",
        json={**started, "summary": "starts now"},
        headers={**r.admin, "If-Match": current.headers["ETag"]},
    )
    assert amended.status_code == 200, amended.text
    await r.sign_amendment(agreement_id, college, enterprise)
    return Target(f"/agreements/{agreement_id}/activate", None, r.admin, "agreements", agreement_id)


async def _amend(r: Registry) -> Target:
    agreement_id, college, enterprise = await r.agreement(start=LATER, signed=True)
    body = {**agreement_body(college, enterprise, start=LATER, end=LATER + timedelta(days=400)), "summary": "shorter"}
    return Target(f"/agreements/{agreement_id}/amendments", body, r.admin, "agreements", agreement_id)


async def _sign_amendment(r: Registry) -> Target:
    agreement_id, college, enterprise = await r.agreement(start=LATER, signed=True)
    body = {**agreement_body(college, enterprise, start=LATER, end=LATER + timedelta(days=400)), "summary": "shorter"}
    current = await r.http.get(f"/agreements/{agreement_id}", headers=r.admin)
    proposed = await r.http.post(
        f"/agreements/{agreement_id}/amendments",
        json=body,
        headers={**r.admin, "If-Match": current.headers["ETag"]},
    )
    assert proposed.status_code == 200, proposed.text
    headers = partner_token(r.keys, "college", college)
    return Target(f"/agreements/{agreement_id}/amendments/sign", {}, headers, "agreements", agreement_id)


async def _withdraw_amendment(r: Registry) -> Target:
    target = await _sign_amendment(r)
    return Target(target.path.replace("/sign", "/withdraw"), REASON, r.admin, "agreements", target.aggregate_id)


async def _reject(r: Registry) -> Target:
    cid = await r.certification(granted=False)
    return Target(f"/certifications/{cid}/reject", REASON, r.admin, "certifications", cid)


def _agreement(action: str, *before: str) -> Prepare:
    async def prepare(r: Registry) -> Target:
        agreement_id, _, _ = await r.agreement(start=TODAY - timedelta(days=30), signed=True)  # active
        for step in before:
            await r.ok("POST", f"/agreements/{agreement_id}/{step}", REASON)
        return Target(f"/agreements/{agreement_id}/{action}", REASON, r.admin, "agreements", agreement_id)

    return prepare


CASES: dict[Route, Prepare] = {
    ("PUT", "/partners/{partner_id}"): _profile,
    ("PUT", "/partners/{partner_id}/contacts"): _contacts,
    ("POST", "/partners/{partner_id}/deactivate"): _deactivate,
    ("POST", "/memberships/{partner_id}/admit"): _membership("admit"),
    ("POST", "/memberships/{partner_id}/reject"): _membership("reject"),
    ("POST", "/memberships/{partner_id}/suspend"): _membership("suspend", "admit"),
    ("POST", "/memberships/{partner_id}/reinstate"): _membership("reinstate", "admit", "suspend"),
    ("POST", "/memberships/{partner_id}/withdraw"): _membership("withdraw"),
    ("POST", "/memberships/{partner_id}/expel"): _membership("expel", "admit"),
    ("PUT", "/council/seats/{partner_id}"): _assign_seat,
    ("POST", "/council/seats/{partner_id}/vacate"): _vacate_seat,
    ("POST", "/certifications/{certification_id}/grant"): _grant,
    ("POST", "/certifications/{certification_id}/reject"): _reject,
    ("POST", "/certifications/{certification_id}/revoke"): _revoke,
    ("POST", "/agreements/{agreement_id}/sign"): _sign,
    ("POST", "/agreements/{agreement_id}/activate"): _activate,
    ("POST", "/agreements/{agreement_id}/amendments"): _amend,
    ("POST", "/agreements/{agreement_id}/amendments/sign"): _sign_amendment,
    ("POST", "/agreements/{agreement_id}/amendments/withdraw"): _withdraw_amendment,
    ("POST", "/agreements/{agreement_id}/suspend"): _agreement("suspend"),
    ("POST", "/agreements/{agreement_id}/resume"): _agreement("resume", "suspend"),
    ("POST", "/agreements/{agreement_id}/terminate"): _agreement("terminate"),
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[Registry]:
    # No periodic check: it would bring the activation case's agreement into force by itself.
    settings = registry_settings(infra, f"ifmatch_{uuid.uuid4().hex[:8]}", dev_keys_dir, schedule_check_seconds=86_400)
    app = build_app(settings)
    async with running(app) as http:
        yield Registry(app, http, dev_keys_dir)


async def test_every_if_match_route_has_a_case(registry: Registry) -> None:
    routes = if_match_routes(registry.app)
    assert routes == set(CASES)
    assert routes == documented_412(registry.app)  # and the API document says so


def tag_of(sent: int | str, current: int, weak: bool) -> str:
    if isinstance(sent, str):
        return sent
    return f'{"W/" if weak else ""}"{current + sent}"'


@pytest.mark.parametrize("route", sorted(CASES), ids=" ".join)
@settings(max_examples=8, deadline=None)
@given(
    sent=st.one_of(
        st.integers(min_value=-3, max_value=3),
        st.sampled_from(MALFORMED),
        st.text(alphabet="abcxyz*,-/ ", min_size=1, max_size=8).map(str.strip).filter(bool),
    ),
    weak=st.booleans(),
)
@example(sent=-1, weak=False)  # stale
@example(sent=0, weak=False)  # current
@example(sent=1, weak=False)  # from the future
@example(sent=MALFORMED[0], weak=False)
async def test_only_the_current_version_is_accepted(
    registry: Registry, route: Route, sent: int | str, weak: bool
) -> None:
    """``sent`` is an offset from the current version (as a strong or weak tag), or a malformed tag."""
    if route not in registry.prepared:
        registry.prepared[route] = await CASES[route](registry)
    target = registry.prepared[route]
    store = registry.store(target.store)
    before = await store.load(target.aggregate_id)
    assert before is not None
    tag = tag_of(sent, before.version, weak)

    response = await registry.http.request(
        route[0], target.path, json=target.body, headers={**target.headers, "If-Match": tag}
    )

    after: Snapshot | None = await store.load(target.aggregate_id)
    assert after is not None
    if sent == 0:
        assert response.status_code == 200, (route, tag, response.text)
        assert after.version == before.version + 1
        assert response.headers["ETag"] == f'"{after.version}"'
        del registry.prepared[route]  # used up: the next example prepares a fresh one
    else:
        assert response.status_code == 412, (route, tag, response.text)
        assert response.json()["code"] in ("aggregate.version_conflict", "precondition.bad_etag")
        assert (after.version, after.state) == (before.version, before.state), f"{route} changed on If-Match {tag}"
