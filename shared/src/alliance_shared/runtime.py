"""One service's running parts: MongoDB, the Kafka producer, the outbox relay, the
consumers, metrics and the audit trail — started and stopped together.

A service's composition root builds a ``ServiceRuntime`` with its own collections,
indexes and event handlers; ``web.app.create_app`` ties it to FastAPI's lifespan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pymongo.asynchronous.database import AsyncDatabase

from alliance_shared.audit import AUDIT_COLLECTION, AUDIT_INDEXES, AuditTrail, ChainBreak
from alliance_shared.contract.audit import AuditChainAnchored
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.topics import CONTEXT_TOPIC, EVENT_TOPICS
from alliance_shared.logging import get_logger
from alliance_shared.messaging.consumer import ConsumerRunner
from alliance_shared.messaging.handlers import BatchHandlers, DeadLetterHook, Handlers
from alliance_shared.messaging.kafka import create_dead_letter_producer, create_producer, ensure_topics
from alliance_shared.messaging.relay import OutboxRelay, late_write_margin
from alliance_shared.metrics import Metrics
from alliance_shared.persistence.mongo import Document, IndexSpec, create_client, ensure_indexes
from alliance_shared.persistence.versioned_store import MongoVersionedStore, Snapshot, versioned_indexes
from alliance_shared.persistence.write_path import EVENT_RETRY, Change, apply_change
from alliance_shared.settings import ServiceSettings
from alliance_shared.web.idempotency import IDEMPOTENCY_INDEXES

log = get_logger(__name__)

#: The store of the audit chain's anchors, and its one aggregate.
AUDIT_ANCHORS = "audit_anchors"
AUDIT_ANCHOR_ID = "audit-chain"


@dataclass
class Subscription:
    """The event types a service handles on some topics."""

    topics: Sequence[str]
    handlers: Handlers
    on_dead_letter: DeadLetterHook | None = None
    #: Types applied many at a time (``handlers.BatchHandler``) instead of one by one.
    batch_handlers: BatchHandlers = field(default_factory=dict)
    #: Topics matching this regular expression are read too, even those created later.
    topic_pattern: str | None = None


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    catalog: EventCatalog
    stores: Sequence[str]
    indexes: Sequence[IndexSpec] = ()
    subscriptions: Sequence[Subscription] = ()
    #: Where the relay publishes; the service's own context topic unless overridden (benchmarks).
    publish_topic: str | None = None
    metrics: Metrics = field(init=False)
    db: AsyncDatabase[Document] = field(init=False)
    producer: AIOKafkaProducer = field(init=False)
    dead_letter_producer: AIOKafkaProducer = field(init=False)
    relay: OutboxRelay = field(init=False)
    audit: AuditTrail = field(init=False)
    consumers: list[ConsumerRunner] = field(init=False, default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(init=False, default_factory=list)
    #: Consumers that failed and are being started again.
    _down: set[str] = field(init=False, default_factory=set)
    #: One store object per collection, so that concurrent saves share its group inserts.
    _store_objects: dict[str, MongoVersionedStore] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Every service keeps the anchors of its audit chain in a store of its own.
        self.stores = [*self.stores, AUDIT_ANCHORS]
        self.metrics = Metrics(self.settings.service_name)
        self._mongo = create_client(
            self.settings.mongo_url.get_secret_value(),
            app_name=self.settings.service_name,
            operation_timeout_ms=self.settings.mongo_operation_timeout_ms,
        )
        self.db = self._mongo[self.settings.mongo_database]
        self.audit = AuditTrail(self.db[AUDIT_COLLECTION], self.settings.service_name)
        self.relay = OutboxRelay(
            self.db,
            self.stores,
            None,
            self.publish_topic or CONTEXT_TOPIC[self.settings.service_name],
            self.audit,
            self.metrics,
            late_write_margin=late_write_margin(self.settings.mongo_operation_timeout_ms),
            scan_seconds=self.settings.outbox_scan_seconds,
        )

    def store(self, collection: str) -> MongoVersionedStore:
        if collection not in self.stores:
            raise ValueError(f"{collection} is not a versioned collection of {self.settings.service_name}")
        if collection not in self._store_objects:
            self._store_objects[collection] = MongoVersionedStore(
                self.db, collection, self.settings.service_name, self.relay.notify
            )
        return self._store_objects[collection]

    async def start(self, *, startup_timeout_s: float = 60.0) -> None:
        await ensure_indexes(
            self.db,
            [
                *self.indexes,
                *AUDIT_INDEXES,
                *IDEMPOTENCY_INDEXES,
                *(spec for c in self.stores for spec in versioned_indexes(c)),
            ],
        )
        await self._with_kafka_retry(lambda: ensure_topics(self.settings, EVENT_TOPICS), startup_timeout_s)
        # aiokafka binds its clients to the running loop, so they are made here, not at build time.
        self.producer = create_producer(self.settings)
        self.relay.attach_producer(self.producer)
        await self._with_kafka_retry(self.producer.start, startup_timeout_s)
        self.dead_letter_producer = create_dead_letter_producer(self.settings)
        await self._with_kafka_retry(self.dead_letter_producer.start, startup_timeout_s)
        if self.settings.run_relay:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
            self.add_task(self._every(self.settings.audit_anchor_seconds, self.anchor_audit_chain), "audit-anchor")
            self.add_task(self._every(self.settings.audit_verify_seconds, self.verify_audit_chain), "audit-verify")
        if self.settings.run_consumers:
            for subscription in self.subscriptions:
                runner = ConsumerRunner(
                    self.settings,
                    subscription.topics,
                    self.catalog,
                    subscription.handlers,
                    self.dead_letter_producer,
                    self.metrics,
                    on_dead_letter=subscription.on_dead_letter,
                    batch_handlers=subscription.batch_handlers,
                    topic_pattern=subscription.topic_pattern,
                )
                await runner.start()
                self.consumers.append(runner)
                self._tasks.append(asyncio.create_task(self._supervise(runner), name=runner.name))
        log.info("service started", consumers=len(self.consumers))

    async def _supervise(self, runner: ConsumerRunner) -> None:
        """Keep a consumer running: one that ends unexpectedly is reported down (/readyz)
        and started again, with backoff, from its committed offsets."""
        delay = 1.0
        while True:
            try:
                await runner.run()
                return  # stopped on purpose
            except Exception:
                self._down.add(runner.name)
                self.metrics.consumer_restarts.labels(self.metrics.service, runner.name).inc()
                log.exception("consumer ended unexpectedly; restarting", consumer=runner.name, delay=delay)
            await asyncio.sleep(delay)
            if runner.stopping:
                return
            try:
                await runner.restart()
            except Exception:
                log.warning("consumer restart failed; trying again", consumer=runner.name, exc_info=True)
                delay = min(delay * 2, 30.0)
                continue
            self._down.discard(runner.name)
            delay = 1.0

    async def anchor_audit_chain(self) -> int | None:
        """Publish the audit chain's head, when it moved since the last anchor (an event,
        so the anchor lives outside this database). Returns the anchored sequence number."""
        head = await self.audit.head()
        if head is None:
            return None
        anchored = AuditChainAnchored(
            service=self.settings.service_name, seq=int(head["_id"]), hash=head["hash"], anchored_at=datetime.now(UTC)
        )

        def decide(current: Snapshot | None) -> Change | None:
            if current is not None and current.state["seq"] == anchored.seq:
                return None
            return Change({"seq": anchored.seq, "hash": anchored.hash}, [anchored])

        await apply_change(self.store(AUDIT_ANCHORS), AUDIT_ANCHOR_ID, decide, retry=EVENT_RETRY)
        return anchored.seq

    async def verify_audit_chain(self) -> list[ChainBreak]:
        """Recompute the whole chain and check the last anchor; the count goes to a metric."""
        breaks = await self.audit.verify()
        anchor = await self.store(AUDIT_ANCHORS).load(AUDIT_ANCHOR_ID)
        if anchor is not None:
            broken = await self.audit.check_anchor(int(anchor.state["seq"]), str(anchor.state["hash"]))
            breaks.extend([broken] if broken else [])
        self.metrics.audit_chain_breaks.labels(self.metrics.service).set(len(breaks))
        if breaks:
            log.error("audit chain broken", first_seq=breaks[0].seq, problem=breaks[0].problem, breaks=len(breaks))
        return breaks

    @staticmethod
    async def _every(seconds: float, step: Callable[[], Awaitable[object]]) -> None:
        while True:
            try:
                await step()
            except Exception:
                log.warning("periodic step failed; trying again at the next period", exc_info=True)
            await asyncio.sleep(seconds)

    def add_task(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        """Run a service's own background loop; cancelled on stop, reported by /readyz if it dies."""
        self._tasks.append(asyncio.create_task(coroutine, name=name))

    async def stop(self) -> None:
        """Stop every part within ``settings.shutdown_seconds``.

        A step may hang where nothing of ours can end it: aiokafka's consumer does not leave
        its group while the group coordinator is unavailable. Such a step is abandoned at its
        deadline with a warning and the others still run; offsets it did not commit are
        redelivered on the next start, and consumers are idempotent. The last quarter of the
        time is kept for the producers to flush what the relay handed them.
        """
        started = asyncio.get_running_loop().time()
        parts_deadline = started + self.settings.shutdown_seconds * 3 / 4
        self.relay.stop()
        # Half the time for the batch in hand, a quarter to commit and leave the group.
        batch_s = self.settings.shutdown_seconds / 2
        await _finish_by(parts_deadline, [(runner.name, runner.stop(timeout_s=batch_s)) for runner in self.consumers])
        for task in self._tasks:
            task.cancel()
        await _finish_by(parts_deadline, [(task.get_name(), task) for task in self._tasks])
        producers = {
            "producer": getattr(self, "producer", None),
            "dead-letter producer": getattr(self, "dead_letter_producer", None),
        }
        # A producer is absent when start() failed before making it.
        await _finish_by(
            started + self.settings.shutdown_seconds,
            [(name, producer.stop()) for name, producer in producers.items() if producer is not None],
        )
        await self._mongo.close()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state; the service is ready when all are "ok"."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.db.command("ping"), 2.0)
            checks["mongodb"] = "ok"
        except Exception as exc:
            checks["mongodb"] = f"unavailable: {type(exc).__name__}"
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2.0)
            checks["kafka"] = "ok"
        except Exception as exc:
            checks["kafka"] = f"unavailable: {type(exc).__name__}"
        for task in self._tasks:
            if task.done():
                checks[task.get_name()] = "stopped"
            elif task.get_name() in self._down:
                checks[task.get_name()] = "restarting"
        return checks

    @staticmethod
    async def _with_kafka_retry(step: Any, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        delay = 0.5
        while True:
            try:
                await step()
                return
            except (KafkaError, OSError, TimeoutError):
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise
                log.warning("kafka not reachable yet; retrying", delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


async def _finish_by(deadline: float, steps: Sequence[tuple[str, Awaitable[Any]]]) -> None:
    """Run shutdown steps together until ``deadline``; log a failure or an overrun, never raise."""
    tasks = [(name, asyncio.ensure_future(step)) for name, step in steps]
    if not tasks:
        return
    await asyncio.wait([task for _, task in tasks], timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
    for name, task in tasks:
        if not task.done():
            task.cancel()  # not awaited: a step that ignores cancellation must not hold the shutdown
            log.warning("shutdown step overran the deadline and was abandoned", step=name)
        elif not task.cancelled() and (failure := task.exception()) is not None:
            log.warning("shutdown step failed", step=name, exc_info=failure)
