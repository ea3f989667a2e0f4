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
import multiprocessing
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.messaging.handlers import ConsumedEvent
from alliance_shared.messaging.kafka import KafkaAccess, ensure_topics, settings_for
from alliance_shared.persistence.mongo import Document
from alliance_shared.persistence.versioned_store import SETTLED_AT, current_document, journal_document
from alliance_shared.runtime import ServiceRuntime, Subscription
from alliance_shared.settings import ServiceSettings
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


def _bench_settings(kafka: KafkaAccess, mongo_url: str, run_id: str) -> ServiceSettings:
    return settings_for(
        kafka,
        service_name="registry",
        mongo_url=mongo_url,
        mongo_database=f"bench_{run_id}",
        kafka_consumer_group=f"bench-{run_id}",
        jwks_file="unused",
    )


def _consuming_runtime(
    settings: ServiceSettings, topic: str, count: int, writes: Sequence[str] = ()
) -> tuple[ServiceRuntime, ConsumerTally]:
    """The consuming side: a handler saving an idempotent projection per ping (``writes``:
    the stores of a writer sharing the process)."""
    tally = ConsumerTally(count)
    runtime: ServiceRuntime

    async def on_ping(event: ConsumedEvent) -> None:
        payload = event.payload
        assert isinstance(payload, BenchPinged)
        await runtime.store("projections").save(f"p-{payload.ping_id}", 0, {"seen": True}, caused_by=event.envelope.id)
        tally.applied(payload)

    runtime = ServiceRuntime(
        settings=settings,
        catalog=EventCatalog([BenchPinged]),
        stores=[*writes, "projections"],
        publish_topic=topic,
        subscriptions=[Subscription(topics=[topic], handlers={BenchPinged: on_ping})],
    )
    return runtime, tally


@dataclass
class ConsumerTally:
    """Each ping's latency, from when it was due (the monotonic clock every process of the
    machine shares) to when its projection was saved."""

    count: int
    latencies_ms: dict[str, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def applied(self, ping: BenchPinged) -> None:
        self.latencies_ms.setdefault(ping.ping_id, (time.perf_counter_ns() - ping.sent_ns) / 1e6)
        if len(self.latencies_ms) >= self.count:
            self.done.set()


def consume_apart(kafka: KafkaAccess, mongo_url: str, run_id: str, topic: str, count: int, pipe: Connection) -> None:
    """The consuming service in a process of its own, as deployed: says when it has joined
    its group, then sends back every ping's latency."""

    async def consume() -> None:
        runtime, tally = _consuming_runtime(_bench_settings(kafka, mongo_url, run_id), topic, count)
        await runtime.start()
        try:
            await asyncio.sleep(2.0)  # let the consumer join its group before the clock starts
            pipe.send("ready")
            await asyncio.wait_for(tally.done.wait(), timeout=600)
            pipe.send(list(tally.latencies_ms.values()))
        finally:
            await runtime.stop()

    asyncio.run(consume())


async def runtime_loop(
    kafka: KafkaAccess,
    mongo_url: str,
    count: int,
    concurrency: int = 16,
    offered_per_s: float | None = None,
    consumer_apart: bool = False,
) -> dict[str, float]:
    """``concurrency`` writers creating pings one after another (closed loop) or, with
    ``offered_per_s``, a ping created on schedule at that rate whatever the earlier ones
    are doing (open loop: latency counts from when each was due, so a backlog shows).
    ``consumer_apart``: the consuming service runs in a process of its own (as deployed)
    instead of beside the writers and their relay in this one."""
    run_id = uuid.uuid4().hex[:8]
    topic = f"bench.runtime.{run_id}"
    settings = _bench_settings(kafka, mongo_url, run_id)
    await ensure_topics(settings, [topic])
    child: BaseProcess | None = None
    if consumer_apart:
        ours, theirs = multiprocessing.get_context("spawn").Pipe()
        child = multiprocessing.get_context("spawn").Process(
            target=consume_apart, args=(kafka, mongo_url, run_id, topic, count, theirs)
        )
        child.start()
        runtime = ServiceRuntime(
            settings=settings, catalog=EventCatalog([BenchPinged]), stores=["pings"], publish_topic=topic
        )
        tally = None
    else:
        runtime, tally = _consuming_runtime(settings, topic, count, writes=["pings"])
    await runtime.start()
    try:
        if child is not None:
            assert await asyncio.to_thread(ours.recv) == "ready"
        else:
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

        async def on_schedule(rate: float) -> None:
            store = runtime.store("pings")

            async def create(i: int, due_ns: int) -> None:
                ping = BenchPinged(ping_id=str(i), sent_ns=due_ns, pad=PAYLOAD_PAD)
                await store.create(f"ping-{run_id}-{i}", {"n": i}, [ping])

            creating: list[asyncio.Task[None]] = []
            for i in range(count):
                due = started + i / rate
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                creating.append(asyncio.create_task(create(i, int(due * 1e9))))
            await asyncio.gather(*creating)

        if offered_per_s is None:
            await asyncio.gather(*(writer() for _ in range(concurrency)))
        else:
            await on_schedule(offered_per_s)
        if tally is not None:
            await asyncio.wait_for(tally.done.wait(), timeout=600)
            latencies = list(tally.latencies_ms.values())
        else:
            latencies = await asyncio.wait_for(asyncio.to_thread(ours.recv), timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        await runtime.stop()
        if child is not None:
            child.join(timeout=30)
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


#: The open-loop run: the target rate, offered for three seconds.
OFFERED_PER_S = 2000.0
OFFERED_EVENTS = 6000

#: The documents the runtime path inserts per event: the ping's journal version, current
#: document and settled record, then the projection's three.
DOCUMENTS_PER_EVENT = 6


async def engine_ceiling(mongo_url: str, count: int, batch: int = 500) -> dict[str, float]:
    """The engine alone inserting what the runtime path inserts for ``count`` events — the
    same number of documents of the same sizes into six collections — by ``insert_many``
    of ``batch`` documents one after another: nothing else running, no Kafka, no decisions."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    db = client[f"bench_ceiling_{uuid.uuid4().hex[:8]}"]
    now = datetime.now(UTC)

    def documents(name: str, i: int) -> Document:
        ping = BenchPinged(ping_id=str(i), sent_ns=0, pad=PAYLOAD_PAD)
        if name.endswith("_settled"):
            return {"_id": f"{name}-{i}", SETTLED_AT: now}
        if name.startswith("pings"):
            doc = journal_document("registry", f"ping-{i}", 1, {"n": i}, [ping], None, None)
        else:
            doc = journal_document("registry", f"p-{i}", 1, {"seen": True}, (), None, str(uuid.uuid4()))
        return doc if name.endswith("_journal") else current_document(doc)

    names = [f"{store}{suffix}" for store in ("pings", "projections") for suffix in ("_journal", "", "_settled")]
    try:
        started = time.perf_counter()
        for name in names:
            for first in range(0, count, batch):
                await db[name].insert_many([documents(name, i) for i in range(first, min(first + batch, count))])
        elapsed = time.perf_counter() - started
    finally:
        await client.drop_database(db.name)
        await client.close()
    return {
        "documents": count * len(names),
        "seconds": elapsed,
        "documents_per_s": count * len(names) / elapsed,
        "events_per_s": count / elapsed,
    }


async def measure(kafka: KafkaAccess, mongo_url: str, count: int = 2000) -> dict[str, Any]:
    raw = await raw_loop(kafka, count * 5)
    runtime = await runtime_loop(kafka, mongo_url, count)
    offered = await runtime_loop(kafka, mongo_url, OFFERED_EVENTS, offered_per_s=OFFERED_PER_S)
    apart = await runtime_loop(kafka, mongo_url, OFFERED_EVENTS, offered_per_s=OFFERED_PER_S, consumer_apart=True)
    ceiling = await engine_ceiling(mongo_url, count)
    return {
        "raw_aiokafka": raw,
        "shared_runtime": runtime,
        "shared_runtime_offered": {**offered, "offered_per_s": OFFERED_PER_S},
        "shared_runtime_offered_apart": {**apart, "offered_per_s": OFFERED_PER_S},
        "engine_ceiling": ceiling,
        "throughput_ratio_runtime_vs_raw": runtime["events_per_s"] / raw["events_per_s"],
        "throughput_ratio_runtime_vs_engine_ceiling": runtime["events_per_s"] / ceiling["events_per_s"],
    }


TITLE = "runtime: outbox → Kafka → idempotent consumer → MongoDB, vs raw aiokafka"


async def run(infra: Infrastructure) -> dict[str, Any]:
    return await measure(infra.kafka_admin, infra.mongo_url)


def table(result: dict[str, Any]) -> Table:
    paths = [("raw aiokafka", result["raw_aiokafka"]), ("shared runtime, 16 writers", result["shared_runtime"])]
    offered = result.get("shared_runtime_offered")
    if offered is not None:
        paths.append((f"shared runtime, {offered['offered_per_s']:.0f}/s offered", offered))
    apart = result.get("shared_runtime_offered_apart")
    if apart is not None:
        paths.append((f"shared runtime, {apart['offered_per_s']:.0f}/s offered, consumer in its own process", apart))
    rows = [
        [
            name,
            figures["events"],
            f"{figures['events_per_s']:.0f}",
            f"{figures['p50_ms']:.1f}",
            f"{figures['p99_ms']:.1f}",
        ]
        for name, figures in paths
    ]
    ceiling = result.get("engine_ceiling")
    notes = f"throughput ratio runtime/raw: {result['throughput_ratio_runtime_vs_raw']:.3f}"
    if ceiling is not None:
        rows.append(
            [
                f"engine ceiling ({DOCUMENTS_PER_EVENT} inserts/event)",
                result["shared_runtime"]["events"],
                f"{ceiling['events_per_s']:.0f}",
                "",
                "",
            ]
        )
        notes += (
            f"; the engine's insert_many of the path's {ceiling['documents']:.0f} documents alone: "
            f"{ceiling['documents_per_s']:.0f} documents/s = {ceiling['events_per_s']:.0f} events/s, "
            f"runtime/ceiling {result['throughput_ratio_runtime_vs_engine_ceiling']:.2f}"
        )
    return Table(["path", "events", "events/s", "p50 ms", "p99 ms"], rows, notes)
