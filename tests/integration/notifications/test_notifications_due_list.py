"""The due list's contract, run on the MongoDB-wire server AND the in-memory twin the
use-case tests use (tests/unit/notifications/twins.py)."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_notifications.adapters.due_list import MongoDueList
from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.retry_policy import RetryPolicy
from alliance_notifications.domain.routing import plan_deliveries
from alliance_notifications.service.ports import DueList
from alliance_shared.contract.notifications import Channel
from tests.unit.notifications.notifications_support import NOW, directory, example
from tests.unit.notifications.twins import InMemoryDueList

POLICY = RetryPolicy(base_seconds=60, cap_seconds=60, max_attempts=3)


@pytest.fixture(params=["mongo", "memory"])
async def due(request: pytest.FixtureRequest) -> AsyncIterator[DueList]:
    if request.param == "memory":
        yield InMemoryDueList()
        return
    infra: Infrastructure = request.getfixturevalue("infra")  # servers start only for this half
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[f"due_{uuid.uuid4().hex[:10]}"]
    yield MongoDueList(db)
    await client.drop_database(db.name)
    await client.close()


def webhook_deliveries() -> list[Delivery]:
    event_type, payload = example("evaluation.rectification.ordered")
    plans = plan_deliveries(event_type, "evt-due", payload, directory(), DEFAULT_RULES, {}, NOW)
    return [Delivery.from_plan(p, NOW) for p in plans if p.channel is Channel.WEBHOOK]


def failed(delivery: Delivery, seconds: int) -> Delivery:
    """The delivery after a retryable failure, due ``seconds`` from NOW."""
    copy = delivery.model_copy(deep=True)
    copy.record_failure(NOW, "webhook.http_503", "busy", retryable=True, policy=POLICY, rng=random.Random(1))
    copy.next_attempt_at = NOW + timedelta(seconds=seconds)
    return copy


async def test_an_open_delivery_is_due_from_its_next_attempt_on(due: DueList) -> None:
    [delivery] = webhook_deliveries()
    waiting = failed(delivery, 60)

    await due.sync(waiting)
    await due.sync(waiting)  # idempotent

    assert await due.due_ids(NOW) == []
    assert await due.due_ids(NOW + timedelta(seconds=60)) == [delivery.delivery_id]


async def test_a_final_delivery_leaves_the_list(due: DueList) -> None:
    [delivery] = webhook_deliveries()
    await due.sync(failed(delivery, 0))
    sent = failed(delivery, 0)
    sent.record_success(NOW)

    await due.sync(sent)
    await due.sync(sent)  # dropping what is not there is fine

    assert await due.due_ids(NOW + timedelta(days=1)) == []


async def test_a_later_attempt_moves_the_hint_and_the_limit_is_kept(due: DueList) -> None:
    [delivery] = webhook_deliveries()
    await due.sync(failed(delivery, 0))
    await due.sync(failed(delivery, 3600))  # claimed or retried: due later

    assert await due.due_ids(NOW + timedelta(seconds=1)) == []
    assert await due.due_ids(NOW + timedelta(hours=1), limit=1) == [delivery.delivery_id]


async def test_due_ids_are_bounded_by_the_limit(due: DueList) -> None:
    [delivery] = webhook_deliveries()
    others = [delivery.model_copy(update={"delivery_id": f"{delivery.delivery_id}-{n}"}) for n in range(3)]
    for other in others:
        await due.sync(failed(other, 0))

    assert len(await due.due_ids(NOW, limit=2)) == 2
    assert sorted(await due.due_ids(NOW)) == sorted(o.delivery_id for o in others)
