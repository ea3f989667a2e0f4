"""College-report ingestion: reports per second from Kafka into evidence, against the
engine's own ceiling and a FastStream peer, measured in the same run on the same servers.

Service path: the evaluation service's runtime as deployed (ConsumerRunner: envelope
decode, catalog validation, a poll's run of reports per partition to the batch use case
``ingest_college_reports``: each agreement read once, party checks, evidence in one
unordered insert, once per event id and per report). The clock runs from the moment the
backlog is on the broker until the service has committed the offset of the last report —
it commits a batch only once its evidence is stored, so that is when the last report is
durable; the evidence is counted once afterwards (a count scans the collection on the local
engine, 9 s at 20,000 documents: polling it would load the run it measures).

Baselines on the same records and the same servers:
* raw consume loop: an AIOKafkaConsumer decoding each value as JSON (Kafka's ceiling here);
* FastStream peer: a ``faststream[kafka]`` subscriber written the way its documentation
  shows (one message at a time, the payload validated into the contract's pydantic model),
  doing the same work: read the agreement, check the parties, insert the evidence under a
  deterministic ``_id`` (a redelivery is a duplicate key, skipped);
* engine ceiling: ``insert_many`` of the very evidence journal documents the service wrote,
  in chunks of the runner's batch size, and ``_id`` point reads of them.
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
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from faststream.security import SASLScram512
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_runtime
from alliance_evaluation.settings import Settings
from alliance_shared.auth.devtokens import ensure_keys
from alliance_shared.contract import college
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.registry import AgreementActivated
from alliance_shared.contract.topics import REGISTRY_EVENTS, college_reports_topic
from alliance_shared.messaging.kafka import KafkaAccess, create_producer, ensure_topics
from alliance_shared.persistence.mongo import create_client
from alliance_shared.settings import ServiceSettings
from bench.stats import Table

TITLE = "college-report ingestion: Kafka → validated evidence in MongoDB, vs a raw consume loop"
AGREEMENTS = 20
REPORTS_PER_AGREEMENT = 1000
TIMEOUT_S = 900.0
INSERT_CHUNK = 500
POINT_READS = 500

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
    while await client[database][collection].estimated_document_count() < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{collection} did not reach {count} documents in {TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.2)


async def wait_for_committed(kafka: KafkaAccess, group: str, topics: list[str], count: int) -> None:
    """Until ``group`` has committed ``count`` records of ``topics`` (fresh topics: offsets from 0)."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        deadline = time.perf_counter() + TIMEOUT_S
        while True:
            offsets = await admin.list_consumer_group_offsets(group)
            if sum(meta.offset for tp, meta in offsets.items() if tp.topic in topics and meta.offset > 0) >= count:
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{group} did not commit {count} records in {TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def raw_consume(kafka: KafkaAccess, topics: list[str], count: int) -> dict[str, float]:
    """Read ``count`` records of the colleges' report topics from their start with a fresh
    group; the clock starts once the group has its partitions, so the join is not counted."""
    consumer = AIOKafkaConsumer(
        *topics,
        **kafka.options(),
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


async def service_ingest(infra: Infrastructure, jwks_file: Path, run_id: str) -> dict[str, Any]:
    # The benchmark's own topics and group: it connects as the admin.
    settings = Settings.model_validate(
        {key.lower(): value for key, value in infra.kafka_admin.settings_env("").items()}
        | dict(
            mongo_url=infra.mongo_url,
            mongo_database=f"bench_evaluation_{run_id}",
            kafka_consumer_group=f"bench-evaluation-{run_id}",
            jwks_file=str(jwks_file),
            seed_default_framework=False,
            log_level="WARNING",
        )
    )
    parties = parties_of(run_id)
    await ensure_topics(settings, [*college_topics(run_id), REGISTRY_EVENTS])
    client = create_client(settings.mongo_url.get_secret_value(), app_name="bench-evaluation")
    runtime = build_runtime(settings)
    await runtime.start()
    try:
        await publish(settings, REGISTRY_EVENTS, [agreement_record(*party) for party in parties])
        await wait_for_count(client, settings.mongo_database, "agreements", AGREEMENTS)
        for party in parties:  # each college on its own topic, as colleges publish
            reports_of_party = [report_record(*party, n) for n in range(REPORTS_PER_AGREEMENT)]
            await publish(settings, college_reports_topic(party[1]), reports_of_party)
        reports = len(parties) * REPORTS_PER_AGREEMENT
        started = time.perf_counter()
        await wait_for_committed(infra.kafka_admin, settings.consumer_group, college_topics(run_id), reports)
        elapsed = time.perf_counter() - started
        stored = await client[settings.mongo_database]["evidence"].count_documents({})
        if stored != reports:
            raise AssertionError(f"{reports} reports committed but {stored} evidence documents stored")
    finally:
        await runtime.stop()
        await client.close()
    return {
        "reports": reports,
        "seconds": elapsed,
        "reports_per_s": reports / elapsed,
        "database": settings.mongo_database,
    }


def parties_of(run_id: str) -> list[tuple[str, str, str]]:
    return [(f"agr-{run_id}-{i}", f"col-{run_id}-{i}", f"ent-{run_id}-{i}") for i in range(AGREEMENTS)]


def college_topics(run_id: str) -> list[str]:
    """Each college of the run reports on its own topic."""
    return [college_reports_topic(college_id) for _, college_id, _ in parties_of(run_id)]


async def faststream_ingest(infra: Infrastructure, run_id: str, count: int) -> dict[str, float]:
    """The FastStream peer over the same backlog (the run's college topics from their start,
    its own consumer group and database, as the admin); counts the reports of this run."""
    client = create_client(infra.mongo_url, app_name="bench-faststream")
    db = client[f"bench_faststream_{run_id}"]
    await db["agreements"].insert_many(
        [
            {"_id": agreement_id, "status": "active", "college_ids": [college_id], "party_ids": [college_id, ent]}
            for agreement_id, college_id, ent in parties_of(run_id)
        ]
    )
    # No per-message log lines, like the service (which logs warnings only).
    admin = infra.kafka_admin
    security = (
        SASLScram512(username=admin.username, password=admin.password) if admin.username and admin.password else None
    )
    broker = KafkaBroker(admin.bootstrap_servers, security=security, logger=None)
    stored = 0
    done = asyncio.Event()

    @broker.subscriber(*college_topics(run_id), group_id=f"bench-faststream-{run_id}", auto_offset_reset="earliest")
    async def on_report(report: college.InternshipPlaced) -> None:
        nonlocal stored
        agreement = await db["agreements"].find_one({"_id": report.agreement_id})
        if agreement is None or report.college_id not in agreement["college_ids"]:
            return  # another run's report, or refused
        evidence = {"_id": f"report:{report.college_id}:{report.report_id}", **report.model_dump(mode="json")}
        try:
            await db["evidence"].insert_one(evidence)
        except DuplicateKeyError:
            return
        stored += 1
        if stored >= count:
            done.set()

    await broker.start()
    try:
        started = time.perf_counter()
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        elapsed = time.perf_counter() - started
    finally:
        await broker.stop()
        await client.close()
    return {"reports": count, "seconds": elapsed, "reports_per_s": count / elapsed}


async def engine_ceiling(infra: Infrastructure, service_database: str, run_id: str) -> dict[str, float]:
    """``insert_many`` of the service's own evidence journal documents into a fresh
    collection, ``INSERT_CHUNK`` at a time, then ``_id`` point reads of them."""
    client = create_client(infra.mongo_url, app_name="bench-engine")
    try:
        docs = await client[service_database]["evidence_journal"].find({}).to_list()
        target = client[f"bench_engine_{run_id}"]["evidence_journal"]
        await target.insert_one({"_id": "warm-up"})  # the collection exists before the clock starts
        started = time.perf_counter()
        for start in range(0, len(docs), INSERT_CHUNK):
            await target.insert_many(docs[start : start + INSERT_CHUNK], ordered=False)
        inserted = time.perf_counter() - started
        ids = [doc["_id"] for doc in docs[:: max(1, len(docs) // POINT_READS)]][:POINT_READS]
        started = time.perf_counter()
        for doc_id in ids:
            await target.find_one({"_id": doc_id})
        read = time.perf_counter() - started
    finally:
        await client.close()
    return {
        "documents": len(docs),
        "insert_seconds": inserted,
        "inserts_per_s": len(docs) / inserted,
        "point_reads": len(ids),
        "point_reads_per_s": len(ids) / read,
    }


async def run(infra: Infrastructure) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as keys:
        service = await service_ingest(infra, ensure_keys(Path(keys)), run_id)
    count = int(service["reports"])
    peer = await faststream_ingest(infra, run_id, count)
    engine = await engine_ceiling(infra, str(service.pop("database")), run_id)
    raw = await raw_consume(infra.kafka_admin, college_topics(run_id), count)
    return {
        "agreements": AGREEMENTS,
        "raw_consume_loop": raw,
        "faststream_peer": peer,
        "engine_insert_many": engine,
        "evaluation_ingestion": service,
        "throughput_ratio_service_vs_raw": service["reports_per_s"] / raw["reports_per_s"],
        "ratio_service_vs_faststream": service["reports_per_s"] / peer["reports_per_s"],
        "ratio_service_vs_engine_insert_many": service["reports_per_s"] / engine["inserts_per_s"],
    }


def table(result: dict[str, Any]) -> Table:
    service = result["evaluation_ingestion"]["reports_per_s"]
    engine = result["engine_insert_many"]
    rows: list[list[Any]] = [
        [name, figures["reports"], f"{figures['seconds']:.2f}", f"{figures['reports_per_s']:.0f}", ratio]
        for name, figures, ratio in (
            ("raw consume loop (Kafka ceiling)", result["raw_consume_loop"], None),
            ("FastStream peer", result["faststream_peer"], None),
            ("evaluation ingestion", result["evaluation_ingestion"], None),
        )
    ]
    rows.append(
        [
            f"engine insert_many, {INSERT_CHUNK} a command",
            engine["documents"],
            f"{engine['insert_seconds']:.2f}",
            f"{engine['inserts_per_s']:.0f}",
            None,
        ]
    )
    for row in rows:
        per_s = float(row[3])
        row[4] = f"{service / per_s:.2f}" if per_s else "—"
    return Table(
        ["path", "reports", "seconds", "reports/s", "service ÷ this"],
        rows,
        f"{result['agreements']} agreements; engine _id point reads {engine['point_reads_per_s']:.0f}/s "
        f"({engine['point_reads']} sequential); targets: ≥ 2,000 reports/s, ≥ 0.3× the engine's insert_many, "
        "≥ 1.0× the FastStream peer",
    )
