"""How the demo (and the system tests) reach a running platform: each service's URL, dev
tokens for any role, the Kafka broker a college system publishes to (each college as its
own principal, onboarded on first use), the SMTP sink's mail."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from alliance_devstack.errors import StackError
from alliance_devstack.kafka_security import KafkaSecurityAdmin
from alliance_devstack.smtp_sink import ReceivedMail, read_mailbox
from alliance_shared.auth.devtokens import mint
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent, EnvelopeError, from_kafka, to_kafka
from alliance_shared.contract.topics import college_reports_topic
from alliance_shared.messaging.kafka import KafkaAccess, create_producer, ensure_topics, settings_for

KafkaRecord = tuple[bytes, bytes, list[tuple[str, bytes]]]
#: How long a call waits for a service that does not answer (restarting after a crash).
UNAVAILABLE_GRACE_S = 90.0


#: How long one try to publish a college's records may take.
PUBLISH_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Actor:
    """Who makes a call: a role, a subject (the person) and, for colleges and enterprises, the partner."""

    role: str
    sub: str
    partner_id: str | None = None
    label: str = ""

    def __str__(self) -> str:
        return self.label or f"{self.sub} ({self.role})"


class UnexpectedAnswer(StackError):
    """A call answered something the scenario did not expect (the problem+json is kept)."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{method} {url} answered {status}: {json.dumps(body, ensure_ascii=False)[:800]}")


@dataclass
class PlatformAccess:
    urls: Mapping[str, str]
    keys_dir: Path
    #: An operator's view of Kafka (the admin principal): reads the platform's topics.
    kafka: KafkaAccess
    #: Onboards the colleges the demo plays; None on a broker without authentication.
    kafka_security: KafkaSecurityAdmin | None = None
    maildir: Path | None = None
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict, repr=False)
    _colleges: dict[str, KafkaAccess] = field(default_factory=dict, repr=False)
    #: A college is onboarded once even when two of its systems publish at the same moment.
    _onboarding: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def headers(self, actor: Actor) -> dict[str, str]:
        token = mint(self.keys_dir, actor.sub, [actor.role], partner_id=actor.partner_id, ttl_s=3600)
        # The story is told in English: the services' refusals too (they default to zh-CN).
        return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

    def client(self, service: str) -> httpx.AsyncClient:
        if service not in self._clients:
            self._clients[service] = httpx.AsyncClient(base_url=self.urls[service], timeout=30.0)
        return self._clients[service]

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        actor: Actor,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Sequence[int] = (200, 201),
    ) -> httpx.Response:
        """One call; a service that is restarting (connection refused, 503) is waited for.
        A POST carries an Idempotency-Key, so a retried POST is applied once."""
        sent = {**self.headers(actor), **(headers or {})}
        if method == "POST":
            sent.setdefault("Idempotency-Key", str(uuid.uuid4()))
        deadline = time.monotonic() + UNAVAILABLE_GRACE_S
        while True:
            try:
                response = await self.client(service).request(method, path, json=json_body, params=params, headers=sent)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 503 and 503 not in expect and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                continue
            break
        if response.status_code not in expect:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise UnexpectedAnswer(method, f"{self.urls[service]}{path}", response.status_code, body)
        return response

    async def college(self, college_id: str) -> KafkaAccess:
        """The college's own Kafka principal, onboarded on first use (`alliance dev college`)."""
        async with self._onboarding:
            if college_id not in self._colleges:
                if self.kafka_security is not None:
                    access = await asyncio.to_thread(self.kafka_security.onboard_college, college_id)
                else:
                    await ensure_topics(settings_for(self.kafka), [college_reports_topic(college_id)])
                    access = self.kafka
                self._colleges[college_id] = access
            return self._colleges[college_id]

    async def publish(self, college_id: str, payloads: Sequence[EventPayload], source: str) -> list[str]:
        """Publish reports as a college's system does (CloudEvents binary mode, its own topic
        and principal); their ids."""
        records = [to_kafka(CloudEvent.wrap(payload, source)) for payload in payloads]
        await self.publish_raw(college_id, records)
        return [dict(headers)["ce_id"].decode() for _, _, headers in records]

    async def publish_raw(self, college_id: str, records: Sequence[KafkaRecord], *, attempts: int = 5) -> None:
        """Publish to the college's topic with a fresh producer per try, each try bounded: a
        client that met a broker restart can keep waiting for metadata forever. A repeat is
        harmless (same ce_id)."""
        access = await self.college(college_id)
        topic = college_reports_topic(college_id)
        for attempt in range(attempts):
            try:
                await asyncio.wait_for(self._publish_once(access, topic, records), PUBLISH_TIMEOUT_S)
                return
            except (KafkaError, OSError, TimeoutError):
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(1.0 + attempt)

    async def _publish_once(self, access: KafkaAccess, topic: str, records: Sequence[KafkaRecord]) -> None:
        producer = create_producer(settings_for(access, service_name="college-system"))
        await producer.start()
        try:
            for key, value, headers in records:
                await producer.send_and_wait(topic, key=key, value=value, headers=headers)
        finally:
            await producer.stop()

    async def find_event(
        self, topic: str, event_type: str, match: Callable[[dict[str, Any]], bool], timeout_s: float = 90.0
    ) -> dict[str, Any]:
        """The data of the first ``event_type`` event on ``topic`` that ``match`` accepts, read
        from the topic's start by an operator (colleges read no platform topic)."""
        # No group: every partition, from the start, nothing committed.
        consumer = AIOKafkaConsumer(
            topic, **self.kafka.options(), enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await asyncio.wait_for(consumer.start(), timeout_s)
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        try:
                            event = from_kafka(record.key, record.value, record.headers)
                        except EnvelopeError:
                            continue  # not an event at all (the services dead-letter such records)
                        if event.type == event_type and match(event.data):
                            return dict(event.data)
        finally:
            await consumer.stop()
        raise StackError(f"no {event_type} on {topic} within {timeout_s:.0f}s")

    def mail(self) -> list[ReceivedMail]:
        """What the SMTP sink received so far, oldest first."""
        return [] if self.maildir is None else read_mailbox(self.maildir)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
