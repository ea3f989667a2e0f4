"""Routing rules an admin manages (issue #14 item 18), on the real servers: the defaults
are seeded, a new version changes who hears of the next real event (no restart), an
invalid version is refused and changes nothing, and the dry run shows what a real
delivery then does.

One app (real Kafka, FerretDB, SMTP sink) for the module; each test uses its own partners.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_notifications.app import build_app
from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_shared.contract.envelope import CloudEvent
from tests.integration.notifications.notifications_support import (
    contact,
    event_of,
    new_id,
    notifications_settings,
    partner_registered,
    publish,
    skip_history,
    wait_for,
)
from tests.support.http import bearer, running
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
DATABASE = f"rules_{RUN}"
ORDERED = "org.coopalliance.evaluation.rectification.ordered.v1"
INBOX_ONLY = {
    "event_type": ORDERED,
    "selectors": ["responsible_party"],
    "category": "regulatory",
    "channels": ["inbox"],
    "template": "evaluation.rectification.ordered",
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(infra: Infrastructure, dev_keys_dir: Path) -> FastAPI:
    # Routing reads the rule set for every event: a version another replica wrote applies to the next one.
    settings = notifications_settings(infra, DATABASE, dev_keys_dir, rules_cache_seconds=0)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    return build_app(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def other_replica(
    infra: Infrastructure, dev_keys_dir: Path, client: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """A second replica on the same database, serving the API only (no consumer)."""
    settings = notifications_settings(infra, DATABASE, dev_keys_dir, run_consumers=False)
    async with running(build_app(settings)) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def db(infra: Infrastructure) -> AsyncIterator[Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield mongo[f"notifications_{DATABASE}"]
    await mongo.close()


def admin(keys: Path) -> dict[str, str]:
    return bearer(keys, "registry_admin", sub="admin-wang")


def ops(keys: Path) -> dict[str, str]:
    return bearer(keys, "ops", sub="ops-wu")


async def two_partners(infra: Infrastructure, db: Any) -> tuple[str, str]:
    """A college (zh-CN) and an enterprise (en) with contacts, known to the service."""
    college, enterprise = new_id("col"), new_id("ent")
    await publish(
        infra,
        partner_registered(college, "college", "深圳职业技术大学", contact("王老师", f"{college}@szpu.example.cn")),
        partner_registered(enterprise, "enterprise", "鹏城精密", contact("Anna", f"{enterprise}@example.de", "en")),
    )

    async def known() -> bool:
        return all([await db["contacts"].find_one({"_id": pid}) is not None for pid in (college, enterprise)])

    await wait_for(known, what="the partners' contacts")
    return college, enterprise


def order(college: str, enterprise: str) -> CloudEvent:
    payload = {
        **EXAMPLE_PAYLOADS["evaluation.rectification.ordered"],
        "order_id": new_id("rect"),
        "responsible_party_id": enterprise,
        "party_ids": [college, enterprise],
        "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    return event_of("evaluation.rectification.ordered", payload)


def returned(ordered: CloudEvent) -> CloudEvent:
    """The order's next event: same key, so consumed after it (a marker that it was routed)."""
    fields = {k: v for k, v in ordered.data.items() if k not in ("cycle_id", "items", "by_hand")}
    return event_of("evaluation.rectification.returned", {**fields, "reason": "spring term missing"})


async def deliveries(http: httpx.AsyncClient, keys: Path, event_id: str) -> list[dict[str, Any]]:
    response = await http.get("/deliveries", params={"event_id": event_id, "limit": "200"}, headers=ops(keys))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def routed(
    infra: Infrastructure, http: httpx.AsyncClient, keys: Path, ordered: CloudEvent
) -> set[tuple[str, str]]:
    """Publish the order and its marker; (recipient, channel) of every delivery of the order."""
    marker = returned(ordered)
    await publish(infra, ordered, marker)

    async def marker_routed() -> bool:
        return bool(await deliveries(http, keys, marker.id))

    await wait_for(marker_routed, what="the marker's deliveries")
    return {(d["recipient_id"], d["channel"]) for d in await deliveries(http, keys, ordered.id)}


async def read_rules(http: httpx.AsyncClient, keys: Path) -> httpx.Response:
    response = await http.get("/routing-rules", headers=ops(keys))
    assert response.status_code == 200, response.text
    return response


async def test_the_default_rules_are_seeded_as_the_first_version(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    history = await client.get("/routing-rules/versions", headers=ops(dev_keys_dir))

    assert history.status_code == 200, history.text
    first = history.json()["versions"][-1]
    assert first["version"] == 1
    assert first["source"] == "defaults"
    assert len(first["rules"]) == len(DEFAULT_RULES)


async def test_a_new_version_changes_who_hears_of_the_next_real_event(
    infra: Infrastructure, client: httpx.AsyncClient, other_replica: httpx.AsyncClient, db: Any, dev_keys_dir: Path
) -> None:
    """Written through another replica: the consuming one routes by it without a restart."""
    college, enterprise = await two_partners(infra, db)
    before = await routed(infra, client, dev_keys_dir, order(college, enterprise))
    current = await read_rules(client, dev_keys_dir)
    others = [r for r in current.json()["rules"] if r["event_type"] != ORDERED]

    written = await other_replica.put(
        "/routing-rules",
        json={"rules": [*others, INBOX_ONLY], "note": "orders: the responsible party's inbox only"},
        headers={**admin(dev_keys_dir), "If-Match": current.headers["ETag"]},
    )
    after = await routed(infra, client, dev_keys_dir, order(college, enterprise))

    assert written.status_code == 200, written.text
    assert written.json()["source"] == "admin"
    assert written.json()["changed_by"] == "admin-wang"
    assert written.headers["ETag"] == f'"{current.json()["version"] + 1}"'
    assert before == {
        (f"partner:{college}", "email"), (f"partner:{college}", "inbox"),
        (f"partner:{enterprise}", "email"), (f"partner:{enterprise}", "inbox"),
    }  # fmt: skip
    assert after == {(f"partner:{enterprise}", "inbox")}
    history = (await client.get("/routing-rules/versions", headers=ops(dev_keys_dir))).json()["versions"]
    assert history[0]["version"] == written.json()["version"]
    assert history[0]["note"] == "orders: the responsible party's inbox only"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"event_type": "org.coopalliance.funding.tranche.vanished.v1"}, "routing.invalid_rules"),
        ({"template": "funding.tranche.vanished"}, "routing.invalid_rules"),
        ({"selectors": ["the_mayor"]}, "request.invalid"),
    ],
)
async def test_an_invalid_version_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, dev_keys_dir: Path, change: dict[str, Any], code: str
) -> None:
    before = await read_rules(client, dev_keys_dir)

    refused = await client.put(
        "/routing-rules",
        json={"rules": [INBOX_ONLY, INBOX_ONLY, {**INBOX_ONLY, **change}]},
        headers={**admin(dev_keys_dir), "If-Match": before.headers["ETag"]},
    )

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == code
    if code == "routing.invalid_rules":
        assert problem["rule_index"] == 2
    else:
        assert [e["loc"][:3] for e in problem["errors"]] == [["body", "rules", "2"]]
    after = await read_rules(client, dev_keys_dir)
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.json() == before.json()


async def test_the_dry_run_shows_what_a_real_delivery_then_does(
    infra: Infrastructure, client: httpx.AsyncClient, db: Any, dev_keys_dir: Path
) -> None:
    college, enterprise = await two_partners(infra, db)
    ordered = returned(order(college, enterprise))  # a returned order: its rules are the defaults'

    dry = await client.post(
        "/routing-rules/dry-run",
        json={"event_type": ordered.type, "payload": ordered.data, "event_id": ordered.id},
        headers=ops(dev_keys_dir),
    )
    assert dry.status_code == 200, dry.text
    planned = {d["delivery_id"]: d for d in dry.json()["deliveries"]}
    assert await deliveries(client, dev_keys_dir, ordered.id) == []  # nothing was sent or stored
    await publish(infra, ordered)

    async def all_recorded() -> bool:
        return len(await deliveries(client, dev_keys_dir, ordered.id)) == len(planned)

    await wait_for(all_recorded, what="the event's deliveries")
    recorded = {d["delivery_id"]: d for d in await deliveries(client, dev_keys_dir, ordered.id)}
    assert set(recorded) == set(planned)
    for delivery_id, real in recorded.items():
        shown = planned[delivery_id]
        assert (shown["recipient_id"], shown["channel"], shown["template"], shown["language"]) == (
            real["recipient_id"], real["channel"], real["template"], real["locale"],
        )  # fmt: skip
    assert {d["language"] for d in planned.values() if d["recipient_id"] == f"partner:{enterprise}"} == {"en"}
    # The stored event by its id alone: the same answer.
    again = await client.post("/routing-rules/dry-run", json={"event_id": ordered.id}, headers=ops(dev_keys_dir))
    assert again.status_code == 200, again.text
    assert {d["delivery_id"] for d in again.json()["deliveries"]} == set(planned)


async def test_a_dry_run_refuses_what_would_be_dead_lettered(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    unknown = await client.post(
        "/routing-rules/dry-run",
        json={"event_type": "org.coopalliance.nothing.v1", "payload": {}},
        headers=ops(dev_keys_dir),
    )
    invalid = await client.post(
        "/routing-rules/dry-run", json={"event_type": ORDERED, "payload": {"order_id": "x"}}, headers=ops(dev_keys_dir)
    )
    never_routed = await client.post("/routing-rules/dry-run", json={"event_id": "none"}, headers=ops(dev_keys_dir))

    assert (unknown.status_code, unknown.json()["code"]) == (422, "routing.unknown_event_type")
    assert (invalid.status_code, invalid.json()["code"]) == (422, "routing.invalid_payload")
    assert (never_routed.status_code, never_routed.json()["code"]) == (404, "event.not_found")
