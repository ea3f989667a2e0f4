"""Reading and writing raw Kafka records in tests, straight through aiokafka."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from aiokafka.structs import ConsumerRecord
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

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


async def at_least_partitions(kafka: KafkaAccess, topics: Sequence[str], count: int) -> None:
    """Give each of ``topics`` ``count`` partitions when it has fewer (consumers sharing a
    group split a topic by partitions; one partition feeds one member only)."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
        short = {t["topic"]: NewPartitions(count) for t in described if len(t["partitions"]) < count}
        if short:
            await admin.create_partitions(short)
    finally:
        await admin.close()


#: A consumer group member's assigned (topic, partition)s, by member id.
Assignment = dict[str, set[tuple[str, int]]]


def group_assignment(kafka: KafkaAccess, group: str) -> Assignment | None:
    """What each member of a consumer group is assigned, as the broker's group coordinator
    says; None while the group rebalances (blocking: run it in a thread)."""
    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol,
        "log_level": 3,
    }
    if kafka.sasl_mechanism:
        config.update(
            {
                "sasl.mechanisms": kafka.sasl_mechanism,
                "sasl.username": kafka.username or "",
                "sasl.password": kafka.password or "",
            }
        )
    client = AdminClient(config)
    description = client.describe_consumer_groups([group], request_timeout=20)[group].result(30)
    if description.state != ConsumerGroupState.STABLE:
        return None
    return {
        member.member_id: {(tp.topic, tp.partition) for tp in member.assignment.topic_partitions}
        for member in description.members
    }
