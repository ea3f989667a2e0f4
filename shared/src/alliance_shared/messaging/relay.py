"""The outbox relay: publishes what the versioned stores wrote, and feeds the audit chain.

The relay publishes the entries of every journal version still ``_pending``, then
updates the current document and clears the flag. A crash anywhere republishes at worst
(consumers dedupe by event id) and never loses an entry.

It works in batches: every pending version in hand is sent at once, the producer is
flushed once (all delivery reports awaited together), and the flags are cleared with
bulk updates. A version the broker refuses for good is set aside alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from alliance_shared.audit import AuditTrail
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.logging import get_logger
from alliance_shared.messaging.kafka import REFUSED_RECORD_ERRORS
from alliance_shared.metrics import Metrics
from alliance_shared.persistence.mongo import Document, retry_when_busy
from alliance_shared.persistence.versioned_store import (
    AGGREGATE_ID,
    OUTBOX,
    PENDING,
    VERSION,
    journal_of,
    refresh_current,
)

log = get_logger(__name__)
T = TypeVar("T")

#: On a journal version whose events were refused for good: why and when.
SET_ASIDE = "_set_aside"

#: Updates per settling command. FerretDB v1 keeps one SQLite connection open per update
#: of a command until the command ends, from a pool of 100: a command of 100 updates
#: waits for itself forever (and smaller ones starve everything else while they run).
SETTLE_CHUNK = 10


class OutboxRelay:
    """Publishes pending journal entries to Kafka and appends audit entries to the chain.

    Fast path: the stores of this process hand the relay each journal document they
    wrote, and it publishes them without reading them back. Safety net: at start and every
    ``scan_seconds`` it scans for anything still pending (a crashed writer, another
    replica's leftovers).
    """

    def __init__(
        self,
        db: AsyncDatabase[Document],
        stores: Sequence[str],
        producer: AIOKafkaProducer | None,
        topic: str,
        audit: AuditTrail,
        metrics: Metrics,
        *,
        scan_seconds: float = 10.0,
        batch_size: int = 500,
    ) -> None:
        self._db = db
        self._stores = list(stores)
        self._producer = producer
        self.topic = topic
        self._audit = audit
        self._metrics = metrics
        self._scan_seconds = scan_seconds
        self._batch_size = batch_size
        self._written: list[tuple[str, str, Document | None]] = []
        self._wake = asyncio.Event()
        self._stopping = False

    def attach_producer(self, producer: AIOKafkaProducer) -> None:
        """aiokafka producers must be made inside the event loop, so they come at start."""
        self._producer = producer

    def notify(self, store: str, doc_id: str, doc: Document | None = None) -> None:
        """A journal document was written (``doc``: as inserted; None: read it by ``_id``)."""
        self._written.append((store, doc_id, doc))
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = 0.0
        delay = 0.0
        while not self._stopping:
            try:
                if loop.time() >= next_scan:
                    await self.scan()
                    next_scan = loop.time() + self._scan_seconds
                await self.publish_written()
                delay = 0.0
            except Exception:
                delay = min(max(delay * 2, 0.5), 30.0)
                log.warning("outbox relay pass failed; retrying", delay=delay, exc_info=True)
                await asyncio.sleep(delay)
                continue
            if not self._written:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, next_scan - loop.time()))
                self._wake.clear()

    async def publish_written(self) -> int:
        """Publish what this process wrote since the last pass."""
        if not self._written:
            return 0
        batch, self._written = self._written[: self._batch_size], self._written[self._batch_size :]
        try:
            docs = await _bounded_gather(
                _as_written(doc) if doc is not None else self._db[journal_of(store)].find_one({"_id": doc_id})
                for store, doc_id, doc in batch
            )
            by_store: dict[str, list[Document]] = {}
            for (store, _, _), doc in zip(batch, docs, strict=True):
                # A document settled meanwhile (another replica's scan) may be sent again: consumers dedupe.
                if doc is not None and doc[PENDING]:
                    by_store.setdefault(store, []).append(doc)
            # The writer refreshed the current documents itself right after its insert.
            return await self._publish(by_store, refresh_current_docs=False)
        except BaseException:
            self._written = batch + self._written  # keep order: retry these first
            raise

    async def scan(self) -> int:
        """Publish everything still pending in any journal (the crash-recovery path)."""
        handled = 0
        for store in self._stores:
            while found := await self._db[journal_of(store)].find({PENDING: True}).limit(self._batch_size).to_list():
                # What this process wrote and has queued is the fast path's: not published twice.
                queued = {doc_id for queued_store, doc_id, _ in self._written if queued_store == store}
                docs = [doc for doc in found if doc["_id"] not in queued]
                if docs:
                    handled += await self._publish({store: docs}, refresh_current_docs=True)
                if len(docs) < self._batch_size:
                    break
        self._metrics.outbox_backlog.labels(self._metrics.service).set(0)
        return handled

    async def backlog(self) -> int:
        total = 0
        for store in self._stores:
            total += await self._db[journal_of(store)].count_documents({PENDING: True})
        self._metrics.outbox_backlog.labels(self._metrics.service).set(total)
        return total

    async def _publish(self, by_store: dict[str, list[Document]], *, refresh_current_docs: bool) -> int:
        """Send every entry, await their delivery together, append the audit entries in one
        insert, settle with bulk updates per store.

        A version whose events the broker refuses for good (too large, invalid) is set aside
        — marked, counted and logged for ops (docs/runbook.md) — and the others go on.
        A transient failure fails the pass, which is retried as a whole (consumers dedupe).
        """
        ordered = {store: sorted(docs, key=lambda d: (d[AGGREGATE_ID], d[VERSION])) for store, docs in by_store.items()}
        pending: list[tuple[str, Document, list[asyncio.Future[Any]]]] = []
        refused: dict[str, str] = {}
        for store, docs in ordered.items():
            for doc in docs:
                futures: list[asyncio.Future[Any]] = []
                for entry in doc.get(OUTBOX, []):
                    if entry["kind"] != "event":
                        continue
                    key, value, headers = to_kafka(CloudEvent.from_document(entry["event"]))
                    assert self._producer is not None, "attach_producer() before publishing"
                    try:
                        futures.append(await self._producer.send(self.topic, value=value, key=key, headers=headers))
                    except REFUSED_RECORD_ERRORS as exc:
                        refused[doc["_id"]] = f"{type(exc).__name__}: {exc}"[:500]
                pending.append((store, doc, futures))
        outcomes = await asyncio.gather(*(f for _, _, fs in pending for f in fs), return_exceptions=True)
        failures = iter(outcomes)
        for _, doc, futures in pending:
            for _ in futures:
                outcome = next(failures)
                if isinstance(outcome, REFUSED_RECORD_ERRORS):
                    refused.setdefault(doc["_id"], f"{type(outcome).__name__}: {outcome}"[:500])
                elif isinstance(outcome, BaseException):
                    raise outcome
        audits = [entry["audit"] for _, doc, _ in pending for entry in doc.get(OUTBOX, []) if entry["kind"] == "audit"]
        if audits:
            await self._audit.append_many(audits)
        if refresh_current_docs:
            await _bounded_gather(refresh_current(self._db[store], doc) for store, doc, _ in pending)
        for store, docs in ordered.items():
            await self._settle(store, docs, refused)
        sent = sum(len(fs) for _, doc, fs in pending if doc["_id"] not in refused)
        if sent:
            self._metrics.events_published.labels(self._metrics.service, self.topic).inc(sent)
        return len(pending)

    async def _settle(self, store: str, docs: Sequence[Document], refused: Mapping[str, str]) -> None:
        operations = []
        for doc in docs:
            update: Document = {PENDING: False}
            if doc["_id"] in refused:
                update[SET_ASIDE] = {"reason": refused[doc["_id"]], "at": datetime.now(UTC)}
                self._metrics.outbox_set_aside.labels(self._metrics.service, "refused_by_broker").inc()
                log.error(
                    "outbox entry set aside: the broker refuses it for good",
                    journal_id=doc["_id"],
                    reason=refused[doc["_id"]],
                )
            operations.append(UpdateOne({"_id": doc["_id"]}, {"$set": update}))
        for start in range(0, len(operations), SETTLE_CHUNK):
            await _bulk_update(self._db[journal_of(store)], operations[start : start + SETTLE_CHUNK])


async def _bulk_update(collection: AsyncCollection[Document], operations: list[UpdateOne]) -> None:
    # Idempotent updates: a busy refusal (or a partial bulk) is simply sent again.
    await retry_when_busy(lambda: collection.bulk_write(operations, ordered=False))


async def _as_written(doc: Document) -> Document:
    return doc


async def _bounded_gather(awaitables: Iterable[Awaitable[T]], limit: int = 16) -> list[T]:
    slots = asyncio.Semaphore(limit)

    async def one(awaitable: Awaitable[T]) -> T:
        async with slots:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))
