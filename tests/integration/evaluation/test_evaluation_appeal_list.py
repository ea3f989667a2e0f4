"""GET /appeals on the real servers: pending first then oldest first, cursor pages,
filters, and each reader sees only what is theirs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from tests.integration.evaluation.evaluation_support import (
    agreement_event,
    complete_cycle,
    new_id,
    open_cycle,
    running_evaluation,
)
from tests.support.http import bearer

pytestmark = pytest.mark.infra

A, B, C = new_id("agr-a"), new_id("agr-b"), new_id("agr-c")
C1, C2, E1, E2, E3 = new_id("col"), new_id("col"), new_id("ent"), new_id("ent"), new_id("ent")
PARTIES = {A: ([C1], [E1]), B: ([C2], [E2]), C: ([C1], [E3])}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    agreements = [
        agreement_event(a, "activated", college_ids=colleges, enterprise_ids=enterprises)
        for a, (colleges, enterprises) in PARTIES.items()
    ]
    async with running_evaluation(infra, dev_keys_dir, f"apl_{uuid.uuid4().hex[:8]}", agreements) as http:
        yield http


def party(keys: Path, partner_id: str) -> dict[str, str]:
    return bearer(keys, "college" if partner_id.startswith("col") else "enterprise", partner_id=partner_id)


async def appeal_ids(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    listed = await client.get("/appeals", params=params, headers=headers)
    assert listed.status_code == 200, listed.text
    return [a["appeal_id"] for a in listed.json()["items"]]


async def test_appeals_are_listed_pending_first_in_cursor_pages_and_only_to_whom_they_concern(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    sup = bearer(dev_keys_dir, "supervisor", sub="sup-lead")
    opened = await open_cycle(client, sup, list(PARTIES))
    cycle_id = opened.json()["cycle_id"]
    await complete_cycle(client, sup, opened)

    appeals: dict[str, dict[str, Any]] = {}
    for agreement_id, appellant in ((A, C1), (B, C2), (C, E3)):
        listed = await client.get(f"/agreements/{agreement_id}/results", headers=sup)
        (result,) = listed.json()["results"]
        lodged = await client.post(
            f"/results/{result['result_id']}/appeals",
            json={"grounds": f"appeal about {agreement_id}"},
            headers=party(dev_keys_dir, appellant),
        )
        assert lodged.status_code == 201, lodged.text
        appeals[agreement_id] = lodged.json()
    decided = await client.post(
        f"/appeals/{appeals[A]['appeal_id']}/decision",
        json={"decision": "rejected", "reason": "the result stands"},
        headers={**bearer(dev_keys_dir, "supervisor", sub="sup-other"), "If-Match": '"1"'},
    )
    assert decided.status_code == 200, decided.text
    a_id, b_id, c_id = (appeals[x]["appeal_id"] for x in (A, B, C))

    # Pending first (B then C, oldest first), then the decided A; two per page.
    first = await client.get("/appeals", params={"cycle_id": cycle_id, "limit": 2}, headers=sup)
    assert [a["appeal_id"] for a in first.json()["items"]] == [b_id, c_id]
    assert [a["status"] for a in first.json()["items"]] == ["lodged", "lodged"]
    cursor = first.json()["next_cursor"]
    assert cursor
    second = await client.get("/appeals", params={"cycle_id": cycle_id, "limit": 2, "cursor": cursor}, headers=sup)
    assert [a["appeal_id"] for a in second.json()["items"]] == [a_id]
    assert second.json()["next_cursor"] is None

    auditor = bearer(dev_keys_dir, "auditor")
    assert await appeal_ids(client, auditor, cycle_id=cycle_id, status="rejected") == [a_id]
    assert await appeal_ids(client, auditor, cycle_id=cycle_id, status="lodged") == [b_id, c_id]
    assert await appeal_ids(client, auditor, agreement_id=B) == [b_id]
    assert await appeal_ids(client, auditor, result_id=appeals[C]["result_id"]) == [c_id]

    # Parties: the appeals about their own agreements, whoever lodged them.
    assert await appeal_ids(client, party(dev_keys_dir, C1)) == [c_id, a_id]
    assert await appeal_ids(client, party(dev_keys_dir, E2)) == [b_id]
    assert await appeal_ids(client, party(dev_keys_dir, E1), status="lodged") == []

    evaluator = await client.get("/appeals", headers=bearer(dev_keys_dir, "evaluator", sub="ie-1"))
    assert evaluator.status_code == 403
    bad_cursor = await client.get("/appeals", params={"cursor": "not-ours"}, headers=sup)
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["code"] == "pagination.bad_cursor"
    bad_status = await client.get("/appeals", params={"status": "pending"}, headers=sup)
    assert bad_status.status_code == 422
