"""Rectification deadlines on the real servers: the periodic check of the lifespan marks an
unanswered order overdue once (``rectification.overdue``), escalates it once when it is
still unanswered the escalation period past its deadline (``rectification.escalated``),
and it can still be answered and closed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from tests.integration.evaluation.evaluation_support import (
    agreement_event,
    complete_cycle,
    etag,
    evaluation_events,
    new_id,
    open_cycle,
    running_evaluation,
    wait_for,
)
from tests.support.http import bearer

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
AGR, COL, ENT = new_id("agr-late"), new_id("col"), new_id("ent")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    agreements = [agreement_event(AGR, "activated", college_ids=[COL], enterprise_ids=[ENT])]
    async with running_evaluation(
        infra,
        dev_keys_dir,
        f"late_{RUN}",
        agreements,
        rectification_due_seconds=3,
        rectification_escalate_after_seconds=2,
        overdue_check_seconds=0.5,
    ) as http:
        yield http


async def test_unanswered_order_goes_overdue_then_escalates_once_and_can_still_be_closed(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    supervisor = bearer(dev_keys_dir, "supervisor")
    opened = await open_cycle(
        client, supervisor, [AGR], kind="mid_term", name="late", due_at=datetime.now(UTC) + timedelta(days=1)
    )
    cycle_id = opened.json()["cycle_id"]
    await complete_cycle(client, supervisor, opened)
    (order,) = (await client.get(f"/rectifications?cycle_id={cycle_id}", headers=supervisor)).json()["items"]
    url = f"/rectifications/{order['order_id']}"

    async def overdue() -> bool:
        return bool((await client.get(url, headers=supervisor)).json()["status"] == "overdue")

    await wait_for(overdue, timeout_s=20)

    async def escalated() -> bool:
        return bool((await client.get(url, headers=supervisor)).json()["escalated_at"] is not None)

    await wait_for(escalated, timeout_s=20)
    board = (await client.get(f"/cycles/{cycle_id}/dashboard", headers=supervisor)).json()
    assert [o["order_id"] for o in board["overdue_rectifications"]] == [order["order_id"]]
    await asyncio.sleep(1.5)  # three more sweeps: no second overdue or escalation
    college = bearer(dev_keys_dir, "college", partner_id=COL)
    current = await client.get(url, headers=college)
    responded = await client.post(
        f"{url}/response", json={"evidence_refs": ["att://late/plan.pdf"]}, headers={**college, **etag(current)}
    )
    assert responded.status_code == 200, responded.text
    closed = await client.post(f"{url}/close", json={"reason": "done, late"}, headers={**supervisor, **etag(responded)})
    assert closed.status_code == 200
    events = await evaluation_events(infra, lambda data, t: data.get("order_id") == order["order_id"], expect=5)
    await asyncio.sleep(0.5)
    events = await evaluation_events(infra, lambda data, t: data.get("order_id") == order["order_id"], expect=5)
    assert [t.split(".")[4] for t, _ in events] == ["ordered", "overdue", "escalated", "responded", "closed"]
    assert events[1][1]["actor_id"] == events[2][1]["actor_id"] == "system"
    assert events[2][1]["overdue_since"] is not None
    assert events[-1][1]["was_overdue"] is True
