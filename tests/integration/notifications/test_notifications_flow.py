"""Events fan out to the right recipients, channels and languages, once; webhooks retry,
die and never block the others; preferences, mandatory categories and quiet hours.

One app (real Kafka, FerretDB, SMTP sink) and one local webhook receiver for the module;
each test uses its own partners, so tests do not see each other's notices.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_notifications.app import build_app
from alliance_shared.contract.envelope import CloudEvent
from alliance_shared.contract.topics import NOTIFICATIONS_EVENTS
from tests.integration.notifications.notifications_support import (
    WebhookReceiver,
    contact,
    event_of,
    mails_to,
    new_id,
    notifications_settings,
    partner_registered,
    publish,
    register_verified_webhook,
    signature_valid,
    skip_history,
    wait_for,
)
from tests.support.http import bearer, running
from tests.support.kafka_io import header, read_topic
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
DATABASE = f"flow_{RUN}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver().serving() as serving:
        yield serving


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(infra: Infrastructure, dev_keys_dir: Path) -> FastAPI:
    settings = notifications_settings(infra, DATABASE, dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    return build_app(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[str]:
    """The same running app on a real socket (a stream needs one: the in-process transport buffers)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task
    sock.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def db(infra: Infrastructure) -> AsyncIterator[Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield mongo[f"notifications_{DATABASE}"]
    await mongo.close()


def ops(keys: Path) -> dict[str, str]:
    return bearer(keys, "ops", sub="ops-wu")


async def register_partners(infra: Infrastructure, db: Any, *partners: CloudEvent) -> None:
    await publish(infra, *partners)
    ids = [p.data["partner_id"] for p in partners]

    async def known() -> bool:
        return all([await db["contacts"].find_one({"_id": pid}) is not None for pid in ids])

    await wait_for(known, what=f"contacts of {ids}")


async def deliveries(http: httpx.AsyncClient, keys: Path, **query: str) -> list[dict[str, Any]]:
    response = await http.get("/deliveries", params={**query, "limit": "200"}, headers=ops(keys))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def payload(short_name: str, **overrides: Any) -> dict[str, Any]:
    return {**EXAMPLE_PAYLOADS[short_name], **overrides}


async def test_an_event_fans_out_once_to_the_right_people_channels_and_languages(
    infra: Infrastructure, client: httpx.AsyncClient, db: Any, receiver: WebhookReceiver, dev_keys_dir: Path
) -> None:
    college, enterprise = new_id("col"), new_id("ent")
    college_mail, enterprise_mail = f"{college}@szpu.example.cn", f"{enterprise}@example.de"
    await register_partners(
        infra, db,
        partner_registered(college, "college", "深圳职业技术大学", contact("王老师", college_mail)),
        partner_registered(enterprise, "enterprise", "鹏城精密", contact("Anna Schmidt", enterprise_mail, "en")),
    )  # fmt: skip
    endpoint_id, secret = await register_verified_webhook(
        client, dev_keys_dir, college, f"{receiver.base_url}/ok/{college}"
    )
    ordered = event_of(
        "evaluation.rectification.ordered",
        payload(
            "evaluation.rectification.ordered",
            order_id=new_id("rect"), responsible_party_id=enterprise, party_ids=[college, enterprise],
            due_at=(datetime.now(UTC) + timedelta(days=30)).isoformat(),
        ),
    )  # fmt: skip

    await publish(infra, ordered)

    async def all_sent() -> bool:
        found = await deliveries(client, dev_keys_dir, event_id=ordered.id)
        return len(found) == 5 and all(d["status"] == "sent" for d in found)

    await wait_for(all_sent, what="five deliveries sent")
    found = {(d["recipient_id"], d["channel"]): d for d in await deliveries(client, dev_keys_dir, event_id=ordered.id)}
    assert set(found) == {
        (f"partner:{enterprise}", "email"), (f"partner:{enterprise}", "inbox"),
        (f"partner:{college}", "email"), (f"partner:{college}", "inbox"),
        (f"webhook:{endpoint_id}", "webhook"),
    }  # fmt: skip
    assert found[(f"partner:{enterprise}", "email")]["category"] == "regulatory"
    assert found[(f"partner:{college}", "email")]["category"] == "operational"
    # E-mail in each contact's language.
    [english] = mails_to(infra, enterprise_mail)
    [chinese] = mails_to(infra, college_mail)
    assert english.body.startswith("Dear Anna Schmidt,")
    assert chinese.body.startswith("王老师，您好：")
    assert english.headers["X-Alliance-Delivery-Id"] == found[(f"partner:{enterprise}", "email")]["delivery_id"]
    # The college system got one signed webhook carrying the event.
    [notice] = receiver.notices(college)
    assert signature_valid(notice, secret)
    assert notice.delivery_id == found[(f"webhook:{endpoint_id}", "webhook")]["delivery_id"]
    assert notice.json["event_id"] == ordered.id
    assert notice.json["data"]["order_id"] == ordered.data["order_id"]
    # The inbox of each party: its own notices only, in its language.
    college_user = bearer(dev_keys_dir, "college", partner_id=college)
    inbox = (await client.get("/inbox", headers=college_user)).json()["items"]
    assert [e["event_id"] for e in inbox] == [ordered.id]
    assert inbox[0]["subject"] == chinese.subject
    assert (await client.get("/inbox/unread-count", headers=college_user)).json()["unread"] == 1
    assert (await client.post(f"/inbox/{inbox[0]['inbox_id']}/read", headers=college_user)).status_code == 200
    assert (await client.get("/inbox/unread-count", headers=college_user)).json()["unread"] == 0
    enterprise_user = bearer(dev_keys_dir, "enterprise", partner_id=enterprise)
    other = await client.post(f"/inbox/{inbox[0]['inbox_id']}/read", headers=enterprise_user)
    assert other.status_code == 404
    # The outcomes are announced on alliance.notifications.events.
    delivery_ids = {d["delivery_id"] for d in found.values()}
    records = await read_topic(
        infra.kafka_admin, NOTIFICATIONS_EVENTS,
        until=lambda rs: delivery_ids <= {r.key.decode() for r in rs if r.key}, timeout_s=20,
    )  # fmt: skip
    delivered = [r for r in records if r.key and r.key.decode() in delivery_ids]
    assert {header(r, "ce_type") for r in delivered} == {"org.coopalliance.notifications.delivery.delivered.v1"}

    # Redelivered (same event id) and then a later event on the same key: the redelivery
    # was handled before the marker, and sent nothing again.
    returned = {k: v for k, v in ordered.data.items() if k not in ("cycle_id", "items", "by_hand")}
    marker = event_of("evaluation.rectification.returned", {**returned, "reason": "spring term missing"})
    await publish(infra, ordered, marker)

    async def marker_sent() -> bool:
        found = await deliveries(client, dev_keys_dir, event_id=marker.id)
        return len(found) == 2 and all(d["status"] == "sent" for d in found)

    await wait_for(marker_sent, what="the marker's deliveries")
    assert len(await deliveries(client, dev_keys_dir, event_id=ordered.id)) == 5
    assert len(mails_to(infra, enterprise_mail)) == 2  # the order, then the return; never the order twice
    assert len(mails_to(infra, college_mail)) == 1  # returned goes to the responsible party only
    assert [r.json["event_id"] for r in receiver.notices(college)] == [ordered.id]


async def test_a_receiver_failing_twice_then_succeeding_gets_one_accepted_signed_delivery(
    infra: Infrastructure, client: httpx.AsyncClient, db: Any, receiver: WebhookReceiver, dev_keys_dir: Path
) -> None:
    college = new_id("col")
    await register_partners(infra, db, partner_registered(college, "college", "flaky", None))
    endpoint_id, secret = await register_verified_webhook(
        client, dev_keys_dir, college, f"{receiver.base_url}/flaky/{college}"
    )
    paid = event_of("funding.tranche.paid", payload("funding.tranche.paid", recipient_partner_id=college))

    await publish(infra, paid)

    async def webhook_final() -> bool:
        found = await deliveries(client, dev_keys_dir, event_id=paid.id, channel="webhook")
        return bool(found) and found[0]["status"] in ("sent", "dead")

    await wait_for(webhook_final, what="the webhook delivery finished")
    [delivery] = await deliveries(client, dev_keys_dir, event_id=paid.id, channel="webhook")
    assert delivery["status"] == "sent"
    assert [a["succeeded"] for a in delivery["attempts"]] == [False, False, True]
    assert delivery["attempts"][0]["error_code"] == "webhook.http_503"
    notices = receiver.notices(college)
    assert len(notices) == 3
    assert {n.delivery_id for n in notices} == {delivery["delivery_id"]}  # retries carry the same id
    [accepted] = receiver.notices(college, accepted=True)
    assert signature_valid(accepted, secret)
    assert accepted.json["event_id"] == paid.id
    assert endpoint_id == delivery["endpoint_id"]


async def test_a_receiver_down_for_good_ends_dead_and_blocks_nobody(
    infra: Infrastructure, client: httpx.AsyncClient, db: Any, receiver: WebhookReceiver, dev_keys_dir: Path
) -> None:
    down, up = new_id("col"), new_id("col")
    await register_partners(
        infra, db, partner_registered(down, "college", "down", None), partner_registered(up, "college", "up", None)
    )
    await register_verified_webhook(client, dev_keys_dir, down, f"{receiver.base_url}/down/{down}")
    await register_verified_webhook(client, dev_keys_dir, up, f"{receiver.base_url}/ok/{up}")
    to_down = event_of("funding.tranche.paid", payload("funding.tranche.paid", recipient_partner_id=down))
    to_up = event_of("funding.tranche.paid", payload("funding.tranche.paid", recipient_partner_id=up))

    await publish(infra, to_down, to_up)

    async def dead() -> bool:
        found = await deliveries(client, dev_keys_dir, event_id=to_down.id, channel="webhook")
        return bool(found) and found[0]["status"] == "dead"

    await wait_for(dead, what="the dead receiver's delivery is dead")
    [gone] = await deliveries(client, dev_keys_dir, event_id=to_down.id, channel="webhook")
    [fine] = await deliveries(client, dev_keys_dir, event_id=to_up.id, channel="webhook")
    assert len(gone["attempts"]) == 3  # NOTIFICATIONS_RETRY_MAX_ATTEMPTS
    assert gone["final_error_code"] == "webhook.http_503"
    assert fine["status"] == "sent"
    assert len(fine["attempts"]) == 1
    assert len(receiver.notices(down)) == 3
    records = await read_topic(
        infra.kafka_admin, NOTIFICATIONS_EVENTS,
        until=lambda rs: any(r.key and r.key.decode() == gone["delivery_id"] for r in rs), timeout_s=20,
    )  # fmt: skip
    [failed] = [r for r in records if r.key and r.key.decode() == gone["delivery_id"]]
    assert header(failed, "ce_type") == "org.coopalliance.notifications.delivery.failed.v1"
    # An operator resends it: a new delivery of the same notice.
    resent = await client.post(f"/deliveries/{gone['delivery_id']}/resend", headers=ops(dev_keys_dir))
    assert resent.status_code == 201, resent.text
    assert resent.json()["resend_of"] == gone["delivery_id"]


async def test_preferences_mute_operational_mail_but_never_regulatory(
    infra: Infrastructure, client: httpx.AsyncClient, db: Any, dev_keys_dir: Path
) -> None:
    college = new_id("col")
    address = f"{college}@szpu.example.cn"
    await register_partners(infra, db, partner_registered(college, "college", "学院", contact("李老师", address)))
    user = bearer(dev_keys_dir, "college", partner_id=college)
    path = f"/recipients/partner:{college}/preferences"
    current = await client.get(path, headers=user)
    refused = await client.put(
        path, json={"muted": {"regulatory": ["email"]}, "quiet_hours": None},
        headers={**user, "If-Match": current.headers["ETag"]},
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["code"] == "preferences.regulatory_mandatory"
    muted = await client.put(
        path, json={"muted": {"operational": ["email"]}, "quiet_hours": None},
        headers={**user, "If-Match": current.headers["ETag"]},
    )  # fmt: skip
    assert muted.status_code == 200, muted.text
    paid = event_of("funding.tranche.paid", payload("funding.tranche.paid", recipient_partner_id=college))
    recovery = event_of("funding.recovery.ordered", payload("funding.recovery.ordered", recipient_partner_id=college))

    await publish(infra, paid, recovery)

    async def recovery_mailed() -> bool:
        return any("5,000,001" in m.body or "50,000.01" in m.body for m in mails_to(infra, address))

    await wait_for(recovery_mailed, what="the regulatory recovery notice is mailed")
    paid_deliveries = {d["channel"]: d for d in await deliveries(client, dev_keys_dir, event_id=paid.id)}
    assert paid_deliveries["email"]["status"] == "skipped_by_preference"
    assert paid_deliveries["inbox"]["status"] == "sent"
    assert len(mails_to(infra, address)) == 1


async def test_quiet_hours_hold_email_until_morning_while_the_inbox_gets_it_now(
    infra: Infrastructure, client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    member = new_id("sup")
    admin = bearer(dev_keys_dir, "registry_admin")
    group = await client.get("/role-groups/supervisors", headers=admin)
    members = [{"member_id": member, "name": "陈督导", "email": f"{member}@jyj.gov.cn"}]
    put = await client.put(
        "/role-groups/supervisors", json={"members": members}, headers={**admin, "If-Match": group.headers["ETag"]}
    )
    assert put.status_code == 200, put.text
    me = bearer(dev_keys_dir, "supervisor", sub=member)
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    path = f"/recipients/member:{member}/preferences"
    current = await client.get(path, headers=me)
    quiet = await client.put(
        path, json={"quiet_hours": {"start": start, "end": end}}, headers={**me, "If-Match": current.headers["ETag"]}
    )
    assert quiet.status_code == 200, quiet.text
    overdue = event_of(
        "evaluation.rectification.overdue", payload("evaluation.rectification.overdue", order_id=new_id("rect"))
    )

    await publish(infra, overdue)

    async def planned() -> bool:
        found = await deliveries(client, dev_keys_dir, event_id=overdue.id, recipient_id=f"member:{member}")
        return len(found) == 2

    await wait_for(planned, what="the member's deliveries")
    found = {d["channel"]: d for d in await deliveries(
        client, dev_keys_dir, event_id=overdue.id, recipient_id=f"member:{member}")}  # fmt: skip
    assert found["inbox"]["status"] == "sent"
    assert found["email"]["status"] == "scheduled"
    release = datetime.fromisoformat(found["email"]["next_attempt_at"])
    assert release.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") == end
    assert mails_to(infra, f"{member}@jyj.gov.cn") == []
    inbox = (await client.get("/inbox", headers=me)).json()["items"]
    assert [e["event_id"] for e in inbox] == [overdue.id]


async def test_the_inbox_stream_pushes_new_notices_to_their_owner(
    infra: Infrastructure, client: httpx.AsyncClient, served: str, dev_keys_dir: Path
) -> None:
    college = new_id("col")
    paid = event_of("funding.tranche.paid", payload("funding.tranche.paid", recipient_partner_id=college))
    user = bearer(dev_keys_dir, "college", partner_id=college)
    events: list[tuple[str, str]] = []

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=served, timeout=30) as http,
            http.stream("GET", "/inbox/stream", headers=user) as stream,
        ):
            assert stream.status_code == 200
            kind = ""
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    events.append((kind, line.removeprefix("data:").strip()))
                    if kind == "notice":
                        return

    listening = asyncio.create_task(listen())
    await wait_for(lambda: _has(events, "unread"), what="the stream's first event")
    await publish(infra, paid)
    await asyncio.wait_for(listening, timeout=30)

    assert events[0] == ("unread", "0")
    notice = json.loads(events[-1][1])
    assert (notice["event_id"], notice["recipient_id"]) == (paid.id, f"partner:{college}")


async def _has(events: list[tuple[str, str]], kind: str) -> bool:
    return any(k == kind for k, _ in events)


async def test_a_rotated_secret_signs_alongside_the_old_one_during_the_grace_period(
    infra: Infrastructure, client: httpx.AsyncClient, db: Any, receiver: WebhookReceiver, dev_keys_dir: Path
) -> None:
    college = new_id("col")
    await register_partners(infra, db, partner_registered(college, "college", "rotating", None))
    endpoint_id, old_secret = await register_verified_webhook(
        client, dev_keys_dir, college, f"{receiver.base_url}/ok/{college}"
    )
    user = bearer(dev_keys_dir, "college", partner_id=college)
    rotated = await client.post(f"/partners/{college}/webhooks/{endpoint_id}/rotate-secret", headers=user)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret
    listed = await client.get(f"/partners/{college}/webhooks", headers=bearer(dev_keys_dir, "auditor"))
    assert "secret" not in listed.json()[0]
    paid = event_of("funding.tranche.paid", payload("funding.tranche.paid", recipient_partner_id=college))

    await publish(infra, paid)

    await wait_for(lambda: _received(receiver, college), what="the webhook")
    [notice] = receiver.notices(college)
    assert signature_valid(notice, new_secret)
    assert signature_valid(notice, old_secret)
    assert notice.signature is not None
    assert notice.signature.count("v1=") == 2


async def _received(receiver: WebhookReceiver, path_part: str) -> bool:
    return bool(receiver.notices(path_part))
