"""College reports applied a poll's run at a time survive a SIGKILL mid-batch: the evaluation
service is killed while it stores a backlog (redeliveries, a report resent under a new event
id and a report the agreement refuses among them) and started again. Every report is stored
once, its audit entry is in the chain once, the refused report reaches the dead-letter topic
and the good ones around it are applied."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import start_at_topic_ends
from alliance_shared.audit import AUDIT_COLLECTION, AuditTrail
from alliance_shared.contract import college
from alliance_shared.contract.topics import REGISTRY_EVENTS, college_reports_topic
from alliance_shared.messaging.kafka import KafkaAccess
from tests.conftest import service_env
from tests.integration.evaluation.evaluation_support import (
    LAST_YEAR,
    KafkaRecord,
    agreement_event,
    dlq_records,
    report_record,
    wait_for,
)
from tests.support.kafka_io import header

pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]

AGREEMENTS = 4
REPORTS_PER_AGREEMENT = 300
REDELIVERED = 150


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def placed(agreement_id: str, college_id: str, enterprise_id: str, n: int) -> college.InternshipPlaced:
    return college.InternshipPlaced(
        report_id=f"{agreement_id}-r{n}",
        agreement_id=agreement_id,
        college_id=college_id,
        occurred_on=date(LAST_YEAR, 3, 3),
        student_ref=f"stu-{n}",
        enterprise_id=enterprise_id,
        post="CNC assistant",
        start_date=date(LAST_YEAR, 3, 3),
        planned_months=6,
    )


async def send_all(kafka: KafkaAccess, topic: str, records: list[KafkaRecord]) -> None:
    producer = AIOKafkaProducer(**kafka.options(), acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(topic, key=key, value=value, headers=headers) for key, value, headers in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def test_a_service_killed_mid_batch_stores_every_report_once(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    subprocess_env: dict[str, str],
    mongo_client: AsyncMongoClient[dict[str, Any]],
    tmp_path: Path,
) -> None:
    database, group = f"evaluation_crash_{unique}", f"alliance-evaluation-crash-{unique}"
    await start_at_topic_ends(infra.kafka_admin, group, [REGISTRY_EVENTS])
    parties = [(f"agr-{unique}-{i}", f"col-{unique}-{i}", f"ent-{unique}-{i}") for i in range(AGREEMENTS)]
    backlog = [report_record(placed(*party, n)) for n in range(REPORTS_PER_AGREEMENT) for party in parties]
    event_ids = [header_value(record, "ce_id") for record in backlog]
    redelivered = backlog[:REDELIVERED]  # the same events again, as after a producer retry
    resent = report_record(placed(*parties[0], 0))  # the same report under a new event id
    agreement, college_id, _ = parties[1]
    refused = report_record(placed(agreement, college_id, "ent-not-a-party", REPORTS_PER_AGREEMENT))
    refused_id = header_value(refused, "ce_id")
    middle = len(backlog) // 2
    records = [*backlog[:middle], refused, resent, *backlog[middle:], *redelivered]

    env = {
        **subprocess_env,
        **service_env(
            infra, "EVALUATION_", database, dev_keys_dir,
            kafka_consumer_group=group, http_port=free_port(), ops_port=free_port(),
            seed_default_framework="false", log_level="WARNING",
        ),
    }  # fmt: skip
    evidence = mongo_client[database]["evidence"]

    log = tmp_path / "evaluation.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as output:
            return subprocess.Popen(
                [sys.executable, "-m", "alliance_evaluation"], env=env, stdout=output, stderr=subprocess.STDOUT
            )

    first = start()
    try:
        # The agreements first, so that the reports are applied, not parked while they are on their way.
        await send_all(
            infra.kafka_admin,
            REGISTRY_EVENTS,
            [agreement_event(a, "activated", college_ids=[c], enterprise_ids=[e]) for a, c, e in parties],
        )

        async def agreements_known() -> bool:
            return await mongo_client[database]["agreements"].estimated_document_count() == AGREEMENTS

        await wait_for(agreements_known, timeout_s=120)
        for college in sorted({c for _, c, _ in parties}):  # each college on its own topic, as itself
            theirs = [r for r in records if json.loads(r[1] or b"{}").get("college_id") == college]
            await send_all(await infra.onboard_college(college), college_reports_topic(college), theirs)

        async def some_stored() -> bool:
            return await evidence.estimated_document_count() >= 100

        await wait_for(some_stored, timeout_s=180)
        first.send_signal(signal.SIGKILL)  # mid-batch: runs stored in part, offsets not committed
        first.wait(timeout=10)
        assert await evidence.estimated_document_count() < len(backlog)
    finally:
        if first.poll() is None:
            first.kill()
    second = start()
    try:
        journal = mongo_client[database]["evidence_journal"]
        settled = mongo_client[database]["evidence_settled"]  # one record per version the relay published

        async def all_stored_and_settled() -> bool:
            counts = [await evidence.estimated_document_count(), await settled.estimated_document_count()]
            return counts == [len(backlog), len(backlog)]

        await wait_for(all_stored_and_settled, timeout_s=300)
        await asyncio.sleep(2.0)  # give any wrongful second application the chance to show
        assert await journal.estimated_document_count() == len(backlog)
        stored = await evidence.find({}, {"event_id": 1}).to_list()
        assert sorted(doc["event_id"] for doc in stored) == sorted(event_ids)
        audit = mongo_client[database][AUDIT_COLLECTION]
        received = await audit.find({"action": "evidence.received"}, {"entity_id": 1}).to_list()
        assert len(received) == len(backlog)
        assert len({doc["entity_id"] for doc in received}) == len(backlog)
        assert await AuditTrail(audit, "evaluation").verify() == []
        dead = await dlq_records(infra, {refused_id}, colleges=[college_id], expect=1)
        assert {header(record, "dlq_reason") for record in dead} == {"report.enterprise_not_party"}
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()


def header_value(record: KafkaRecord, name: str) -> str:
    return next(value.decode() for key, value in record[2] if key == name)
