"""The delivery pipeline's bounds on the real servers (issue #13 item 5): a consumed event's
plans reach the database in one bulk insert per store, a slow webhook receiver holds only
its own endpoint's slots, and e-mails go out over one kept SMTP connection.
"""

from __future__ import annotations

import asyncio
import email.policy
import json
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alliance_devstack.components import free_port
from alliance_devstack.loopback import serving
from alliance_devstack.provision import Infrastructure
from alliance_notifications.adapters.channels import EmailSender
from alliance_notifications.adapters.secret_cipher import FernetCipher
from alliance_notifications.app import build_app
from alliance_notifications.domain.delivery import Delivery, DeliveryStatus
from alliance_notifications.domain.preferences import Category
from alliance_notifications.domain.recipients import Locale, RoleGroupRoster
from alliance_notifications.domain.webhook_signing import DELIVERY_ID_HEADER
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.planning import handle_event
from alliance_notifications.service.repositories import DELIVERIES, INBOX, STORE_NAMES, Repositories
from alliance_notifications.settings import Settings
from alliance_shared.contract.notifications import Channel
from alliance_shared.persistence.mongo import ensure_indexes
from alliance_shared.persistence.versioned_store import MongoVersionedStore, journal_of, versioned_indexes
from alliance_shared.persistence.write_path import create
from alliance_shared.testing import ManualClock
from tests.conftest import service_env
from tests.integration.notifications.notifications_support import (
    new_id,
    notifications_settings,
    partner_registered,
    publish,
    rectification_ordered,
    register_verified_webhook,
    skip_history,
    wait_for,
)
from tests.support.http import running
from tests.support.insert_commands import InsertCommands
from tests.unit.notifications.notifications_support import NOW, directory, example
from tests.unit.notifications.twins import FixedResolver, InMemoryDueList, RecordingEmail, RecordingWebhooks

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
#: Events published at once for the crash test.
BURST = 60


# --- one bulk insert per store --------------------------------------------------------------


async def test_a_consumed_event_is_recorded_in_one_insert_per_store(infra: Infrastructure) -> None:
    """Planning on the real server: the inbox entries and the deliveries an event calls
    for are one insert command each; a redelivered event adds nothing."""
    inserts = InsertCommands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongo_url, tz_aware=True, event_listeners=[inserts]
    )
    try:
        db = client[f"notifications_bulk_{RUN}"]
        await ensure_indexes(db, [spec for name in STORE_NAMES for spec in versioned_indexes(name)])
        stores = {name: MongoVersionedStore(db, name, "notifications") for name in STORE_NAMES}
        settings = Settings(default_quiet_hours="", directory_cache_seconds=0)
        notifier = Notifier(
            Repositories.on(stores.__getitem__, FernetCipher(settings.secret_keys)),
            settings,
            clock=ManualClock(NOW),
            due=InMemoryDueList(),
            email=RecordingEmail(),
            webhooks=RecordingWebhooks(),
            resolver=FixedResolver(),
        )
        seeded = directory()
        for contact in seeded.contacts.values():
            await create(notifier.repos.contacts, contact.partner_id, contact, None)
        for endpoint in seeded.endpoints.values():
            await create(notifier.repos.endpoints, endpoint.endpoint_id, endpoint, None)
        for group, members in seeded.groups.items():
            await create(notifier.repos.groups, group.value, RoleGroupRoster(group=group, members=members), None)
        event_type, payload = example("evaluation.rectification.ordered")
        inserts.seen.clear()

        await handle_event(notifier, "evt-bulk", event_type, payload)

        inbox_entries = await db[INBOX].count_documents({})
        deliveries = await db[DELIVERIES].count_documents({})
        assert inbox_entries >= 2  # the parties' inboxes, and more for the people told
        assert inserts.into(journal_of(INBOX)) == [inbox_entries]
        assert inserts.into(journal_of(DELIVERIES)) == [deliveries]
        assert deliveries > inbox_entries  # e-mails and the webhook besides

        await handle_event(notifier, "evt-bulk", event_type, payload)  # redelivered

        assert await db[INBOX].count_documents({}) == inbox_entries
        assert await db[DELIVERIES].count_documents({}) == deliveries
        assert await db[journal_of(DELIVERIES)].count_documents({}) == deliveries
        assert len(inserts.into(journal_of(INBOX))) == 2  # the repeat: one refused insert, no lookups
    finally:
        await client.close()


# --- per-endpoint bound -----------------------------------------------------------------------


class HeldReceiver:
    """On 127.0.0.1: ``/held/<name>`` answers notices only once ``release`` is set,
    ``/ok/<name>`` at once; both echo a verification challenge at once. Notices are
    kept by path, with their delivery ids."""

    def __init__(self) -> None:
        self.port = 0
        self.release = asyncio.Event()
        self.notices: dict[str, list[str]] = {}  # path → delivery ids, as received
        self.events: dict[str, set[str]] = {}  # path → event ids

    async def _handle(self, request: Request) -> Response:
        document = json.loads(await request.body())
        if document.get("type") == "verification":
            return JSONResponse({"challenge": document["challenge"]})
        self.notices.setdefault(request.url.path, []).append(request.headers.get(DELIVERY_ID_HEADER, ""))
        self.events.setdefault(request.url.path, set()).add(document["event_id"])
        if request.path_params["kind"] == "held":
            await self.release.wait()
        return Response(status_code=200)

    def url(self, kind: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{name}"

    def count(self, kind: str, name: str) -> int:
        return len(self.notices.get(f"/{kind}/{name}", []))


@pytest_asyncio.fixture(loop_scope="session")
async def held_receiver() -> AsyncIterator[HeldReceiver]:
    target = HeldReceiver()
    app = Starlette(routes=[Route("/{kind}/{name}", target._handle, methods=["POST"])])
    async with serving(app) as target.port:
        yield target
        target.release.set()


async def test_a_held_endpoint_takes_its_own_slots_only(
    infra: Infrastructure, held_receiver: HeldReceiver, dev_keys_dir: Path
) -> None:
    """Two shared webhook slots, one per endpoint: while a receiver holds its first
    notice, its other notices wait for that endpoint's slot without taking a shared one,
    and another endpoint receives every notice meanwhile. (The bound of one shared pool
    alone would let the held endpoint's queue take both slots and stop the other.)"""
    settings = notifications_settings(
        infra, f"bounds_{RUN}", dev_keys_dir,
        webhook_concurrency=2, webhook_concurrency_per_endpoint=1, webhook_timeout_seconds=120,
    )  # fmt: skip
    await skip_history(infra.kafka_admin, settings.consumer_group)
    held, fast = new_id("col"), new_id("col")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    contacts = mongo[settings.mongo_database]["contacts"]
    async with running(build_app(settings)) as http:
        await publish(infra, partner_registered(held, "college", "held", None))
        await publish(infra, partner_registered(fast, "college", "fast", None))

        async def known() -> bool:
            return await contacts.count_documents({"_id": {"$in": [held, fast]}}) == 2

        await wait_for(known, what="both partners in the directory")
        await mongo.close()
        for partner in (held, fast):
            kind = "held" if partner == held else "ok"
            await register_verified_webhook(http, dev_keys_dir, partner, held_receiver.url(kind, partner))
        await publish(infra, *(rectification_ordered(held) for _ in range(3)))

        async def held_in_hand() -> bool:
            return held_receiver.count("held", held) >= 1

        await wait_for(held_in_hand, what="the held endpoint's first notice")
        await publish(infra, *(rectification_ordered(fast) for _ in range(3)))

        async def fast_all_received() -> bool:
            return held_receiver.count("ok", fast) == 3

        await wait_for(fast_all_received, what="every notice to the other endpoint while one is held")
        assert held_receiver.count("held", held) == 1  # its bound: one attempt in hand
        held_receiver.release.set()

        async def held_all_received() -> bool:
            return held_receiver.count("held", held) == 3

        await wait_for(held_all_received, what="the held endpoint's notices once released")
        assert len(set(held_receiver.notices[f"/held/{held}"])) == 3  # three deliveries, none repeated


# --- a crash mid-burst ---------------------------------------------------------------------------


async def started(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """``python -m alliance_notifications`` on ``env``, once it answers ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "alliance_notifications"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

        async def ready() -> bool:
            try:
                return (await http.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(ready, timeout_s=90, what="the notifications process ready")
    return process


async def test_a_process_killed_mid_burst_loses_nothing_and_plans_nothing_twice(
    infra: Infrastructure, held_receiver: HeldReceiver, dev_keys_dir: Path, subprocess_env: dict[str, str]
) -> None:
    """SIGKILL while a burst of events is being planned and sent, then a restart: every
    event's webhook arrives (a notice in flight at the kill may come again with the same
    delivery id, which the receiver drops), and the log holds one delivery per event,
    recipient and channel, every one sent."""
    database, port, partner = f"notifications_crash_{RUN}", free_port(), new_id("col")
    group = f"alliance-notifications-crash-{RUN}"
    env = {
        **subprocess_env,
        **service_env(
            infra, "NOTIFICATIONS_", database, dev_keys_dir,
            http_port=port, kafka_consumer_group=group, smtp_host=infra.smtp.host, smtp_port=infra.smtp.port,
            webhook_allowed_hosts="127.0.0.1", default_quiet_hours="", worker_poll_seconds=0.2,
            retry_base_seconds=1, retry_cap_seconds=2,
        ),
    }  # fmt: skip
    await skip_history(infra.kafka_admin, group)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    deliveries = mongo[database][DELIVERIES]
    process = await started(env, port)
    try:
        await publish(infra, partner_registered(partner, "college", "crash", None))

        async def known() -> bool:
            return await mongo[database]["contacts"].count_documents({"_id": partner}) == 1

        await wait_for(known, what="the partner in the directory")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await register_verified_webhook(http, dev_keys_dir, partner, held_receiver.url("ok", partner))
        held_receiver.release.set()
        burst = [rectification_ordered(partner) for _ in range(BURST)]
        await publish(infra, *burst)

        async def some_arrived() -> bool:
            return held_receiver.count("ok", partner) >= BURST // 10

        await wait_for(some_arrived, timeout_s=120, what="the first notices of the burst")
        process.send_signal(signal.SIGKILL)
        process.wait()
        process = await started(env, port)

        async def all_arrived() -> bool:
            return held_receiver.events.get(f"/ok/{partner}", set()) >= {event.id for event in burst}

        await wait_for(all_arrived, timeout_s=300, what="every event's webhook after the restart")

        async def all_sent() -> bool:
            query = {"partner_id": partner, "channel": "webhook"}
            return await deliveries.count_documents({**query, "status": "sent"}) == BURST

        await wait_for(all_sent, timeout_s=120, what="every webhook delivery recorded sent")
    finally:
        process.kill()
        process.wait()
    logged = await deliveries.find({"partner_id": partner}, {"event_id": 1, "recipient_id": 1, "channel": 1}).to_list()
    await mongo.close()
    keys = Counter((d["event_id"], d["recipient_id"], d["channel"]) for d in logged)
    assert max(keys.values()) == 1
    assert {event_id for event_id, _, channel in keys if channel == "webhook"} == {event.id for event in burst}
    received = held_receiver.notices[f"/ok/{partner}"]
    assert len(set(received)) == BURST  # one delivery id per event; a repeat is the same id


# --- one kept SMTP connection ------------------------------------------------------------------


class PeerRecorder:
    """An aiosmtpd handler that accepts every message and notes the connection it came on."""

    def __init__(self) -> None:
        self.received: list[tuple[Any, str]] = []  # (client address and port, delivery id)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=email.policy.default).parsebytes(envelope.original_content or envelope.content)
        self.received.append((session.peer, str(message["X-Alliance-Delivery-Id"])))
        return "250 Message accepted"

    @property
    def connections(self) -> int:
        return len({peer for peer, _ in self.received})


def mail(n: int) -> Delivery:
    return Delivery(
        delivery_id=f"dlv-smtp-{RUN}-{n}",
        delivery_key=f"evt-smtp|member:{n}|email",
        event_id="evt-smtp",
        event_type="org.coopalliance.funding.tranche.paid.v1",
        channel=Channel.EMAIL,
        recipient_id=f"member:{n}",
        audience_id=f"member:{n}",
        partner_id=None,
        endpoint_id=None,
        address=f"officer-{n}@gov.example.cn",
        category=Category.OPERATIONAL,
        template="funding.tranche.paid",
        locale=Locale.ZH_CN,
        time_zone="Asia/Shanghai",
        subject="拨付通知",
        body="第二笔资金已拨付。",
        status=DeliveryStatus.PENDING,
        created_at=NOW,
        updated_at=NOW,
    )


async def test_a_burst_of_mail_goes_over_one_connection_reopened_when_dropped() -> None:
    """Twenty e-mails attempted at once reach a real SMTP server over one connection, one
    after the other; when the server goes away and comes back, the next e-mail goes over
    a new connection instead of failing on the dropped one."""
    recorder = PeerRecorder()
    port = free_port()
    server = Controller(recorder, hostname="127.0.0.1", port=port)
    server.start()
    sender = EmailSender(Settings(smtp_host="127.0.0.1", smtp_port=port))
    try:
        outcomes = await asyncio.gather(*(sender.send(mail(n)) for n in range(20)))

        assert all(outcome.delivered for outcome in outcomes)
        assert sorted(delivery_id for _, delivery_id in recorder.received) == sorted(
            mail(n).delivery_id for n in range(20)
        )
        assert recorder.connections == 1

        server.stop()  # the relay drops the kept connection
        server = Controller(recorder, hostname="127.0.0.1", port=port)
        server.start()
        outcome = await sender.send(mail(20))

        assert outcome.delivered
        assert recorder.received[-1][1] == mail(20).delivery_id
        assert recorder.connections == 2
    finally:
        await sender.close()
        server.stop()
