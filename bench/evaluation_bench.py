"""College-report ingestion: reports per second from Kafka into evidence, vs a raw consume loop.

Service path: the evaluation service's runtime as deployed (ConsumerRunner: envelope
decode, catalog validation, per-agreement ordering) → ``ingest_report`` (agreement check,
party check, one evidence insert per report, once per event id). The clock runs from the
moment the reports are on the broker until the last one is stored as evidence. Raw path:
an AIOKafkaConsumer reading the very same records from the same broker, decoding each
value as JSON. Reports are spread over several agreements, as many colleges would
publish them, so per-agreement ordering still leaves room for concurrency.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_runtime
from alliance_evaluation.settings import Settings
from alliance_shared.auth.devtokens import ensure_keys
from alliance_shared.contract import college
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.registry import AgreementActivated
from alliance_shared.contract.topics import COLLEGE_REPORTS, REGISTRY_EVENTS
from alliance_shared.messaging.kafka import create_producer, ensure_topics
from alliance_shared.persistence.mongo import create_client
from alliance_shared.settings import ServiceSettings
from bench.stats import Table

TITLE = "college-report ingestion: Kafka → validated evidence in MongoDB, vs a raw consume loop"
AGREEMENTS = 20
REPORTS_PER_AGREEMENT = 50
TIMEOUT_S = 600.0

Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def agreement_record(agreement_id: str, college_id: str, enterprise_id: str) -> Record:
    today = date.today()
    payload = AgreementActivated(
        agreement_id=agreement_id,
        version=1,
        status="active",
        title=f"benchmark agreement {agreement_id}",
        party_ids=(college_id, enterprise_id),
        college_ids=(college_id,),
        enterprise_ids=(enterprise_id,),
        parties=(
            {"partner_id": college_id, "kind": "college", "role": "lead", "region_code": "440305", "name": "学院"},
            {
                "partner_id": enterprise_id,
                "kind": "enterprise",
                "role": "participant",
                "region_code": "440305",
                "name": "企业",
            },
        ),
        modes=("internship_base",),
        majors=("460103",),
        start_date=date(today.year - 1, 1, 1),
        end_date=date(today.year + 2, 12, 31),
        declared_depth="middle",
        obligations=(),
        occurred_at=datetime.now(UTC),
        actor_id="system",
    )
    return to_kafka(CloudEvent.wrap(payload, "registry"))


def report_record(agreement_id: str, college_id: str, enterprise_id: str, n: int) -> Record:
    report = college.InternshipPlaced(
        report_id=f"{agreement_id}-r{n}",
        agreement_id=agreement_id,
        college_id=college_id,
        occurred_on=date(date.today().year - 1, 3, 3),
        student_ref=f"stu-{n}",
        enterprise_id=enterprise_id,
        post="CNC assistant",
        start_date=date(date.today().year - 1, 3, 3),
        planned_months=6,
    )
    return to_kafka(CloudEvent.wrap(report, "college-sis"))


async def publish(settings: ServiceSettings, topic: str, records: list[Record]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        sends = [await producer.send(topic, key=key, value=value, headers=headers) for key, value, headers in records]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def wait_for_count(client: AsyncMongoClient[dict[str, Any]], database: str, collection: str, count: int) -> None:
    deadline = time.perf_counter() + TIMEOUT_S
    while await client[database][collection].count_documents({}) < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{collection} did not reach {count} documents in {TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.2)


async def raw_consume(bootstrap: str, count: int) -> dict[str, float]:
    """Read ``count`` records of the report topic from its start with a fresh group; the
    clock starts once the group has its partitions, so the join is not counted."""
    consumer = AIOKafkaConsumer(
        COLLEGE_REPORTS,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for this
            await asyncio.sleep(0.05)
        seen = 0
        started = time.perf_counter()
        while seen < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            for records in batch.values():
                for record in records:
                    json.loads(record.value or b"{}")
                    seen += 1
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"reports": count, "seconds": elapsed, "reports_per_s": count / elapsed}


async def service_ingest(infra: Infrastructure, jwks_file: Path) -> dict[str, float]:
    run_id = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        mongo_url=infra.mongo_url,
        mongo_database=f"bench_evaluation_{run_id}",
        kafka_consumer_group=f"bench-evaluation-{run_id}",
        jwks_file=str(jwks_file),
        seed_default_framework=False,
        log_level="WARNING",
    )
    await ensure_topics(settings, [COLLEGE_REPORTS, REGISTRY_EVENTS])
    parties = [(f"agr-{run_id}-{i}", f"col-{run_id}-{i}", f"ent-{run_id}-{i}") for i in range(AGREEMENTS)]
    reports = [report_record(*party, n) for n in range(REPORTS_PER_AGREEMENT) for party in parties]
    client = create_client(settings.mongo_url.get_secret_value(), app_name="bench-evaluation")
    runtime = build_runtime(settings)
    await runtime.start()
    try:
        await publish(settings, REGISTRY_EVENTS, [agreement_record(*party) for party in parties])
        await wait_for_count(client, settings.mongo_database, "agreements", AGREEMENTS)
        await publish(settings, COLLEGE_REPORTS, reports)
        started = time.perf_counter()
        await wait_for_count(client, settings.mongo_database, "evidence", len(reports))
        elapsed = time.perf_counter() - started
    finally:
        await runtime.stop()
        await client.close()
    return {"reports": len(reports), "seconds": elapsed, "reports_per_s": len(reports) / elapsed}


async def run(infra: Infrastructure) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as keys:
        service = await service_ingest(infra, ensure_keys(Path(keys)))
    raw = await raw_consume(infra.kafka_bootstrap, int(service["reports"]))
    return {
        "agreements": AGREEMENTS,
        "raw_consume_loop": raw,
        "evaluation_ingestion": service,
        "throughput_ratio_service_vs_raw": service["reports_per_s"] / raw["reports_per_s"],
    }


def table(result: dict[str, Any]) -> Table:
    rows = [
        [name, figures["reports"], f"{figures['seconds']:.2f}", f"{figures['reports_per_s']:.0f}"]
        for name, figures in (
            ("raw consume loop", result["raw_consume_loop"]),
            ("evaluation ingestion", result["evaluation_ingestion"]),
        )
    ]
    return Table(
        ["path", "reports", "seconds", "reports/s"],
        rows,
        f"{result['agreements']} agreements; throughput ratio service/raw: "
        f"{result['throughput_ratio_service_vs_raw']:.4f}",
    )
