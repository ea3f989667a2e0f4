"""Webhooks cannot be aimed inward or used to stall delivery (issue #15, items 10, 11 and
17's webhook secrets), on the real servers and real sockets.

Every target of these tests is a loopback address: inward URLs are refused before any
connection, and names (``*.example.test``) are resolved by the test's own resolver to
127.0.0.1, never by DNS.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from alliance_devstack.loopback import serving
from alliance_devstack.provision import Infrastructure
from alliance_notifications.adapters.channels import WebhookSender
from alliance_notifications.app import build_app
from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.egress import EgressPolicy
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.settings import Settings
from tests.integration.notifications.notifications_support import (
    contact,
    mails_to,
    new_id,
    notifications_settings,
    partner_registered,
    publish,
    rectification_ordered,
    skip_history,
    wait_for,
)
from tests.support.http import bearer, running

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
DATABASE = f"hardening_{RUN}"
POOLS_DATABASE = f"pools_{RUN}"
KEY = Fernet.generate_key().decode()


class Receiver:
    """On 127.0.0.1: ``/ok`` echoes the challenge; ``/down`` 503; ``/stall`` answers after
    ``slow_seconds``; ``/slow`` echoes a challenge at once but answers notices after
    ``slow_seconds``; ``/trickle`` sends its body a byte at a time for half a minute;
    ``/huge`` echoes the challenge inside 2 MB; ``/redirect`` points at ``/ok``."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[tuple[str, str, bytes]] = []  # (path, host header, body)
        self.slow_seconds = 5.0

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((request.url.path, request.headers.get("host", ""), body))
        kind = request.path_params["kind"]
        document = await request.json()
        echo = {"challenge": document.get("challenge", "")}
        if kind == "down":
            return Response(status_code=503)
        if kind == "stall" or (kind == "slow" and document.get("type") != "verification"):
            await asyncio.sleep(self.slow_seconds)
        if kind == "trickle":

            async def drip() -> AsyncIterator[bytes]:
                for _ in range(100):
                    yield b" "
                    await asyncio.sleep(0.3)

            return StreamingResponse(drip(), media_type="application/json")
        if kind == "huge":
            return JSONResponse({**echo, "pad": "x" * 2_000_000})
        if kind == "redirect":
            return RedirectResponse(f"/ok/{request.path_params['name']}", status_code=307)
        return JSONResponse(echo)

    def paths(self, part: str) -> list[str]:
        return [path for path, _, _ in self.requests if part in path]

    def url(self, kind: str, name: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{kind}/{name}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    app = Starlette(routes=[Route("/{kind}/{name}", target._handle, methods=["POST"])])
    async with serving(app) as target.port:
        yield target


def hardened_settings(infra: Infrastructure, keys: Path, database: str, **extra: Any) -> Settings:
    defaults: dict[str, Any] = {
        "attempt_deadline_seconds": 2,
        "webhook_timeout_seconds": 10,  # per read: the trickle beats it, only the deadline stops it
        "webhook_max_endpoints_per_partner": 2,
        "verify_rate_limit": 3,
        "verify_rate_window_seconds": 3600,
        "webhook_secret_key": KEY,
        "secret_rotation_grace_seconds": 1,
        "secret_sweep_seconds": 0.5,
    }
    return notifications_settings(infra, database, keys, **{**defaults, **extra})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(infra: Infrastructure, dev_keys_dir: Path) -> FastAPI:
    settings = hardened_settings(infra, dev_keys_dir, DATABASE)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    return build_app(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as http:
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def db(infra: Infrastructure) -> AsyncIterator[Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield mongo
    await mongo.close()


def college_user(keys: Path, partner_id: str) -> dict[str, str]:
    return bearer(keys, "college", partner_id=partner_id)


async def register(http: httpx.AsyncClient, keys: Path, partner_id: str, url: str) -> httpx.Response:
    return await http.post(
        f"/partners/{partner_id}/webhooks", json={"url": url}, headers=college_user(keys, partner_id)
    )


async def verify(http: httpx.AsyncClient, keys: Path, partner_id: str, endpoint_id: str) -> httpx.Response:
    return await http.post(
        f"/partners/{partner_id}/webhooks/{endpoint_id}/verify", headers=college_user(keys, partner_id)
    )


# --- 10. no SSRF ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://127.0.0.2:{port}/ok/x", "webhook.address_not_public"),  # loopback, not allow-listed
        ("https://[::1]:{port}/ok/x", "webhook.address_not_public"),
        ("https://[::ffff:127.0.0.1]:{port}/ok/x", "webhook.address_not_public"),
        ("https://localhost:{port}/ok/x", "webhook.url_not_public"),
        ("https://notifications:{port}/ok/x", "webhook.url_not_public"),  # a cluster service's name
        ("http://127.0.0.2:{port}/ok/x", "webhook.url_not_https"),
        ("https://2130706433:{port}/ok/x", "webhook.url_not_public"),  # 127.0.0.1 as a number: one label
        ("https://127.1:{port}/ok/x", "webhook.address_not_public"),  # not an address literal: resolved, refused
    ],
)
async def test_inward_webhook_urls_are_refused_at_registration(
    client: httpx.AsyncClient, receiver: Receiver, dev_keys_dir: Path, url: str, code: str
) -> None:
    college = new_id("col")

    refused = await register(client, dev_keys_dir, college, url.format(port=receiver.port))

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == code
    listed = await client.get(f"/partners/{college}/webhooks", headers=college_user(dev_keys_dir, college))
    assert listed.json() == []


class ScriptedResolver:
    """Answers each name with the next address of its script (the last one repeats)."""

    def __init__(self, **scripts: list[str]) -> None:
        self.scripts = {name.replace("_", "."): script for name, script in scripts.items()}
        self.asked: list[str] = []

    async def addresses(self, host: str) -> list[str]:
        self.asked.append(host)
        script = self.scripts.get(host, [])
        return [script.pop(0) if len(script) > 1 else script[0]] if script else []


def endpoint_at(url: str) -> WebhookEndpoint:
    return WebhookEndpoint.register(
        endpoint_id=new_id("wh"), partner_id="col-x", url=url, secret="s" * 40, now=datetime.now(UTC), actor_id="t",
        policy=EgressPolicy.of(["127.0.0.1", "hooks.example.test"], []),
    )  # fmt: skip


def delivery_to(endpoint: WebhookEndpoint) -> Delivery:
    return Delivery.model_validate(
        {
            "delivery_id": new_id("dl"), "delivery_key": new_id("key"), "event_id": new_id("evt"),
            "event_type": "org.coopalliance.funding.tranche.paid.v1", "recipient_id": endpoint.recipient_id,
            "partner_id": endpoint.partner_id, "endpoint_id": endpoint.endpoint_id, "channel": "webhook",
            "category": "operational", "locale": "zh-CN", "created_at": datetime.now(UTC),
            "audience_id": endpoint.partner_id, "address": endpoint.url, "template": "none",
            "time_zone": "Asia/Shanghai", "status": "pending", "updated_at": datetime.now(UTC),
        }
    )  # fmt: skip


async def test_a_name_that_resolves_inward_at_connect_time_is_refused_there(
    infra: Infrastructure, receiver: Receiver, dev_keys_dir: Path
) -> None:
    """DNS rebinding: the name passed the check at registration; when connecting it
    answers 127.0.0.1 — the sender resolves it itself, checks, and never connects."""
    settings = hardened_settings(infra, dev_keys_dir, DATABASE)
    resolver = ScriptedResolver(rebind_example_test=["127.0.0.1"])
    sender = WebhookSender(settings, resolver)
    endpoint = endpoint_at(f"https://rebind.example.test:{receiver.port}/ok/rebind")
    before = len(receiver.requests)
    try:
        outcome = await sender.send(delivery_to(endpoint), endpoint, {}, datetime.now(UTC))
    finally:
        await sender.close()

    assert (outcome.delivered, outcome.error_code, outcome.retryable) == (False, "webhook.address_refused", False)
    assert resolver.asked == ["rebind.example.test"]
    assert len(receiver.requests) == before


async def test_connections_go_to_the_address_that_was_checked(
    infra: Infrastructure, receiver: Receiver, dev_keys_dir: Path
) -> None:
    """An allow-listed name is connected to at the address the guard resolved (not by a
    second lookup), with the URL's host kept in the request."""
    settings = hardened_settings(infra, dev_keys_dir, DATABASE, webhook_allowed_hosts="127.0.0.1,hooks.example.test")
    sender = WebhookSender(settings, ScriptedResolver(hooks_example_test=["127.0.0.1"]))
    endpoint = endpoint_at(receiver.url("ok", "checked", host="hooks.example.test"))
    try:
        outcome = await sender.send(delivery_to(endpoint), endpoint, {}, datetime.now(UTC))
    finally:
        await sender.close()

    assert outcome.delivered, outcome
    [(_, host, _)] = [r for r in receiver.requests if r[0] == "/ok/checked"]
    assert host == f"hooks.example.test:{receiver.port}"


async def test_verification_failures_all_look_the_same(
    client: httpx.AsyncClient, receiver: Receiver, dev_keys_dir: Path
) -> None:
    """A refusing target, a closed port, a redirect and a slow answer get one generic
    answer: the handshake cannot be used to learn what listens where."""
    closed = socket_port_closed()
    answers = []
    for url in (
        receiver.url("down", "x"),
        f"http://127.0.0.1:{closed}/ok/x",
        receiver.url("redirect", "generic"),
        receiver.url("stall", "x"),
    ):
        college = new_id("col")
        created = await register(client, dev_keys_dir, college, url)
        assert created.status_code == 201, created.text
        answer = await verify(client, dev_keys_dir, college, created.json()["endpoint_id"])
        assert answer.status_code == 422, answer.text
        answers.append({k: answer.json()[k] for k in ("code", "detail", "title", "status")})

    assert all(a == answers[0] for a in answers)
    assert answers[0]["code"] == "webhook.verification_failed"
    assert "503" not in answers[0]["detail"]
    assert "Error" not in answers[0]["detail"]
    assert receiver.paths("/ok/generic") == []  # the redirect was not followed


def socket_port_closed() -> int:
    """A loopback port nobody listens on (bound, then freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- 11. bounded deliveries ---------------------------------------------------------------------


async def test_an_attempt_has_one_deadline_and_reads_a_bounded_answer(
    client: httpx.AsyncClient, receiver: Receiver, dev_keys_dir: Path
) -> None:
    """A body dripping a byte every 0.3 s beats every per-read timeout; the attempt's
    deadline (2 s here) ends it. An echo inside 2 MB is not read."""
    for kind in ("trickle", "huge"):
        college = new_id("col")
        created = await register(client, dev_keys_dir, college, receiver.url(kind, college))
        started = time.monotonic()
        answer = await verify(client, dev_keys_dir, college, created.json()["endpoint_id"])
        elapsed = time.monotonic() - started

        assert answer.status_code == 422, answer.text
        assert elapsed < 6, f"{kind}: {elapsed:.1f} s"
        assert receiver.paths(f"/{kind}/{college}")  # it was asked, and its answer refused


async def test_a_partner_has_a_bounded_number_of_endpoints(
    client: httpx.AsyncClient, receiver: Receiver, dev_keys_dir: Path
) -> None:
    college = new_id("col")
    first = await register(client, dev_keys_dir, college, receiver.url("ok", college))
    await register(client, dev_keys_dir, college, receiver.url("ok", college))

    third = await register(client, dev_keys_dir, college, receiver.url("ok", college))
    disabled = await client.post(
        f"/partners/{college}/webhooks/{first.json()['endpoint_id']}/disable",
        json={"reason": "replaced"},
        headers=college_user(dev_keys_dir, college),
    )
    again = await register(client, dev_keys_dir, college, receiver.url("ok", college))

    assert (third.status_code, third.json()["code"]) == (409, "webhook.too_many_endpoints")
    assert disabled.status_code == 200
    assert again.status_code == 201


async def test_handshakes_are_rate_limited(client: httpx.AsyncClient, receiver: Receiver, dev_keys_dir: Path) -> None:
    college = new_id("col")
    created = await register(client, dev_keys_dir, college, receiver.url("down", college))
    endpoint_id = created.json()["endpoint_id"]
    for _ in range(3):
        assert (await verify(client, dev_keys_dir, college, endpoint_id)).status_code == 422
    before = len(receiver.paths(f"/down/{college}"))

    limited = await verify(client, dev_keys_dir, college, endpoint_id)

    assert limited.status_code == 429, limited.text
    assert limited.json()["code"] == "webhook.verify_rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert len(receiver.paths(f"/down/{college}")) == before  # nothing sent


async def test_ops_can_disable_any_endpoint(client: httpx.AsyncClient, receiver: Receiver, dev_keys_dir: Path) -> None:
    college = new_id("col")
    created = await register(client, dev_keys_dir, college, receiver.url("ok", college))

    disabled = await client.post(
        f"/partners/{college}/webhooks/{created.json()['endpoint_id']}/disable",
        json={"reason": "floods the relay"},
        headers=bearer(dev_keys_dir, "ops", sub="ops-wu"),
    )

    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["status"], disabled.json()["disabled_reason"]) == ("disabled", "floods the relay")


# --- 17. secrets at rest ------------------------------------------------------------------------


async def test_secrets_are_encrypted_at_rest_and_the_old_one_dropped_after_its_grace(
    client: httpx.AsyncClient, receiver: Receiver, db: Any, dev_keys_dir: Path
) -> None:
    college = new_id("col")
    created = await register(client, dev_keys_dir, college, receiver.url("ok", college))
    endpoint_id, first = created.json()["endpoint_id"], created.json()["secret"]
    rotated = await client.post(
        f"/partners/{college}/webhooks/{endpoint_id}/rotate-secret", headers=college_user(dev_keys_dir, college)
    )
    second = rotated.json()["secret"]
    database = db[f"notifications_{DATABASE}"]

    stored = [d async for d in database["webhook_endpoints_journal"].find({"endpoint_id": endpoint_id})]
    assert len(stored) >= 2
    for version in stored:
        assert first not in str(version)
        assert second not in str(version)
        assert version["secret"].startswith("fernet:")
    newest = max(stored, key=lambda d: int(d["_id"].rsplit("#", 1)[1]))
    assert Fernet(KEY.encode()).decrypt(newest["secret"].removeprefix("fernet:").encode()).decode() == second

    async def dropped() -> bool:
        current = await database["webhook_endpoints_journal"].find({"endpoint_id": endpoint_id}).to_list()
        newest = max(current, key=lambda d: int(d["_id"].rsplit("#", 1)[1]))
        return newest["previous_secret"] is None

    await wait_for(dropped, timeout_s=15, what="the previous secret dropped after its 1 s grace")


# --- 11. e-mail and webhooks in separate pools ---------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pools_client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = hardened_settings(
        infra, dev_keys_dir, POOLS_DATABASE,
        attempt_deadline_seconds=30, email_concurrency=1, webhook_concurrency=1, worker_concurrency=1,
    )  # fmt: skip
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_app(settings)) as http:
        yield http


async def test_a_stuck_webhook_does_not_hold_up_email(
    infra: Infrastructure, pools_client: httpx.AsyncClient, receiver: Receiver, db: Any, dev_keys_dir: Path
) -> None:
    """One attempt at a time per channel: while the only webhook slot waits on a receiver
    that answers after 12 s, an e-mail planned later is sent at once."""
    stuck, mailed = new_id("col"), new_id("col")
    address = f"{mailed}@college.example.cn"
    receiver.slow_seconds = 12
    await publish(
        infra,
        partner_registered(stuck, "college", "stuck", None),
        partner_registered(mailed, "college", "mailed", contact("赵老师", address)),
    )
    contacts = db[f"notifications_{POOLS_DATABASE}"]["contacts"]

    async def known() -> bool:
        return all([await contacts.find_one({"_id": pid}) is not None for pid in (stuck, mailed)])

    await wait_for(known, what="both contacts")
    created = await register(pools_client, dev_keys_dir, stuck, receiver.url("slow", stuck))
    endpoint_id = created.json()["endpoint_id"]
    assert (await verify(pools_client, dev_keys_dir, stuck, endpoint_id)).status_code == 200
    handshakes = len(receiver.paths(f"/slow/{stuck}"))
    await publish(infra, rectification_ordered(stuck))

    async def webhook_in_hand() -> bool:
        return len(receiver.paths(f"/slow/{stuck}")) > handshakes

    await wait_for(webhook_in_hand, what="the webhook attempt started")
    started = time.monotonic()
    await publish(infra, rectification_ordered(mailed))

    async def mailed_now() -> bool:
        return bool(mails_to(infra, address))

    await wait_for(mailed_now, timeout_s=20, what="the e-mail")
    assert time.monotonic() - started < 9  # the webhook slot stays taken for 12 s
