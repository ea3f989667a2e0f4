"""If-Match on the real servers, as a property: for every route of evaluation that takes
If-Match, only the aggregate's current version is accepted; an older one, a newer one or
a malformed tag is 412 and changes nothing (the aggregate and what the command would
have written read back the same).

The routes are found in the app itself (every route whose dependencies read If-Match),
so a new If-Match route fails ``test_every_if_match_route_is_driven`` until it has a case.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import example, given, settings

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app
from alliance_shared.contract.topics import REGISTRY_EVENTS
from tests.integration.evaluation.evaluation_support import (
    WINDOW_END,
    WINDOW_START,
    agreement_event,
    evaluation_settings,
    new_id,
    send,
    wait_for,
)
from tests.support.http import bearer, running
from tests.support.if_match import VERSIONS, if_match, if_match_routes
from tests.support.kafka_io import skip_history

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
AGREEMENT, COLLEGE, ENTERPRISE = new_id("agr-ifm"), new_id("col"), new_id("ent")


@dataclass
class Api:
    client: httpx.AsyncClient
    keys: Path

    def supervisor(self) -> dict[str, str]:
        return bearer(self.keys, "supervisor", sub="sup-ifm")

    def college(self) -> dict[str, str]:
        return bearer(self.keys, "college", partner_id=COLLEGE)

    async def ok(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
        response = await self.client.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response

    async def etag(self, path: str) -> str:
        return (await self.ok("GET", path, self.supervisor())).headers["etag"]


@dataclass(frozen=True)
class Aggregate:
    """One aggregate a route acts on: where to send the command, what to read back."""

    path: str
    observe: tuple[str, ...]
    headers: Callable[[Api], dict[str, str]]
    body: Any = None


# --- aggregates in the state each route needs --------------------------------------------------


async def draft_framework(api: Api) -> str:
    """The default framework's current draft (derived from the latest published version if none)."""
    params = "?framework_id=default&status=draft"
    drafts = [f["version"] for f in (await api.ok("GET", f"/frameworks{params}", api.supervisor())).json()["items"]]
    if drafts:
        return f"/frameworks/default/versions/{drafts[0]}"
    created = await api.ok("POST", "/frameworks/default/versions", api.supervisor(), {})
    return f"/frameworks/default/versions/{created.json()['version']}"


async def open_cycle(api: Api) -> str:
    body = {
        "kind": "annual",
        "name": "if-match",
        "agreement_ids": [AGREEMENT],
        "window_start": str(WINDOW_START),
        "window_end": str(WINDOW_END),
        "due_at": "2099-01-01T00:00:00Z",
    }
    return f"/cycles/{(await api.ok('POST', '/cycles', api.supervisor(), body)).json()['cycle_id']}"


async def scoring_cycle(api: Api) -> str:
    path = await open_cycle(api)
    await api.ok("POST", f"{path}/start-scoring", {**api.supervisor(), "If-Match": await api.etag(path)})
    return path


async def fresh_order(api: Api, *, responded: bool) -> str:
    """A new rectification order: the agreement has no evidence, so each cycle fails it."""
    cycle = await scoring_cycle(api)
    await api.ok("POST", f"{cycle}/complete", {**api.supervisor(), "If-Match": await api.etag(cycle)})
    listed = await api.ok("GET", f"/rectifications?cycle_id={cycle.split('/')[-1]}", api.supervisor())
    orders = listed.json()["items"]
    path = f"/rectifications/{orders[0]['order_id']}"
    if responded:
        answer = {"evidence_refs": ["att://plan.pdf"]}
        await api.ok("POST", f"{path}/response", {**api.college(), "If-Match": await api.etag(path)}, answer)
    return path


async def fresh_appeal(api: Api, result_id: str) -> str:
    lodged = await api.ok("POST", f"/results/{result_id}/appeals", api.college(), {"grounds": "late reports"})
    return f"/appeals/{lodged.json()['appeal_id']}"


def supervisor(api: Api) -> dict[str, str]:
    return api.supervisor()


def responsible_college(api: Api) -> dict[str, str]:
    return api.college()


@dataclass
class Targets:
    """Makes, per route, an aggregate ready for the command; a new one after each success."""

    api: Api
    result_id: str = ""
    ready: dict[tuple[str, str], Aggregate] = field(default_factory=dict)

    async def aggregate(self, route: tuple[str, str]) -> Aggregate:
        if route not in self.ready:
            self.ready[route] = await MAKERS[route](self)
        return self.ready[route]

    def used(self, route: tuple[str, str]) -> None:
        self.ready.pop(route, None)

    async def completed_result(self) -> str:
        if not self.result_id:
            await fresh_order(self.api, responded=False)
            results = (await self.api.ok("GET", f"/agreements/{AGREEMENT}/results", self.api.supervisor())).json()
            self.result_id = results["results"][0]["result_id"]
        return self.result_id


async def edit_target(t: Targets) -> Aggregate:
    path = await draft_framework(t.api)
    return Aggregate(path, (path,), supervisor, {"name": f"edited {uuid.uuid4().hex[:6]}"})


async def publish_target(t: Targets) -> Aggregate:
    path = await draft_framework(t.api)
    return Aggregate(f"{path}/publish", (path, "/frameworks"), supervisor)


async def start_scoring_target(t: Targets) -> Aggregate:
    path = await open_cycle(t.api)
    return Aggregate(f"{path}/start-scoring", (path,), supervisor)


async def complete_target(t: Targets) -> Aggregate:
    path = await scoring_cycle(t.api)
    return Aggregate(f"{path}/complete", (path, f"{path}/ranking", f"/agreements/{AGREEMENT}/results"), supervisor)


async def decision_target(t: Targets) -> Aggregate:
    result_id = await t.completed_result()
    path = await fresh_appeal(t.api, result_id)
    body = {"decision": "rejected", "reason": "the reports were on time"}
    return Aggregate(f"{path}/decision", (path, f"/results/{result_id}"), supervisor, body)


async def response_target(t: Targets) -> Aggregate:
    path = await fresh_order(t.api, responded=False)
    return Aggregate(f"{path}/response", (path,), responsible_college, {"evidence_refs": ["att://plan.pdf"]})


async def return_target(t: Targets) -> Aggregate:
    path = await fresh_order(t.api, responded=True)
    return Aggregate(f"{path}/return", (path,), supervisor, {"reason": "insufficient"})


async def close_target(t: Targets) -> Aggregate:
    path = await fresh_order(t.api, responded=True)
    return Aggregate(f"{path}/close", (path,), supervisor, {"reason": "verified on site"})


MAKERS: dict[tuple[str, str], Callable[[Targets], Awaitable[Aggregate]]] = {
    ("PUT", "/frameworks/{framework_id}/versions/{version}"): edit_target,
    ("POST", "/frameworks/{framework_id}/versions/{version}/publish"): publish_target,
    ("POST", "/cycles/{cycle_id}/start-scoring"): start_scoring_target,
    ("POST", "/cycles/{cycle_id}/complete"): complete_target,
    ("POST", "/appeals/{appeal_id}/decision"): decision_target,
    ("POST", "/rectifications/{order_id}/response"): response_target,
    ("POST", "/rectifications/{order_id}/return"): return_target,
    ("POST", "/rectifications/{order_id}/close"): close_target,
}


# --- the property --------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def targets(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[Targets]:
    settings_ = evaluation_settings(infra, f"ifm_{RUN}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings_.consumer_group)
    async with running(build_app(settings_)) as client:
        api = Api(client, dev_keys_dir)
        await send(
            infra,
            REGISTRY_EVENTS,
            [agreement_event(AGREEMENT, "activated", college_ids=[COLLEGE], enterprise_ids=[ENTERPRISE])],
        )

        async def known() -> bool:
            return (await client.get(f"/agreements/{AGREEMENT}", headers=api.supervisor())).status_code == 200

        await wait_for(known)
        yield Targets(api)


async def test_every_if_match_route_is_driven(infra: Infrastructure, dev_keys_dir: Path) -> None:
    app = build_app(evaluation_settings(infra, f"ifm_{RUN}", dev_keys_dir, run_consumers=False))
    assert if_match_routes(app) == set(MAKERS)


@pytest.mark.parametrize("route", sorted(MAKERS), ids=lambda r: f"{r[0]} {r[1]}")
@settings(max_examples=12, deadline=None)
@given(version=VERSIONS)
@example(version=("stale", 1))
@example(version=("current", 0))
@example(version=("future", 1))
@example(version=("current", 0))  # twice: the second acts on a fresh aggregate
async def test_only_the_current_version_is_accepted(
    targets: Targets, route: tuple[str, str], version: tuple[str, Any]
) -> None:
    api = targets.api
    aggregate = await targets.aggregate(route)
    before = [await api.client.get(path, headers=api.supervisor()) for path in aggregate.observe]
    sent = if_match(before[0].headers["etag"], *version)
    response = await api.client.request(
        route[0], aggregate.path, json=aggregate.body, headers={**aggregate.headers(api), "If-Match": sent}
    )
    if version[0] == "current":
        assert response.status_code == 200, response.text
        assert response.headers["etag"] != before[0].headers["etag"]
        targets.used(route)
        return
    assert response.status_code == 412, f"If-Match {sent}: {response.text}"
    assert response.json()["code"] in {"aggregate.version_conflict", "precondition.bad_etag"}
    after = [await api.client.get(path, headers=api.supervisor()) for path in aggregate.observe]
    assert [(r.headers.get("etag"), r.json()) for r in after] == [(r.headers.get("etag"), r.json()) for r in before]
