"""GET /cycles, /rectifications and /frameworks on the real servers (issue #15 item 12):
cursor pages walked to the end with no duplicate and no gap, in id order, with their
filters; parties page through their own orders only; the page size is bounded."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE
from tests.integration.evaluation.evaluation_support import (
    agreement_event,
    complete_cycle,
    etag,
    new_id,
    open_cycle,
    running_evaluation,
    wait_for,
)
from tests.support.http import bearer

pytestmark = pytest.mark.infra

C1, C2, E1 = new_id("col"), new_id("col"), new_id("ent")
#: Seven agreements, three of them the first college's.
PARTIES = {new_id("agr"): (C1 if n < 3 else C2, E1) for n in range(7)}
OF_C1 = {a for a, (college, _) in PARTIES.items() if college == C1}


class World:
    http: httpx.AsyncClient
    sup: dict[str, str]
    cycles: dict[str, str]  # cycle id -> status
    completed: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[World]:
    """Five cycles, one completed over all seven agreements (seven rectification orders:
    none has evidence)."""
    events = [agreement_event(a, "activated", college_ids=[c], enterprise_ids=[e]) for a, (c, e) in PARTIES.items()]
    async with running_evaluation(infra, dev_keys_dir, f"lists_{uuid.uuid4().hex[:8]}", events) as http:
        w = World()
        w.http, w.sup, w.cycles = http, bearer(dev_keys_dir, "supervisor", sub="sup-lists"), {}
        opened_first: httpx.Response | None = None
        for n in range(5):
            opened = await open_cycle(http, w.sup, list(PARTIES), name=f"cycle {n}")
            w.cycles[opened.json()["cycle_id"]] = opened.json()["status"]
            opened_first = opened_first or opened
        assert opened_first is not None
        w.completed = opened_first.json()["cycle_id"]
        done = await complete_cycle(http, w.sup, opened_first)
        w.cycles[w.completed] = done.json()["status"]

        async def ordered() -> bool:
            listed = await http.get("/rectifications", params={"limit": MAX_PAGE_SIZE}, headers=w.sup)
            return len(listed.json()["items"]) == len(PARTIES)

        await wait_for(ordered)
        yield w


async def walk(http: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int, **filters: str) -> list[Any]:
    """Every item of a list, page by page, checking each page's bound."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = await http.get(path, params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert len(body["items"]) == limit  # only a full page has a next one


def unique_in_order(ids: list[str]) -> list[str]:
    assert len(ids) == len(set(ids)), f"duplicates across pages: {ids}"
    assert ids == sorted(ids), "pages are in id order"
    return ids


async def test_cycles_are_walked_in_pages_with_no_duplicate_and_no_gap(world: World) -> None:
    walked = unique_in_order([c["cycle_id"] for c in await walk(world.http, "/cycles", world.sup, 2)])
    assert set(walked) == set(world.cycles)
    completed = await walk(world.http, "/cycles", world.sup, 1, status="completed")
    assert [c["cycle_id"] for c in completed] == [world.completed]
    open_ = unique_in_order([c["cycle_id"] for c in await walk(world.http, "/cycles", world.sup, 3, status="open")])
    assert set(open_) == set(world.cycles) - {world.completed}


async def test_orders_are_walked_in_pages_and_parties_page_through_their_own(world: World, dev_keys_dir: Path) -> None:
    orders = await walk(world.http, "/rectifications", world.sup, 3)
    unique_in_order([o["order_id"] for o in orders])
    assert {o["agreement_id"] for o in orders} == set(PARTIES)
    college = bearer(dev_keys_dir, "college", partner_id=C1)
    mine = await walk(world.http, "/rectifications", college, 2)
    unique_in_order([o["order_id"] for o in mine])
    assert {o["agreement_id"] for o in mine} == OF_C1  # a full first page, none of the others'
    (one,) = await walk(world.http, "/rectifications", college, 2, agreement_id=next(iter(OF_C1)))
    assert one["agreement_id"] == next(iter(OF_C1))
    by_cycle = await walk(world.http, "/rectifications", world.sup, 4, cycle_id=world.completed, status="open")
    assert len(by_cycle) == len(PARTIES)
    other_cycle = next(c for c in world.cycles if c != world.completed)
    assert await walk(world.http, "/rectifications", world.sup, 4, cycle_id=other_cycle) == []


async def test_framework_versions_are_walked_in_pages_with_their_filters(world: World, dev_keys_dir: Path) -> None:
    drafted = await world.http.post("/frameworks/default/versions", json={"name": "second"}, headers=world.sup)
    assert drafted.status_code == 201, drafted.text
    version = drafted.json()["version"]
    published = await world.http.post(
        f"/frameworks/default/versions/{version}/publish", headers={**world.sup, **etag(drafted)}
    )
    assert published.status_code == 200, published.text
    third = await world.http.post("/frameworks/default/versions", json={"name": "third"}, headers=world.sup)
    assert third.status_code == 201, third.text
    reader = bearer(dev_keys_dir, "college", partner_id=C2)
    walked = await walk(world.http, "/frameworks", reader, 1, framework_id="default")
    assert [f["version"] for f in walked] == [*range(1, version + 2)]
    drafts = await walk(world.http, "/frameworks", reader, 1, status="draft")
    assert [f["version"] for f in drafts] == [version + 1]
    published_versions = await walk(world.http, "/frameworks", reader, 2, status="published")
    assert [f["version"] for f in published_versions] == [*range(1, version + 1)]


@pytest.mark.parametrize("path", ["/cycles", "/rectifications", "/frameworks"])
@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"limit": MAX_PAGE_SIZE + 1}, 422, "request.invalid"),
        ({"limit": 0}, 422, "request.invalid"),
        ({"cursor": "not-one-of-ours"}, 400, "pagination.bad_cursor"),
    ],
)
async def test_a_page_is_bounded_and_a_foreign_cursor_refused(
    world: World, path: str, params: dict[str, Any], status: int, code: str
) -> None:
    refused = await world.http.get(path, params=params, headers=world.sup)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == code
