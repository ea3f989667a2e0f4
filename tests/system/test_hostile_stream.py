"""A mixed hostile stream into every consumer of the running platform (issue #15, "Done
means"), and hostile text in a rejected report shown as data everywhere (item 9).

The four services run as separate processes. Each topic a service consumes gets good
records interleaved with hostile ones — invalid UTF-8, a JSON value that is not an object,
nesting 100,000 deep, a 5,000-digit number, an unknown type, a missing, a duplicated, a
non-UTF-8 and an oversized ``ce_`` header, a payload its model refuses and a record one
byte over the topic's limit — and with redeliveries of the good ones. Afterwards every
good record is applied exactly once (read back through the services' APIs and stores),
every hostile one lies in the topic's ``.dlq`` once per consumer with its reason, every
rejected college report was told back to the college once, and every service is still
ready without a consumer restart.

Then a college system puts markup, template syntax, control and invisible format
characters and very long strings into the headers and payloads of reports the platform
refuses: the rejection event, the e-mail, the webhook, the inbox and the console's inbox
page each show that text literally, without control or format characters and cut to
its documented length.
"""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from alliance_devstack.components import free_port
from alliance_devstack.demo.access import Actor, PlatformAccess
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import Platform, console_process, prefix_of
from alliance_shared.contract import college
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.evaluation import CollegeReportRejected
from alliance_shared.contract.registry import AgreementActivated
from alliance_shared.contract.topics import (
    EVALUATION_EVENTS,
    FUNDING_EVENTS,
    REGISTRY_EVENTS,
    college_of_topic,
    college_reports_topic,
    dlq_of,
    max_value_bytes,
)
from alliance_shared.outside_text import ELLIPSIS
from tests.integration.funding.funding_support import agreement_payload
from tests.integration.notifications.notifications_support import (
    WebhookReceiver,
    contact,
    event_of,
    partner_registered,
)
from tests.support.kafka_io import Record, header, produce, read_topic
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

pytestmark = pytest.mark.infra

KafkaRecord = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]

SUPERVISOR = Actor("supervisor", "supervisor-hostile")
OPS = Actor("ops", "ops-hostile")

#: Who consumes each of the services' topics (their subscriptions): a hostile record is dead-lettered
#: once by each. (``SERVICE_TOPICS`` also lets evaluation read funding events, but it subscribes to none.)
#: A college's reports are read by evaluation alone.
CONSUMERS: dict[str, tuple[str, ...]] = {
    REGISTRY_EVENTS: ("funding", "evaluation", "notifications"),
    FUNDING_EVENTS: ("notifications",),
    EVALUATION_EVENTS: ("funding", "notifications"),
}


# --- the touch points of the Kafka set-up (the topic a college writes to, how records are produced) ---


async def feed(infra: Infrastructure, topic: str, records: Sequence[KafkaRecord]) -> None:
    """Produce raw records as a peer of the platform would, or on a college's own topic as
    that college's system does: signed in as its own principal (onboarded first)."""
    college_id = college_of_topic(topic)
    kafka = infra.kafka_admin if college_id is None else await infra.onboard_college(college_id)
    await produce(kafka, topic, records)


# --- the records ---------------------------------------------------------------------


def record(payload: EventPayload, source: str) -> KafkaRecord:
    return to_kafka(CloudEvent.wrap(payload, source, event_id=f"good-{uuid.uuid4()}"))


def ce_id(headers: Sequence[tuple[str, bytes]]) -> str:
    return next(v for k, v in headers if k == "ce_id").decode()


@dataclass(frozen=True)
class Hostile:
    name: str
    reason: str
    record: KafkaRecord

    @property
    def ce_id(self) -> str:
        return ce_id(self.record[2])


def hostile_records(topic: str, template: KafkaRecord, run: str) -> list[Hostile]:
    """Every kind of bad record, shaped like ``template`` (a good record of a type every
    consumer of ``topic`` handles), each with its own ``ce_id``."""
    key, value, headers = template
    data: dict[str, Any] = json.loads(value or b"{}")
    first_field = next(iter(data))
    made: list[Hostile] = []

    def bad(name: str, reason: str, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        own_id = f"hostile-{run}-{topic.split('.')[1]}-{name}".encode()
        made.append(Hostile(name, reason, (key, value, [(k, own_id if k == "ce_id" else v) for k, v in headers])))

    def replaced(name: str, raw: bytes) -> list[tuple[str, bytes]]:
        return [(k, raw if k == name else v) for k, v in headers]

    limit = max_value_bytes(topic)
    padding = b'{"pad": ""}'
    bad("invalid_utf8", "envelope.malformed_json", b'{"' + first_field.encode() + b'": "\xff\xfe"}', headers)
    bad("not_an_object", "envelope.malformed_json", b'["a", 1]', headers)
    bad("deeply_nested", "envelope.unreadable_json", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", headers)
    bad("huge_number", "envelope.unreadable_json", b'{"a": 1' + b"0" * 5000 + b"}", headers)
    bad("unknown_type", "event.unknown_type", value, replaced("ce_type", b"org.example.unknown.v1"))
    bad("missing_header", "envelope.missing_attributes", value, [(k, v) for k, v in headers if k != "ce_type"])
    bad("duplicate_header", "envelope.duplicate_header", value, [*headers, ("ce_type", b"org.example.other.v1")])
    bad("non_utf8_header", "envelope.bad_header", value, replaced("ce_subject", b"\xff\xfe"))
    bad("oversized_header", "envelope.invalid_attributes", value, replaced("ce_subject", b"s" * 10_000))
    bad("invalid_payload", "event.invalid_payload", json.dumps({**data, first_field: 12345}).encode(), headers)
    over = padding[:-2] + b"x" * (limit + 1 - len(padding)) + padding[-2:]
    assert len(over) == limit + 1
    bad("over_size_limit", "record.oversized", over, headers)
    return made


def interleaved(good: Sequence[KafkaRecord], hostile: Sequence[Hostile]) -> list[KafkaRecord]:
    """Good and bad records taking turns; every good record comes again at the end (a redelivery)."""
    mixed: list[KafkaRecord] = []
    bad = [h.record for h in hostile]
    for i in range(max(len(good), len(bad))):
        mixed += [*good[i : i + 1], *bad[i : i + 1]]
    return [*mixed, *good]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout_s:g} s: {what}")
        await asyncio.sleep(0.5)


# --- the test --------------------------------------------------------------------------


async def test_a_hostile_stream_into_every_consumer_applies_the_good_once_and_dead_letters_the_bad(
    platform: Platform, infra: Infrastructure, access: PlatformAccess
) -> None:
    run = uuid.uuid4().hex[:8]
    college_id, enterprise_id, agreement_id = f"col-{run}", f"ent-{run}", f"agr-{run}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)

    def database(service: str) -> Any:
        return mongo[platform.services[service].env[prefix_of(service) + "MONGO_DATABASE"]]

    def group(service: str) -> str:
        return platform.services[service].env[prefix_of(service) + "KAFKA_CONSUMER_GROUP"]

    try:
        # Registry events, first the partners (the other events name them).
        partners = [
            to_kafka(partner_registered(college_id, "college", "深圳职业技术大学", contact("王老师", f"c-{run}@x.cn"))),
            to_kafka(partner_registered(enterprise_id, "enterprise", "鹏城精密", contact("Anna", f"e-{run}@x.de"))),
        ]  # fmt: skip
        activated = record(agreement_payload(AgreementActivated, agreement_id, college_id, enterprise_id), "registry")
        college_topic = college_reports_topic(college_id)
        consumers = {**CONSUMERS, college_topic: ("evaluation",)}
        hostile = {
            REGISTRY_EVENTS: hostile_records(REGISTRY_EVENTS, activated, run),
            FUNDING_EVENTS: [],
            EVALUATION_EVENTS: [],
            college_topic: [],
        }
        await feed(infra, REGISTRY_EVENTS, interleaved(partners, hostile[REGISTRY_EVENTS][:5]))

        async def partners_known() -> bool:
            contacts = database("notifications")["contacts"]
            return all([await contacts.find_one({"_id": p}) is not None for p in (college_id, enterprise_id)])

        await eventually(partners_known, "the partners in the notifications' recipient directory")

        # Then everything else, each topic's good records among its hostile ones.
        parties = {"agreement_id": agreement_id, "party_ids": [college_id, enterprise_id]}
        result = to_kafka(
            event_of(
                "evaluation.result.completed",
                {
                    **EXAMPLE_PAYLOADS["evaluation.result.completed"], **parties,
                    "result_id": f"res-{run}", "college_ids": [college_id], "enterprise_ids": [enterprise_id],
                },
                event_id=f"good-{uuid.uuid4()}",
            )
        )  # fmt: skip
        submitted = to_kafka(
            event_of(
                "funding.application.submitted",
                {
                    **EXAMPLE_PAYLOADS["funding.application.submitted"], **parties,
                    "application_id": f"app-{run}", "applicant_partner_id": college_id,
                },
                event_id=f"good-{uuid.uuid4()}",
            )
        )  # fmt: skip
        today = datetime.now(UTC).date()
        reports = [record(placed(f"PL-{run}-{i}", agreement_id, college_id, enterprise_id, today), college_id)
                   for i in range(3)]  # fmt: skip
        resent_under_new_id = record(placed(f"PL-{run}-1", agreement_id, college_id, enterprise_id, today), college_id)
        hostile[FUNDING_EVENTS] = hostile_records(FUNDING_EVENTS, submitted, run)
        hostile[EVALUATION_EVENTS] = hostile_records(EVALUATION_EVENTS, result, run)
        hostile[college_topic] = hostile_records(college_topic, with_source(reports[0], college_id), run)
        await asyncio.gather(
            feed(infra, REGISTRY_EVENTS, interleaved([activated], hostile[REGISTRY_EVENTS][5:])),
            feed(infra, FUNDING_EVENTS, interleaved([submitted], hostile[FUNDING_EVENTS])),
            feed(infra, EVALUATION_EVENTS, interleaved([result], hostile[EVALUATION_EVENTS])),
            feed(infra, college_topic, interleaved([*reports, resent_under_new_id], hostile[college_topic])),
        )

        # Every bad record lies in its topic's dead-letter twin once per consumer, with its reason.
        for topic, bad in hostile.items():
            wanted = {(h.ce_id, group(service)) for h in bad for service in consumers[topic]}
            dead = await dead_letters(infra, topic, wanted)
            seen = {copy_of(r) for r in dead}
            assert seen == wanted, f"{topic}: missing dead letters {sorted(wanted - seen)}"
            reasons = {h.ce_id: h.reason for h in bad}
            wrong = {(first_ce_id(r), header(r, "dlq_reason")) for r in dead} - set(reasons.items())
            assert not wrong, f"{topic}: dead-lettered for the wrong reason {sorted(wrong)}"
            assert all(header(r, "dlq_source_topic") == topic for r in dead)

        # Good records applied exactly once — evaluation: the three reports count once each
        # (redelivered, and one sent again under a new event id); the agreement is known.
        async def evidence() -> int:
            answer = await access.call(
                "evaluation", "GET", f"/agreements/{agreement_id}/evidence", SUPERVISOR,
                params={"window_start": date(today.year, 1, 1).isoformat(), "window_end": today.isoformat()},
                expect=(200, 404),
            )  # fmt: skip
            return int(answer.json()["reports_in_window"]) if answer.status_code == 200 else 0

        await eventually(lambda: _at_least(evidence, 3), "the college's three reports as evidence")
        known = await access.call("evaluation", "GET", f"/agreements/{agreement_id}", SUPERVISOR)
        assert known.json()["status"] == "active"

        # funding: each read model written once per event (a second application would be a second version).
        async def versions(service: str, store: str, aggregate_id: str) -> int:
            return int(await database(service)[f"{store}_journal"].count_documents({"_aggregate_id": aggregate_id}))

        await eventually(
            lambda: _at_least(lambda: versions("funding", "agreement_evaluations", agreement_id), 1),
            "funding's read model of the result",
        )
        assert await versions("funding", "partners", college_id) == 1
        assert await versions("funding", "partners", enterprise_id) == 1
        assert await versions("funding", "agreements", agreement_id) == 1
        assert await versions("funding", "agreement_evaluations", agreement_id) == 1

        # notifications: each good event planned once per (recipient, channel).
        expected = {
            ce_id(activated[2]): {college_id, enterprise_id},
            ce_id(result[2]): {college_id, enterprise_id},
            ce_id(submitted[2]): {college_id},
        }
        for event_id, recipients in expected.items():
            wanted_plan = {(f"partner:{p}", channel) for p in recipients for channel in ("email", "inbox")}

            async def planned(event_id: str = event_id, wanted_plan: set[tuple[str, str]] = wanted_plan) -> bool:
                return wanted_plan <= set(await plan_of(access, event_id))

            await eventually(planned, f"the deliveries of {event_id}")
            plan = await plan_of(access, event_id)
            assert max(plan.values()) == 1, plan
        # ... and nothing planned for a bad record, though most carry a good record's payload.
        for topic in (REGISTRY_EVENTS, FUNDING_EVENTS, EVALUATION_EVENTS):
            for bad_record in hostile[topic]:
                assert not await plan_of(access, bad_record.ce_id), bad_record.name

        # Every rejected college report was told back to the college by one event (the relay
        # may publish an event twice — consumers dedupe by its id — but never two events).
        rejected_ids = {h.ce_id for h in hostile[college_topic]}
        rejections = await read_topic(
            infra.kafka_admin, EVALUATION_EVENTS,
            until=lambda rs: rejected_ids <= {rejected_original(r) for r in rs}, timeout_s=60,
        )  # fmt: skip
        told: dict[str | None, set[str | None]] = {}
        for r in rejections:
            if rejected_original(r) in rejected_ids:
                told.setdefault(rejected_original(r), set()).add(header(r, "ce_id"))
        assert set(told) == rejected_ids, told
        assert all(len(event_ids) == 1 for event_ids in told.values()), told

        # Nothing applied twice by the end of it all, nothing restarted, everyone ready.
        assert await evidence() == 3
        for service in ("funding", "evaluation", "notifications"):
            ready = await access.client(service).get("/readyz")
            assert ready.status_code == 200, ready.text
            async with httpx.AsyncClient(base_url=platform[service].ops_url, timeout=30.0) as ops:
                metrics = await ops.get("/metrics")  # the ops port's: the public port answers it 404
            assert metrics.status_code == 200, metrics.text
            assert "alliance_dlq_records_total{" in metrics.text  # the page of a consumer that dead-lettered
            restarts = [
                line for line in metrics.text.splitlines() if line.startswith("alliance_consumer_restarts_total")
            ]
            assert all(float(line.rsplit(" ", 1)[1]) == 0 for line in restarts), restarts
        assert not platform.exited()
    finally:
        await mongo.close()


def placed(report_id: str, agreement_id: str, college_id: str, enterprise_id: str, day: date) -> EventPayload:
    return college.InternshipPlaced(
        report_id=report_id,
        agreement_id=agreement_id,
        college_id=college_id,
        occurred_on=day,
        student_ref=report_id.replace("-", "")[-12:],
        enterprise_id=enterprise_id,
        post="装配钳工",
        start_date=day,
        planned_months=3,
    )


def with_source(template: KafkaRecord, source: str) -> KafkaRecord:
    key, value, headers = template
    return key, value, [(k, source.encode() if k == "ce_source" else v) for k, v in headers]


def copy_of(record: Record) -> tuple[str | None, str | None]:
    """A dead-letter copy as (the original's ce_id, the consumer group that refused it)."""
    return first_ce_id(record), header(record, "dlq_consumer_group")


async def dead_letters(infra: Infrastructure, topic: str, wanted: set[tuple[str, str]]) -> list[Record]:
    """The copies in ``topic``'s dead-letter twin of the records ``wanted`` names."""

    def ours(records: list[Record]) -> list[Record]:
        return [r for r in records if copy_of(r) in wanted]

    found = await read_topic(
        infra.kafka_admin, dlq_of(topic), until=lambda rs: {copy_of(r) for r in ours(rs)} >= wanted, timeout_s=60
    )
    return ours(found)


def first_ce_id(record: Record) -> str | None:
    return next((v.decode(errors="replace") for k, v in record.headers if k == "ce_id"), None)


def rejected_original(record: Record) -> str | None:
    if header(record, "ce_type") != CollegeReportRejected.event_type:
        return None
    return str(json.loads(record.value or b"{}").get("original_event_id"))


async def plan_of(access: PlatformAccess, event_id: str) -> Counter[tuple[str, str]]:
    answer = await access.call(
        "notifications", "GET", "/deliveries", OPS, params={"event_id": event_id, "limit": "200"}
    )
    return Counter((d["recipient_id"], d["channel"]) for d in answer.json()["items"])


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted


# --- item 9: text from outside is data, never markup -----------------------------------

#: What a hostile college system writes into a header or a payload field.
MARKUP = (
    "<script>alert(1)</script><img src=x onerror=alert(2)>{{ 7*7 }}{% if 1 %}jinja{% endif %}"
    "\u202egnp.exe\u200b\x07\x1b[31m\r\nForged: line"
)
LITERAL = "<script>alert(1)</script><img src=x onerror=alert(2)>{{ 7*7 }}{% if 1 %}jinja{% endif %}"
#: evaluation's REJECTION_DETAIL_LIMIT (documented in docs/security.md).
DETAIL_LIMIT = 1000


def hidden_characters(text: str) -> list[str]:
    """Control and format characters other than the line breaks of a notice's own layout."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


@pytest.fixture(scope="module")
def console(platform: Platform, dev_keys_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    urls = {name: service.url for name, service in platform.services.items()}
    process = console_process(urls, tmp_path_factory.mktemp("console"), dev_keys_dir, free_port())
    if process is None:
        pytest.skip("this checkout has no console")
    process.start()
    try:
        process.wait_ready(60)
        yield process.url
    finally:
        process.stop()


async def test_hostile_text_in_a_rejected_report_is_shown_as_plain_data_everywhere(
    platform: Platform, infra: Infrastructure, access: PlatformAccess, console: str
) -> None:
    run = uuid.uuid4().hex[:8]
    college_id, mailbox = f"col-x{run}", f"x-{run}@c.example.cn"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    contacts = mongo[platform.services["notifications"].env["NOTIFICATIONS_MONGO_DATABASE"]]["contacts"]
    college_system = Actor("college", f"sis-{run}", college_id)
    try:
        await feed(
            infra,
            REGISTRY_EVENTS,
            [to_kafka(partner_registered(college_id, "college", "学院", contact("王老师", mailbox)))],
        )
        await eventually(lambda: _found(contacts, college_id), "the college in the recipient directory")
        # E-mail now, whatever the hour: the college switches its quiet hours off.
        preferences = f"/recipients/partner:{college_id}/preferences"
        current = await access.call("notifications", "GET", preferences, college_system)
        await access.call(
            "notifications", "PUT", preferences, college_system,
            json_body={"muted": current.json()["muted"], "quiet_hours": None},
            headers={"If-Match": current.headers["ETag"]},
        )  # fmt: skip
        async with WebhookReceiver().serving() as receiver:
            created = await access.call(
                "notifications", "POST", f"/partners/{college_id}/webhooks", college_system,
                json_body={"url": f"{receiver.base_url}/ok/{college_id}"},
            )  # fmt: skip
            endpoint = created.json()["endpoint_id"]
            await access.call(
                "notifications", "POST", f"/partners/{college_id}/webhooks/{endpoint}/verify", college_system
            )

            # Three reports refused for three reasons, each carrying the hostile text somewhere.
            good = record(placed(f"PL-{run}", "agr-none", college_id, "ent-none", datetime.now(UTC).date()), college_id)
            key, value, headers = good
            ids = {name: f"xss-{run}-{name}" for name in ("type", "payload", "header")}

            def own(name: str, changed: dict[str, bytes]) -> list[tuple[str, bytes]]:
                return [(k, ids[name].encode() if k == "ce_id" else changed.get(k, v)) for k, v in headers]

            data = json.loads(value or b"{}")
            await feed(infra, college_reports_topic(college_id), [
                (key, value, own("type", {"ce_type": MARKUP.encode()})),
                (key, json.dumps({**data, "report_id": MARKUP, "agreement_id": "A" * 5000}).encode(),
                 own("payload", {})),
                (key, value, own("header", {"ce_subject": (MARKUP * 40).encode()})),
            ])  # fmt: skip

            # The rejection events: plain data, length-limited.
            wanted = set(ids.values())
            found = await read_topic(
                infra.kafka_admin, EVALUATION_EVENTS,
                until=lambda rs: wanted <= {rejected_original(r) for r in rs}, timeout_s=60,
            )  # fmt: skip
            events = {
                rejected_original(r): json.loads(r.value or b"{}") for r in found if rejected_original(r) in wanted
            }
            for event in events.values():
                for field_name, shown in event.items():
                    assert not hidden_characters(str(shown)), (field_name, shown)
                assert len(event["detail"]) <= DETAIL_LIMIT
            by_type, by_payload, by_header = (events[ids[n]] for n in ("type", "payload", "header"))
            assert by_type["reason_code"] == "report.unknown_type"
            assert LITERAL in by_type["original_event_type"]
            assert LITERAL in by_type["detail"]
            assert by_payload["reason_code"] == "report.invalid"
            assert by_payload["report_id"].startswith(LITERAL[:99])
            assert len(by_payload["report_id"]) == 100
            assert len(by_payload["agreement_id"]) == 100
            assert by_payload["agreement_id"].endswith(ELLIPSIS)
            assert by_header["reason_code"] == "report.malformed_envelope"
            assert len(by_header["detail"]) == DETAIL_LIMIT
            assert by_header["detail"].endswith(ELLIPSIS)

            # The webhook: the same data, as JSON.
            async def three_webhooks() -> bool:
                return len(receiver.notices(college_id)) >= 3

            await eventually(three_webhooks, "three webhook notices")
            for notice in receiver.notices(college_id):
                assert b"\x07" not in notice.body
                assert "\u202e".encode() not in notice.body
                posted = notice.json["data"]
                assert posted == events[posted["original_event_id"]]

        # The e-mails: plain text, the hostile text literal (no template ran it), no forged line.
        async def three_mails() -> bool:
            return len([m for m in access.mail() if mailbox in m.recipients]) >= 3

        await eventually(three_mails, "three e-mails to the college")
        for mail in [m for m in access.mail() if mailbox in m.recipients]:
            assert mail.headers.get("Content-Type", "").startswith("text/plain")
            assert not hidden_characters(mail.subject + mail.body.replace("\r\n", "\n"))
            assert "\nForged: line" not in mail.body
            assert "49jinja" not in mail.body  # what the text would become if a template ran it
        bodies = "\n".join(m.body for m in access.mail() if mailbox in m.recipients)
        assert LITERAL in bodies

        # The inbox, through the notifications API.
        inbox = (await access.call("notifications", "GET", "/inbox", college_system)).json()["items"]
        assert len(inbox) == 3
        for entry in inbox:
            assert not hidden_characters(entry["subject"] + entry.get("body", ""))
        assert any(LITERAL in entry.get("body", "") for entry in inbox)

        # The console's inbox page: the text escaped as HTML, never markup.
        async with httpx.AsyncClient(base_url=console, timeout=30.0) as browser:
            form = await browser.get("/auth/dev")
            csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
            signed_in = await browser.post(
                "/auth/dev", data={"role": "college", "partner_id": college_id, "csrf_token": csrf}
            )
            assert signed_in.status_code in (200, 303), signed_in.text[:500]
            page = await browser.get("/partner/inbox")
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;{{ 7*7 }}" in page.text
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert not hidden_characters(page.text.replace("\r", "").replace("\t", ""))
    finally:
        await mongo.close()


async def _found(collection: Any, document_id: str) -> bool:
    return await collection.find_one({"_id": document_id}) is not None
