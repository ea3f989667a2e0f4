"""Kafka authentication and ACLs on the real broker (issue 15, items 6–8): two colleges, A and
B, each with its own principal and reports topic, against the whole platform running with
one principal per service.

A college writes only its own topic and reads nothing; a report is the college's whose
topic it arrived on — one naming another college, and one that is not even JSON, are
rejected and the rejection reaches the real sender (event, signed webhook, inbox), never
the college the payload names.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError, TopicAuthorizationFailedError

from alliance_devstack.demo.access import Actor, PlatformAccess
from alliance_devstack.demo.college_system import CollegeSystem
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import Platform
from alliance_shared.contract import college
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.topics import (
    EVALUATION_EVENTS,
    EVENT_TOPICS,
    FUNDING_EVENTS,
    NOTIFICATIONS_EVENTS,
    REGISTRY_EVENTS,
    SERVICE_TOPICS,
    college_reports_topic,
    dlq_of,
)
from alliance_shared.messaging.kafka import KafkaAccess
from tests.integration.evaluation.evaluation_support import LAST_YEAR, agreement_event, raw_record
from tests.integration.notifications.notifications_support import partner_registered
from tests.support.kafka_io import Record, header, produce, read_topic

pytestmark = pytest.mark.infra

SUPERVISOR = Actor("supervisor", "supervisor-kafka-auth")
REJECTED = "org.coopalliance.evaluation.college_report.rejected.v1"
PLACED = "org.coopalliance.college.internship.placed.v1"
ON = date(LAST_YEAR, 3, 3)
WINDOW = {"window_start": f"{LAST_YEAR}-01-01", "window_end": f"{LAST_YEAR}-12-31"}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, attempts: int = 240) -> None:
    import asyncio

    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} did not happen")


@dataclass
class Alliance:
    access: PlatformAccess
    a: str
    b: str
    enterprise: str
    agreement: str
    a_kafka: KafkaAccess
    b_kafka: KafkaAccess
    a_system: CollegeSystem


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def alliance(platform: Platform, infra: Infrastructure, access: PlatformAccess) -> AsyncIterator[Alliance]:
    if infra.kafka_security is None:
        pytest.skip("this broker runs without authentication (Docker or a URL without an admin user)")
    a, b, enterprise, agreement = new_id("col-a"), new_id("col-b"), new_id("ent"), new_id("agr-auth")
    await produce(
        infra.kafka_admin,
        REGISTRY_EVENTS,
        [
            to_kafka(partner_registered(a, "college", "甲学院", None)),
            to_kafka(partner_registered(b, "college", "乙学院", None)),
            to_kafka(partner_registered(enterprise, "enterprise", "丙企业", None)),
            agreement_event(agreement, "activated", college_ids=[a, b], enterprise_ids=[enterprise]),
        ],
    )
    system = CollegeSystem()
    async with system.serving():
        actor = Actor("college", "a-staff", a)

        async def registered() -> bool:
            answer = await access.call(
                "notifications", "POST", f"/partners/{a}/webhooks", actor, json_body={"url": system.url},
                expect=(201, 404),
            )  # fmt: skip
            if answer.status_code == 201:
                system.secret = answer.json()["secret"]
                endpoint = answer.json()["endpoint_id"]
                await access.call("notifications", "POST", f"/partners/{a}/webhooks/{endpoint}/verify", actor)
            return answer.status_code == 201

        await wait_until(registered, "A's webhook registration")

        async def agreement_known() -> bool:
            answer = await access.call("evaluation", "GET", f"/agreements/{agreement}", SUPERVISOR, expect=(200, 404))
            return answer.status_code == 200 and answer.json().get("status") == "active"

        await wait_until(agreement_known, "evaluation to know the agreement")
        yield Alliance(access, a, b, enterprise, agreement, await access.college(a), await access.college(b), system)


def placed(report_id: str, agreement: str, college_id: str, enterprise: str) -> college.InternshipPlaced:
    return college.InternshipPlaced(
        report_id=report_id,
        agreement_id=agreement,
        college_id=college_id,
        occurred_on=ON,
        student_ref="S1",
        enterprise_id=enterprise,
        post="CNC machining assistant",
        start_date=ON,
        planned_months=6,
    )


async def refused_write(kafka: KafkaAccess, topic: str) -> bool:
    producer = AIOKafkaProducer(**kafka.options(), request_timeout_ms=10000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"k")
    except TopicAuthorizationFailedError:
        return True
    finally:
        await producer.stop()
    return False


async def describe_refused(kafka: KafkaAccess, topic: str) -> bool:
    """Whether the broker hides the topic from this principal: Read implies Describe in
    Kafka's ACLs, so no Describe means no Read (a consumer cannot even find the partitions)."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return bool(described["error_code"] == TopicAuthorizationFailedError.errno)


async def group_refused(kafka: KafkaAccess, topic: str, group: str) -> bool:
    consumer = AIOKafkaConsumer(topic, **kafka.options(), group_id=group, enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=2000)
    except GroupAuthorizationFailedError:
        return True
    finally:
        await consumer.stop()
    return False


async def connection_refused(kafka: KafkaAccess) -> bool:
    producer = AIOKafkaProducer(**kafka.options(), request_timeout_ms=10000)
    try:
        await producer.start()
    except KafkaConnectionError:
        return True
    finally:
        await producer.stop()
    return False


async def test_a_college_writes_only_its_own_topic_and_reads_nothing(alliance: Alliance) -> None:
    a = alliance.a_kafka
    assert not await refused_write(a, college_reports_topic(alliance.a))
    assert await refused_write(a, college_reports_topic(alliance.b))
    for topic in EVENT_TOPICS:
        assert await refused_write(a, topic), topic
    for topic in (EVALUATION_EVENTS, NOTIFICATIONS_EVENTS, FUNDING_EVENTS, REGISTRY_EVENTS):
        assert await describe_refused(a, topic), topic
    assert await describe_refused(a, college_reports_topic(alliance.b))
    assert await describe_refused(a, dlq_of(college_reports_topic(alliance.a)))  # not even its own rejections
    assert await group_refused(a, college_reports_topic(alliance.a), "alliance-evaluation")


async def test_an_unauthenticated_client_and_a_wrong_password_are_refused(alliance: Alliance) -> None:
    a = alliance.a_kafka
    assert await connection_refused(KafkaAccess(a.bootstrap_servers))
    assert await connection_refused(a.as_user(a.username or "", "not-the-password"))
    assert await connection_refused(a.as_user("college-nobody", a.password or ""))


async def test_each_service_writes_only_its_own_topic(infra: Infrastructure) -> None:
    for service, principal in infra.kafka_services.items():
        own = SERVICE_TOPICS[service].produces
        for topic in EVENT_TOPICS:
            assert await refused_write(principal, topic) is (topic not in own), (service, topic)
        if not SERVICE_TOPICS[service].consumes_college_reports:
            assert await describe_refused(principal, college_reports_topic("col-any")), service


async def rejections(infra: Infrastructure, original_ids: set[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """original event id → (the rejection's own event id, its data), once all are published."""

    def ours(records: list[Record]) -> dict[str, tuple[str, dict[str, Any]]]:
        found = {}
        for record in records:
            if header(record, "ce_type") == REJECTED:
                try:
                    data = json.loads(record.value or b"{}")
                except ValueError:
                    continue  # a hostile record another test left on the topic
                if isinstance(data, dict) and data.get("original_event_id") in original_ids:
                    found[data["original_event_id"]] = (header(record, "ce_id") or "", data)
        return found

    records = await read_topic(
        infra.kafka_admin, EVALUATION_EVENTS, until=lambda rs: len(ours(rs)) >= len(original_ids), timeout_s=90
    )
    return ours(records)


async def test_reports_are_attributed_to_the_college_whose_topic_they_arrive_on(
    alliance: Alliance, infra: Infrastructure
) -> None:
    al = alliance
    topic = college_reports_topic(al.a)
    good = to_kafka(CloudEvent.wrap(placed("PL-GOOD", al.agreement, al.a, al.enterprise), "college-sis"))
    # Sent by A, naming B (a party of the agreement too): posing as B is refused.
    posing = to_kafka(CloudEvent.wrap(placed("PL-POSE", al.agreement, al.b, al.enterprise), al.b))
    # Not JSON at all; its ce_source names B, which changes nothing: A sent it.
    garbage = raw_record(PLACED, b"\xff{not json", key=al.agreement)
    garbage = (garbage[0], garbage[1], [(k, al.b.encode() if k == "ce_source" else v) for k, v in garbage[2]])
    # An agreement event passed off through A's own topic is not an agreement event.
    forged = agreement_event(al.agreement, "terminated", college_ids=[al.a, al.b], enterprise_ids=[al.enterprise])
    await produce(al.a_kafka, topic, [good, posing, garbage, forged])
    ids = {name: header_value(record, "ce_id") for name, record in {"posing": posing, "garbage": garbage}.items()}
    forged_id = header_value(forged, "ce_id")

    told = await rejections(infra, {*ids.values(), forged_id})
    assert {told[ids["posing"]][1]["reason_code"], told[ids["garbage"]][1]["reason_code"]} == {
        "report.college_mismatch",
        "report.malformed_envelope",
    }
    assert told[ids["posing"]][1]["reason_code"] == "report.college_mismatch"
    assert told[forged_id][1]["reason_code"] == "report.unknown_type"
    assert {data["college_id"] for _, data in told.values()} == {al.a}  # the real sender, every time

    dead = await read_topic(
        infra.kafka_admin,
        dlq_of(topic),
        until=lambda rs: {header(r, "ce_id") for r in rs} >= {*ids.values(), forged_id},
        timeout_s=30,
    )
    reasons = {header(r, "ce_id"): header(r, "dlq_reason") for r in dead}
    assert reasons[ids["posing"]] == "report.college_mismatch"
    assert reasons[forged_id] == "report.unknown_type"

    async def evidence_of_a() -> bool:
        answer = await al.access.call(
            "evaluation", "GET", f"/agreements/{al.agreement}/evidence", SUPERVISOR, params=WINDOW
        )
        return bool(answer.json()["reports_received"] == 1)

    await wait_until(evidence_of_a, "A's good report to become evidence")
    agreement = await al.access.call("evaluation", "GET", f"/agreements/{al.agreement}", SUPERVISOR)
    assert agreement.json()["status"] == "active"  # the forged termination changed nothing

    # The rejections reach A by signed webhook and in its inbox; B hears nothing of them.
    rejection_ids = {event_id for event_id, _ in told.values()}

    async def webhooks_to_a() -> bool:
        bodies = [json.dumps(n.body) for n in al.a_system.notices if n.event_type == REJECTED]
        return all(any(event_id in body for body in bodies) for event_id in rejection_ids)

    await wait_until(webhooks_to_a, "A's signed webhooks about its rejected reports")
    assert all(n.signature_valid for n in al.a_system.notices)

    async def inbox(partner: str) -> set[str]:
        answer = await al.access.call("notifications", "GET", "/inbox", Actor("college", "staff", partner))
        return {item["event_id"] for item in answer.json()["items"]}

    async def in_a_inbox() -> bool:
        return rejection_ids <= await inbox(al.a)

    await wait_until(in_a_inbox, "the rejections in A's inbox")
    assert not rejection_ids & await inbox(al.b)


def header_value(record: tuple[bytes | None, bytes | None, list[tuple[str, bytes]]], name: str) -> str:
    return next(value.decode() for key, value in record[2] if key == name)
