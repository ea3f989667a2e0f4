"""`alliance-audit verify`: check a service's audit trail from outside the service.

It recomputes the hash chain in the service's database and, given the Kafka bootstrap
servers, checks every anchor the service ever published on its topic against the record
it names — so a trail that was truncated, or re-hashed from some record on, is found
even though the chain itself then looks intact. Prints a JSON report; exit status 1 when
anything is broken.

    alliance-audit verify --service funding --mongo-url mongodb://... --database alliance_funding \\
        --kafka-bootstrap kafka:9092
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from alliance_shared.audit import AUDIT_COLLECTION, AuditTrail, ChainBreak
from alliance_shared.contract.audit import AuditChainAnchored
from alliance_shared.contract.envelope import EnvelopeError, from_kafka
from alliance_shared.contract.topics import CONTEXT_TOPIC
from alliance_shared.messaging.kafka import KafkaAccess, partitions_of
from alliance_shared.persistence.mongo import create_client


async def published_anchors(kafka: KafkaAccess, service: str, idle_ms: int = 2000) -> list[AuditChainAnchored]:
    """Every anchor the service published, read from the start of its topic."""
    topic = CONTEXT_TOPIC[service]
    partitions = [TopicPartition(topic, p) for p in await partitions_of(kafka, topic)]
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    anchors: list[AuditChainAnchored] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    try:
                        event = from_kafka(record.key, record.value, list(record.headers))
                    except EnvelopeError:
                        continue
                    if event.type == AuditChainAnchored.event_type and event.data.get("service") == service:
                        anchors.append(AuditChainAnchored.model_validate(event.data))
    finally:
        await consumer.stop()
    return anchors


async def verify(service: str, mongo_url: str, database: str, kafka: KafkaAccess | None) -> dict[str, object]:
    client = create_client(mongo_url, app_name="alliance-audit")
    try:
        trail = AuditTrail(client[database][AUDIT_COLLECTION], service)
        breaks: list[ChainBreak] = await trail.verify()
        anchors = await published_anchors(kafka, service) if kafka else []
        for anchor in anchors:
            broken = await trail.check_anchor(anchor.seq, anchor.hash)
            if broken is not None:
                breaks.append(broken)
        head = await trail.head()
    finally:
        await client.close()
    breaks.sort(key=lambda b: b.seq)
    return {
        "service": service,
        "intact": not breaks,
        "records": int(head["_id"]) if head else 0,
        "anchors_checked": len(anchors),
        "first_break": {"seq": breaks[0].seq, "problem": breaks[0].problem} if breaks else None,
        "breaks": [{"seq": b.seq, "problem": b.problem} for b in breaks],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="alliance-audit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="verify a service's audit chain and its published anchors")
    check.add_argument("--service", required=True, choices=sorted(CONTEXT_TOPIC))
    check.add_argument("--mongo-url", required=True)
    check.add_argument("--database", required=True)
    check.add_argument(
        "--kafka-bootstrap",
        help="also check every anchor published on the service's topic (as the SCRAM-SHA-512 user "
        "ALLIANCE_AUDIT_KAFKA_USERNAME with ALLIANCE_AUDIT_KAFKA_PASSWORD, when set)",
    )
    args = parser.parse_args(argv)
    kafka: KafkaAccess | None = None
    if args.kafka_bootstrap:
        username = os.environ.get("ALLIANCE_AUDIT_KAFKA_USERNAME")
        password = os.environ.get("ALLIANCE_AUDIT_KAFKA_PASSWORD")
        kafka = (
            KafkaAccess.scram(args.kafka_bootstrap, username, password)
            if username and password
            else KafkaAccess(args.kafka_bootstrap)
        )
    report = asyncio.run(verify(args.service, args.mongo_url, args.database, kafka))
    print(json.dumps(report, ensure_ascii=False, indent=2))
    sys.exit(0 if report["intact"] else 1)


if __name__ == "__main__":
    main()
