"""If-Match on the real servers, as a property: for every route of funding that takes
If-Match, only the aggregate's current version is accepted; an older one, a newer one or
a malformed tag is 412 and changes nothing (the aggregate, and the programme's book the
command would have moved money on, read back the same).

The routes are found in the app's OpenAPI document (every operation that declares an
If-Match header: the shared ``IfMatch`` dependency does), so a new If-Match route fails
``test_every_if_match_route_is_driven`` until it has a case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import given, settings

from alliance_devstack.provision import Infrastructure
from alliance_funding.app import build_app
from alliance_shared.contract.topics import REGISTRY_EVENTS
from tests.integration.funding.funding_support import (
    PROGRAMME_BODY,
    TOPICS,
    Actors,
    agreement_activated,
    award_for,
    certification_granted,
    funding_settings,
    new_id,
    now,
    open_programme,
    partner_registered,
    send,
    sibling_agreement,
    wait_for,
    with_etag,
)
from tests.support.http import running
from tests.support.if_match import VERSIONS, if_match, if_match_routes
from tests.support.kafka_io import skip_history

pytestmark = pytest.mark.infra

RUN = new_id("ifm").replace("-", "_")
AWARD_MINOR = 10_000
T1_STATES = ["eligible", "requested", "approved", "paid"]


@dataclass
class Api:
    http: httpx.AsyncClient
    who: Actors
    agreement_id: str
    programme_id: str = ""
    repos: Any = None

    async def ok(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
        response = await self.http.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response

    async def step(self, method: str, read: str, path: str, headers: dict[str, str], body: Any = None) -> None:
        """A command on the aggregate at ``read``, with the ETag read just before."""
        current = await self.ok("GET", read, self.who.officer)
        await self.ok(method, path, with_etag(headers, current), body)


@dataclass(frozen=True)
class Aggregate:
    """One aggregate a route acts on: where to send the command, what to read back
    (the aggregate first: its ETag is the current version), who sends it, with what."""

    path: str
    observe: tuple[str, ...]
    headers: dict[str, str]
    body: Any = None


# --- aggregates in the state each route needs ------------------------------------------------


async def programme_in(api: Api, state: str) -> str:
    created = await api.ok("POST", "/programmes", api.who.officer, {**PROGRAMME_BODY, **_window()})
    path = f"/programmes/{created.json()['programme_id']}"
    if state in ("open", "closed"):
        await api.step("POST", path, f"{path}/open", api.who.officer)
    if state == "closed":
        await api.step("POST", path, f"{path}/close", api.who.officer, {"reason": "window ended"})
    return path


def _window() -> dict[str, str]:
    return {"opens_at": (now() - timedelta(days=1)).isoformat(), "closes_at": (now() + timedelta(days=30)).isoformat()}


async def application_in(api: Api, state: str) -> str:
    body = {
        "programme_id": api.programme_id,
        "agreement_id": await sibling_agreement(api.repos, api.agreement_id),
        "requested_minor": AWARD_MINOR,
        "cofunding_minor": AWARD_MINOR,
        "budget_lines": [{"category": "equipment", "amount_minor": AWARD_MINOR}],
    }
    drafted = await api.ok("POST", "/applications", api.who.college, body)
    path = f"/applications/{drafted.json()['application_id']}"
    if state in ("submitted", "under_review"):
        await api.step("POST", path, f"{path}/submit", api.who.college)
    if state == "under_review":
        await api.step("POST", path, f"{path}/review", api.who.officer)
    return path


async def award_with_t1(api: Api, t1_state: str) -> tuple[str, str]:
    """A new award and the path of its first tranche (on award: eligible), moved to ``t1_state``."""
    agreement_id = await sibling_agreement(api.repos, api.agreement_id)  # one application per agreement
    award = await award_for(api.http, api.who, api.programme_id, agreement_id, amount=AWARD_MINOR)
    path, t1 = f"/awards/{award['award_id']}", award["tranches"][0]["tranche_id"]
    actions = [
        ("request", api.who.officer, None),
        ("approve", api.who.approver, {}),
        ("payment", api.who.officer, {"bank_reference": "ICBC-IFM"}),
    ]
    for action, headers, body in actions[: T1_STATES.index(t1_state)]:
        await api.step("POST", path, f"{path}/tranches/{t1}/{action}", headers, body)
    return path, f"{path}/tranches/{t1}"


def ledger_of(api: Api) -> str:
    return f"/programmes/{api.programme_id}/ledger"


async def revise_programme(api: Api) -> Aggregate:
    path = await programme_in(api, "draft")
    return Aggregate(path, (path,), api.who.officer, {"award_cap_minor": 400_000})


async def open_target(api: Api) -> Aggregate:
    path = await programme_in(api, "draft")
    return Aggregate(f"{path}/open", (path, f"{path}/ledger"), api.who.officer)


async def close_target(api: Api) -> Aggregate:
    path = await programme_in(api, "open")
    return Aggregate(f"{path}/close", (path,), api.who.officer, {"reason": "window ended"})


async def finalise_target(api: Api) -> Aggregate:
    path = await programme_in(api, "closed")
    return Aggregate(f"{path}/finalise", (path, f"{path}/ledger"), api.who.officer)


async def revise_application(api: Api) -> Aggregate:
    path = await application_in(api, "draft")
    body = {
        "requested_minor": AWARD_MINOR,
        "cofunding_minor": AWARD_MINOR * 2,
        "budget_lines": [{"category": "equipment", "amount_minor": AWARD_MINOR}],
    }
    return Aggregate(path, (path,), api.who.college, body)


async def submit_target(api: Api) -> Aggregate:
    path = await application_in(api, "draft")
    return Aggregate(f"{path}/submit", (path,), api.who.college)


async def withdraw_target(api: Api) -> Aggregate:
    path = await application_in(api, "submitted")
    return Aggregate(f"{path}/withdraw", (path,), api.who.college, {"reason": "project postponed"})


async def review_target(api: Api) -> Aggregate:
    path = await application_in(api, "submitted")
    return Aggregate(f"{path}/review", (path,), api.who.officer)


async def decision_target(api: Api) -> Aggregate:
    path = await application_in(api, "under_review")
    body = {"decision": "approve", "reason": "sound plan", "approved_minor": AWARD_MINOR}
    return Aggregate(f"{path}/decision", (path, ledger_of(api)), api.who.officer, body)


async def release_target(api: Api) -> Aggregate:
    award, t1 = await award_with_t1(api, "eligible")
    t3 = t1.removesuffix("-t1") + "-t3"
    return Aggregate(f"{t3}/release", (award,), api.who.officer)


async def request_target(api: Api) -> Aggregate:
    award, t1 = await award_with_t1(api, "eligible")
    return Aggregate(f"{t1}/request", (award,), api.who.officer)


async def approve_target(api: Api) -> Aggregate:
    award, t1 = await award_with_t1(api, "requested")
    return Aggregate(f"{t1}/approve", (award, ledger_of(api)), api.who.approver, {})


async def remainder_target(api: Api) -> Aggregate:
    award, t1 = await award_with_t1(api, "requested")
    partial = {"approved_minor": 1_000, "release_remainder": False, "reason": "quote lower"}
    await api.step("POST", award, f"{t1}/approve", api.who.approver, partial)
    return Aggregate(f"{t1}/release-remainder", (award, ledger_of(api)), api.who.approver)


async def payment_target(api: Api) -> Aggregate:
    award, t1 = await award_with_t1(api, "approved")
    return Aggregate(f"{t1}/payment", (award, ledger_of(api)), api.who.officer, {"bank_reference": "ICBC-IFM-2"})


async def terminate_target(api: Api) -> Aggregate:
    award, _ = await award_with_t1(api, "eligible")
    return Aggregate(f"{award}/terminate", (award, ledger_of(api)), api.who.officer, {"reason": "agreement ended"})


def recovery_body(recovery_id: str) -> dict[str, Any]:
    return {
        "recovery_id": recovery_id,
        "amount_minor": 1_000,
        "reason": "ineligible spend",
        "due_at": "2099-01-01T00:00:00Z",
    }


async def recovery_target(api: Api) -> Aggregate:
    award, _ = await award_with_t1(api, "paid")
    return Aggregate(f"{award}/recoveries", (award, ledger_of(api)), api.who.officer, recovery_body("rec-ifm"))


async def terminate_approval_target(api: Api) -> Aggregate:
    award, _ = await award_with_t1(api, "eligible")
    await api.step("POST", award, f"{award}/terminate", api.who.officer, {"reason": "agreement ended"})
    return Aggregate(f"{award}/terminate/approve", (award, ledger_of(api)), api.who.approver)


async def recovery_approval_target(api: Api) -> Aggregate:
    award, _ = await award_with_t1(api, "paid")
    await api.step("POST", award, f"{award}/recoveries", api.who.officer, recovery_body("rec-ifm"))
    return Aggregate(f"{award}/recoveries/rec-ifm/approve", (award, ledger_of(api)), api.who.approver)


async def settlement_target(api: Api) -> Aggregate:
    award, _ = await award_with_t1(api, "paid")
    await api.step("POST", award, f"{award}/recoveries", api.who.officer, recovery_body("rec-ifm"))
    await api.step("POST", award, f"{award}/recoveries/rec-ifm/approve", api.who.approver)
    body = {"settlement_id": "s-ifm", "method": "repayment", "amount_minor": 500, "bank_reference": "BOC-IFM"}
    return Aggregate(f"{award}/recoveries/rec-ifm/settlements", (award, ledger_of(api)), api.who.officer, body)


async def write_off_target(api: Api) -> Aggregate:
    award, _ = await award_with_t1(api, "paid")
    await api.step("POST", award, f"{award}/recoveries", api.who.officer, recovery_body("rec-ifm"))
    await api.step("POST", award, f"{award}/recoveries/rec-ifm/approve", api.who.approver)
    body = {"reason": "recipient dissolved"}
    return Aggregate(f"{award}/recoveries/rec-ifm/write-off", (award, ledger_of(api)), api.who.officer, body)


async def write_off_approval_target(api: Api) -> Aggregate:
    award, _ = await award_with_t1(api, "paid")
    await api.step("POST", award, f"{award}/recoveries", api.who.officer, recovery_body("rec-ifm"))
    await api.step("POST", award, f"{award}/recoveries/rec-ifm/approve", api.who.approver)
    await api.step(
        "POST", award, f"{award}/recoveries/rec-ifm/write-off", api.who.officer, {"reason": "recipient dissolved"}
    )
    return Aggregate(f"{award}/recoveries/rec-ifm/write-off/approve", (award, ledger_of(api)), api.who.approver)


TRANCHE = "/awards/{award_id}/tranches/{tranche_id}"
MAKERS: dict[tuple[str, str], Callable[[Api], Awaitable[Aggregate]]] = {
    ("PUT", "/programmes/{programme_id}"): revise_programme,
    ("POST", "/programmes/{programme_id}/open"): open_target,
    ("POST", "/programmes/{programme_id}/close"): close_target,
    ("POST", "/programmes/{programme_id}/finalise"): finalise_target,
    ("PUT", "/applications/{application_id}"): revise_application,
    ("POST", "/applications/{application_id}/submit"): submit_target,
    ("POST", "/applications/{application_id}/withdraw"): withdraw_target,
    ("POST", "/applications/{application_id}/review"): review_target,
    ("POST", "/applications/{application_id}/decision"): decision_target,
    ("POST", f"{TRANCHE}/release"): release_target,
    ("POST", f"{TRANCHE}/request"): request_target,
    ("POST", f"{TRANCHE}/approve"): approve_target,
    ("POST", f"{TRANCHE}/release-remainder"): remainder_target,
    ("POST", f"{TRANCHE}/payment"): payment_target,
    ("POST", "/awards/{award_id}/terminate"): terminate_target,
    ("POST", "/awards/{award_id}/terminate/approve"): terminate_approval_target,
    ("POST", "/awards/{award_id}/recoveries"): recovery_target,
    ("POST", "/awards/{award_id}/recoveries/{recovery_id}/approve"): recovery_approval_target,
    ("POST", "/awards/{award_id}/recoveries/{recovery_id}/settlements"): settlement_target,
    ("POST", "/awards/{award_id}/recoveries/{recovery_id}/write-off"): write_off_target,
    ("POST", "/awards/{award_id}/recoveries/{recovery_id}/write-off/approve"): write_off_approval_target,
}


@dataclass
class Targets:
    """Makes, per route, an aggregate ready for the command; a new one after each success."""

    api: Api
    ready: dict[tuple[str, str], Aggregate] = field(default_factory=dict)

    async def aggregate(self, route: tuple[str, str]) -> Aggregate:
        if route not in self.ready:
            self.ready[route] = await MAKERS[route](self.api)
        return self.ready[route]

    def used(self, route: tuple[str, str]) -> None:
        self.ready.pop(route, None)


# --- the property ------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def targets(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[Targets]:
    settings_ = funding_settings(infra, RUN, dev_keys_dir)
    await skip_history(infra.kafka_admin, settings_.consumer_group, TOPICS)
    app = build_app(settings_)
    async with running(app) as http:
        college, enterprise, agreement_id = new_id("col"), new_id("ent"), new_id("agr")
        api = Api(http, Actors(dev_keys_dir, college, enterprise), agreement_id)
        await send(
            infra,
            REGISTRY_EVENTS,
            [
                partner_registered(college, "college"),
                partner_registered(enterprise, "enterprise"),
                certification_granted(enterprise),
                agreement_activated(agreement_id, college, enterprise),
            ],
        )
        repos = api.repos = app.state.repos

        async def known() -> bool:
            partner = await repos.partners.get(enterprise)
            return await repos.agreements.get(agreement_id) is not None and bool(
                partner and partner.item.certifications
            )

        await wait_for(known)
        api.programme_id = (await open_programme(http, api.who, appropriated_minor=10**10))["programme_id"]
        yield Targets(api)


async def test_every_if_match_route_is_driven(infra: Infrastructure, dev_keys_dir: Path) -> None:
    app = build_app(funding_settings(infra, RUN, dev_keys_dir, run_consumers=False))
    assert if_match_routes(app) == set(MAKERS)


@pytest.mark.parametrize("route", sorted(MAKERS), ids=lambda r: f"{r[0]} {r[1]}")
@settings(max_examples=10, deadline=None)
@given(version=VERSIONS)
async def test_only_the_current_version_is_accepted(
    targets: Targets, route: tuple[str, str], version: tuple[str, Any]
) -> None:
    api = targets.api
    aggregate = await targets.aggregate(route)
    before = [await api.http.get(path, headers=api.who.officer) for path in aggregate.observe]
    sent = if_match(before[0].headers["etag"], *version)
    response = await api.http.request(
        route[0], aggregate.path, json=aggregate.body, headers={**aggregate.headers, "If-Match": sent}
    )
    if version[0] == "current":
        assert response.status_code == 200, response.text
        assert response.headers["etag"] != before[0].headers["etag"]
        targets.used(route)
        return
    assert response.status_code == 412, f"If-Match {sent}: {response.text}"
    assert response.json()["code"] in {"aggregate.version_conflict", "precondition.bad_etag"}
    after = [await api.http.get(path, headers=api.who.officer) for path in aggregate.observe]
    assert [(r.headers.get("etag"), r.json()) for r in after] == [(r.headers.get("etag"), r.json()) for r in before]
