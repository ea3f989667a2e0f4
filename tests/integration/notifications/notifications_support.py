"""Helpers of the notifications service's integration tests (not a test module)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alliance_devstack.loopback import serving
from alliance_devstack.provision import Infrastructure
from alliance_devstack.smtp_sink import ReceivedMail, read_mailbox
from alliance_notifications.domain.webhook_signing import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureVerificationError,
    verify_signature,
)
from alliance_notifications.settings import Settings
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.contract.topics import SERVICE_TOPICS
from alliance_shared.messaging.kafka import KafkaAccess, ensure_topics, settings_for
from tests.conftest import service_env
from tests.support.http import bearer
from tests.support.kafka_io import partitions_of, produce
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

CONSUMED = SERVICE_TOPICS["notifications"].consumes


def notifications_settings(infra: Infrastructure, database: str, keys_dir: Path, **extra: Any) -> Settings:
    defaults: dict[str, Any] = {
        "kafka_consumer_group": f"alliance-notifications-test-{database}",
        "smtp_host": infra.smtp.host,
        "smtp_port": infra.smtp.port,
        "retry_base_seconds": 1,
        "retry_cap_seconds": 2,
        "retry_max_attempts": 3,
        "worker_poll_seconds": 0.2,
        "reminder_scan_seconds": 0.5,
        "digest_scan_seconds": 3600,
        "inbox_stream_poll_seconds": 0.2,
        "breaker_failure_threshold": 50,
        "default_quiet_hours": "",
        # The receivers of these tests listen on loopback: allow-listed, as the local stack does.
        "webhook_allowed_hosts": "127.0.0.1",
    }
    defaults.update(extra)
    env = service_env(infra, "NOTIFICATIONS_", f"notifications_{database}", keys_dir, **defaults)
    return Settings(**{k.removeprefix("NOTIFICATIONS_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]


async def skip_history(kafka: KafkaAccess, group: str, topics: Sequence[str] = CONSUMED) -> None:
    """Commit the group's offsets at the topics' ends: the service reads only this run's events."""
    await ensure_topics(settings_for(kafka), topics)
    partitions = [TopicPartition(t, p) for t in topics for p in await partitions_of(kafka, t)]
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()


def event_of(short_name: str, payload: dict[str, Any], *, event_id: str | None = None) -> CloudEvent:
    """A validated event of ``org.coopalliance.<short_name>.v1`` in its envelope."""
    model: type[EventPayload] = PLATFORM_CATALOG.model_for(f"org.coopalliance.{short_name}.v1")
    context = short_name.split(".")[0]
    return CloudEvent.wrap(model.model_validate(payload), context, event_id=event_id)


async def publish(infra: Infrastructure, *events: CloudEvent) -> None:
    by_topic: dict[str, list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]] = {}
    for event in events:
        context = event.type.split(".")[2]
        by_topic.setdefault(f"alliance.{context}.events", []).append(to_kafka(event))
    for topic, records in by_topic.items():
        await produce(infra.kafka_admin, topic, records)


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time: {what}")
        await asyncio.sleep(0.2)


def mails_to(infra: Infrastructure, address: str) -> list[ReceivedMail]:
    assert infra.smtp.maildir is not None, "these tests read the local SMTP sink's mailbox"
    return [m for m in read_mailbox(infra.smtp.maildir) if address in m.recipients]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- a webhook receiver on 127.0.0.1 ------------------------------------------------------


@dataclass
class Received:
    path: str
    delivery_id: str | None
    signature: str | None
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """``/ok/<name>`` answers 200; ``/flaky/<name>`` 503 to the first two tries of each
    delivery, then 200; ``/down/<name>`` 503 for good. Every path echoes a verification
    challenge. Everything received is kept, with the answer given."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    _tries: dict[str, int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        kind = request.path_params["kind"]
        document = json.loads(body)
        delivery_id = request.headers.get(DELIVERY_ID_HEADER)
        if document.get("type") == "verification":
            status = 200
            response: Response = JSONResponse({"challenge": document["challenge"]})
        else:
            tries = self._tries[delivery_id or ""] = self._tries.get(delivery_id or "", 0) + 1
            status = 200 if kind == "ok" or (kind == "flaky" and tries > 2) else 503
            response = Response(status_code=status)
        self.received.append(
            Received(request.url.path, delivery_id, request.headers.get(SIGNATURE_HEADER), body, status)
        )
        return response

    def notices(self, path_part: str, *, accepted: bool | None = None) -> list[Received]:
        return [
            r for r in self.received
            if path_part in r.path and r.json.get("type") != "verification"
            and (accepted is None or (r.status == 200) == accepted)
        ]  # fmt: skip

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[WebhookReceiver]:
        async with serving(Starlette(routes=[Route("/{kind}/{name}", self._handle, methods=["POST"])])) as self.port:
            yield self


def signature_valid(received: Received, secret: str) -> bool:
    if received.signature is None:
        return False
    try:
        verify_signature(received.signature, received.body, secret, now=int(time.time()))
    except SignatureVerificationError:
        return False
    return True


async def register_verified_webhook(
    http: httpx.AsyncClient, keys: Path, partner_id: str, url: str, role: str = "college"
) -> tuple[str, str]:
    """(endpoint id, secret) of a new endpoint that passed the handshake."""
    headers = bearer(keys, role, partner_id=partner_id)
    created = await http.post(f"/partners/{partner_id}/webhooks", json={"url": url}, headers=headers)
    assert created.status_code == 201, created.text
    endpoint_id, secret = created.json()["endpoint_id"], created.json()["secret"]
    verified = await http.post(f"/partners/{partner_id}/webhooks/{endpoint_id}/verify", headers=headers)
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"
    return endpoint_id, secret


def partner_registered(partner_id: str, kind: str, name_zh: str, contact: dict[str, Any] | None) -> CloudEvent:
    profile: dict[str, Any] = {
        "partner_id": partner_id,
        "kind": kind,
        "name_zh": name_zh,
        "credit_code": "91440300MA5G4WNN43",
        "region_code": "440305",
        "sector_code": "C39",
        "address": "深圳市南山区",
        "status": "active",
        "occurred_at": "2026-03-02T08:00:00Z",
        "actor_id": "admin-chen",
    }
    if kind == "college":
        profile["college"] = {"level": "higher_vocational", "majors": []}
    if kind == "enterprise":
        profile["enterprise"] = {"size": "medium", "headcount": 100}
    profile["contacts"] = [contact] if contact else []
    return event_of("registry.partner.registered", profile)


def contact(name: str, email: str, locale: str = "zh-CN") -> dict[str, Any]:
    return {"name": name, "email": email, "phone": "+86 755 2601 8899", "position": "liaison", "locale": locale}


def rectification_ordered(party: str) -> CloudEvent:
    """A new rectification order to one party (a webhook notice to its endpoints)."""
    payload = {
        **EXAMPLE_PAYLOADS["evaluation.rectification.ordered"],
        "order_id": new_id("rect"),
        "responsible_party_id": party,
        "party_ids": [party],
        "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    return event_of("evaluation.rectification.ordered", payload)
