"""Publish→consume through the shared runtime vs. a raw aiokafka loop, same broker, same run.

Runtime path: VersionedStore.create (state + event in one insert) → outbox relay →
Kafka → ConsumerRunner (envelope decode, catalog validation) → a handler that saves
an idempotent projection in MongoDB. Latency is from before the write to after the
projection is saved. Raw path: AIOKafkaProducer.send → AIOKafkaConsumer.getmany,
latency from send to receipt. Both move the same payload size.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from alliance_devstack.provision import Infrastructure
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.messaging.handlers import ConsumedEvent
from alliance_shared.messaging.kafka import KafkaAccess, ensure_topics, settings_for
from alliance_shared.runtime import ServiceRuntime, Subscription
from bench.stats import Table, percentile

PAYLOAD_PAD = "x" * 200


class BenchPinged(EventPayload):
    event_type: ClassVar[str] = "org.coopalliance.bench.ping.sent.v1"
    aggregate_field: ClassVar[str] = "ping_id"
    ping_id: str
    sent_ns: int
    pad: str


async def raw_loop(kafka: KafkaAccess, count: int) -> dict[str, float]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    consumer = AIOKafkaConsumer(topic, **kafka.options(), group_id=topic, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(**kafka.options(), enable_idempotence=True, acks="all", linger_ms=2)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    try:
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for this
            await asyncio.sleep(0.05)
        started = time.perf_counter()

        async def produce() -> None:
            for i in range(count):
                value = json.dumps({"ping_id": str(i), "sent_ns": time.perf_counter_ns(), "pad": PAYLOAD_PAD})
                await producer.send(topic, value=value.encode(), key=str(i).encode())
            await producer.flush()

        producing = asyncio.create_task(produce())
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=500)
            now = time.perf_counter_ns()
            for records in batch.values():
                for record in records:
                    latencies.append((now - json.loads(record.value)["sent_ns"]) / 1e6)
        elapsed = time.perf_counter() - started
        await producing
    finally:
        await producer.stop()
        await consumer.stop()
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


async def runtime_loop(kafka: KafkaAccess, mongo_url: str, count: int, concurrency: int = 16) -> dict[str, float]:
    run_id = uuid.uuid4().hex[:8]
    topic = f"bench.runtime.{run_id}"
    settings = settings_for(
        kafka,
        service_name="registry",
        mongo_url=mongo_url,
        mongo_database=f"bench_{run_id}",
        kafka_consumer_group=f"bench-{run_id}",
        jwks_file="unused",
    )
    await ensure_topics(settings, [topic])
    applied: dict[str, float] = {}
    done = asyncio.Event()
    runtime: ServiceRuntime

    async def on_ping(event: ConsumedEvent) -> None:
        payload = event.payload
        assert isinstance(payload, BenchPinged)
        await runtime.store("projections").save(f"p-{payload.ping_id}", 0, {"seen": True}, caused_by=event.envelope.id)
        applied.setdefault(payload.ping_id, (time.perf_counter_ns() - payload.sent_ns) / 1e6)
        if len(applied) >= count:
            done.set()

    runtime = ServiceRuntime(
        settings=settings,
        catalog=EventCatalog([BenchPinged]),
        stores=["pings", "projections"],
        publish_topic=topic,
        subscriptions=[Subscription(topics=[topic], handlers={BenchPinged: on_ping})],
    )
    await runtime.start()
    try:
        await asyncio.sleep(2.0)  # let the consumer join its group before the clock starts
        started = time.perf_counter()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def writer() -> None:
            store = runtime.store("pings")
            while not queue.empty():
                i = queue.get_nowait()
                ping = BenchPinged(ping_id=str(i), sent_ns=time.perf_counter_ns(), pad=PAYLOAD_PAD)
                await store.create(f"ping-{run_id}-{i}", {"n": i}, [ping])

        await asyncio.gather(*(writer() for _ in range(concurrency)))
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        await runtime.stop()
    latencies = list(applied.values())
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


async def measure(kafka: KafkaAccess, mongo_url: str, count: int = 2000) -> dict[str, Any]:
    raw = await raw_loop(kafka, count * 5)
    runtime = await runtime_loop(kafka, mongo_url, count)
    return {
        "raw_aiokafka": raw,
        "shared_runtime": runtime,
        "throughput_ratio_runtime_vs_raw": runtime["events_per_s"] / raw["events_per_s"],
    }


TITLE = "runtime: outbox → Kafka → idempotent consumer → MongoDB, vs raw aiokafka"


async def run(infra: Infrastructure) -> dict[str, Any]:
    return await measure(infra.kafka_admin, infra.mongo_url)


def table(result: dict[str, Any]) -> Table:
    rows = [
        [
            name,
            figures["events"],
            f"{figures['events_per_s']:.0f}",
            f"{figures['p50_ms']:.1f}",
            f"{figures['p99_ms']:.1f}",
        ]
        for name, figures in (("raw aiokafka", result["raw_aiokafka"]), ("shared runtime", result["shared_runtime"]))
    ]
    return Table(
        ["path", "events", "events/s", "p50 ms", "p99 ms"],
        rows,
        f"throughput ratio runtime/raw: {result['throughput_ratio_runtime_vs_raw']:.3f}",
    )
