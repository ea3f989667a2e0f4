"""Reading and writing raw Kafka records in tests, straight through aiokafka."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from alliance_devstack.services import start_at_topic_ends
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.messaging.kafka import KafkaAccess, partitions_of

Record = ConsumerRecord[bytes, bytes]


async def read_topic(
    kafka: KafkaAccess,
    topic: str,
    *,
    until: Callable[[list[Record]], bool] = lambda records: False,
    timeout_s: float = 20.0,
) -> list[Record]:
    """All records of a topic from the beginning, until ``until`` holds or the time is up."""
    deadline = time.monotonic() + timeout_s
    partitions = await partitions_of(kafka, topic)
    consumer = AIOKafkaConsumer(**kafka.options(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Record] = []
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
            if until(records):
                break
        return records
    finally:
        await consumer.stop()


async def produce(
    kafka: KafkaAccess, topic: str, records: Sequence[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]
) -> None:
    """Write records as ``kafka``'s principal (the tests' admin, or a college's)."""
    producer = AIOKafkaProducer(**kafka.options(), max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def header(record: Record, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return value.decode()
    return None


async def skip_history(kafka: KafkaAccess, group: str, topics: Sequence[str] = (REGISTRY_EVENTS,)) -> None:
    """The service under test reads only what this test run produces, not what earlier runs
    left on the shared topics (every college's reports topic included)."""
    await start_at_topic_ends(kafka, group, topics)
