"""The outbox relay: publishes what the versioned stores wrote, and feeds the audit chain.

Journal versions are immutable after their insert. The relay publishes a version's
entries, appends its audit entry, refreshes the current document, and then records the
version as settled by an INSERT of ``{_id: <version id>, at}`` into ``<store>_settled``
(``set_aside: {reason, at}`` when the broker refuses it for good). Settling never updates
the journal: on the local engine every update by ``_id`` scans its collection, while an
insert only maintains the unique index. A crash anywhere republishes at worst (consumers
dedupe by event id, the audit trail by entry id) and never loses an entry.

It works in batches: every version in hand is sent at once, the producer is flushed once
(all delivery reports awaited together), and the settled records go in one unordered
insert per store (duplicates: settled before, skipped). A version the broker refuses for
good is set aside alone.

Crash recovery without a per-version flag: a scan reads the versions written since the
store's horizon (less a margin, ``late_write_margin``), subtracts those settled, and
publishes the rest; then it moves the horizon up to the time before which everything is
settled. The horizon is one small document per store in ``outbox_relay_state``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance_shared.audit import AuditTrail
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.logging import get_logger
from alliance_shared.messaging.kafka import REFUSED_RECORD_ERRORS
from alliance_shared.metrics import Metrics
from alliance_shared.persistence.mongo import BUSY_ATTEMPTS, Document, insert_unordered, retry_when_busy
from alliance_shared.persistence.versioned_store import (
    AGGREGATE_ID,
    OUTBOX,
    SETTLED_AT,
    VERSION,
    WRITTEN_AT,
    journal_of,
    refresh_current,
    settled_of,
)

log = get_logger(__name__)
T = TypeVar("T")

#: One document per store: ``{_id: <store>, horizon: <datetime>}``.
RELAY_STATE = "outbox_relay_state"
HORIZON = "horizon"
#: The horizon of a store the relay has never scanned: every version is read.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How far an idle scan lets the stored horizon lag (it only widens the next scan's window).
HORIZON_STEP = timedelta(minutes=1)
#: On a settled record of a version whose events were refused for good: why and when.
SET_ASIDE = "set_aside"

#: How far the clocks of two replicas may disagree (NTP keeps them far closer): a version's
#: ``_written_at`` is the writer's clock, the horizon and settled records the relay's.
CLOCK_SKEW = timedelta(seconds=30)


def late_write_margin(operation_timeout_ms: int) -> timedelta:
    """How long after its ``_written_at`` a journal version may still land in the journal.

    The writer stamps the version, then inserts it: a busy refusal is sent again up to
    ``BUSY_ATTEMPTS`` times, each attempt bounded by the operation timeout. A version that
    lands later than the scan that moved the horizon past it would never be scanned, so the
    scan looks back this far, plus the clock skew between writer and relay.
    """
    return timedelta(milliseconds=operation_timeout_ms) * BUSY_ATTEMPTS + CLOCK_SKEW


class OutboxRelay:
    """Publishes unsettled journal entries to Kafka and appends audit entries to the chain.

    Fast path: the stores of this process hand the relay each journal document they
    wrote, and it publishes them without reading them back. Safety net: at start and every
    ``scan_seconds`` it scans for anything unsettled since the horizon (a crashed writer,
    another replica's leftovers).
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
        late_write_margin: timedelta,
        scan_seconds: float = 10.0,
        batch_size: int = 500,
    ) -> None:
        self._db = db
        self._stores = list(stores)
        self._producer = producer
        self.topic = topic
        self._audit = audit
        self._metrics = metrics
        self._late_write_margin = late_write_margin
        self._scan_seconds = scan_seconds
        self._batch_size = batch_size
        self._written: list[tuple[str, str, Document | None]] = []
        self._found_by_scan = 0
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
                # A version another replica's scan settled meanwhile may be sent again: consumers dedupe.
                if doc is not None:
                    by_store.setdefault(store, []).append(doc)
            # The writer refreshed the current documents itself right after its insert.
            return await self._publish(by_store, refresh_current_docs=False)
        except BaseException:
            self._written = batch + self._written  # keep order: retry these first
            raise

    async def scan(self) -> int:
        """Publish every unsettled version written since each store's horizon (the
        crash-recovery path), then move the horizon up."""
        handled = 0
        self._found_by_scan = 0
        for store in self._stores:
            started = datetime.now(UTC)
            known = await self._horizon(store)
            unsettled = await self._unsettled(store, known)
            # What this process wrote and has queued is the fast path's: not published twice,
            # and the horizon stays before it until the fast path settles it.
            queued = {doc_id for queued_store, doc_id, _ in self._written if queued_store == store}
            horizon = min([started, *(written_at for doc_id, written_at in unsettled.items() if doc_id in queued)])
            ids = sorted(doc_id for doc_id in unsettled if doc_id not in queued)
            journal = self._db[journal_of(store)]
            self._found_by_scan += len(ids)
            for start in range(0, len(ids), self._batch_size):
                docs = await journal.find({"_id": {"$in": ids[start : start + self._batch_size]}}).to_list()
                handled += await self._publish({store: docs}, refresh_current_docs=True)
                self._found_by_scan -= len(ids[start : start + self._batch_size])
            # An idle scan moves it once per HORIZON_STEP: one write a minute, not one a scan.
            if known == EPOCH or ids or horizon - known >= HORIZON_STEP:
                await self._move_horizon(store, horizon)
        self.report_backlog()
        return handled

    def report_backlog(self) -> int:
        """Set the backlog gauge from what this process knows without reading: versions it
        wrote and has not published yet, and those its last scan found and has not yet
        published (a pass failing while Kafka is away keeps both up). Cheap enough for every
        scrape; ``backlog`` counts exactly, at two reads per store."""
        total = len(self._written) + self._found_by_scan
        self._metrics.outbox_backlog.labels(self._metrics.service).set(total)
        return total

    async def backlog(self) -> int:
        """The unsettled versions since every store's horizon, counted from the database."""
        total = 0
        for store in self._stores:
            total += len(await self._unsettled(store, await self._horizon(store)))
        self._metrics.outbox_backlog.labels(self._metrics.service).set(total)
        return total

    async def _horizon(self, store: str) -> datetime:
        state = await self._db[RELAY_STATE].find_one({"_id": store})
        return state[HORIZON] if state is not None else EPOCH

    async def _unsettled(self, store: str, horizon: datetime) -> dict[str, datetime]:
        """The versions written since ``horizon`` (less the late-write margin) that are not
        settled: id → ``_written_at``. Two reads of ids, whatever the backlog."""
        since = horizon - self._late_write_margin
        journal = self._db[journal_of(store)]
        written = {
            doc["_id"]: doc[WRITTEN_AT] async for doc in journal.find({WRITTEN_AT: {"$gte": since}}, {WRITTEN_AT: 1})
        }
        if not written:
            return {}
        # A version is settled after it was written, by a clock at most CLOCK_SKEW behind the
        # writer's: one range read finds every settled record of these versions (a record
        # missed would only mean a version sent again, never one lost).
        settled = self._db[settled_of(store)].find({SETTLED_AT: {"$gte": since - CLOCK_SKEW}}, {"_id": 1})
        async for doc in settled:
            written.pop(doc["_id"], None)
        return written

    async def _move_horizon(self, store: str, horizon: datetime) -> None:
        """Record that every version written before ``horizon`` is settled. Two replicas may
        race here; either value is true of the moment its scan began."""
        state = self._db[RELAY_STATE]
        # Not an atomic upsert on the local engine: a racing first insert is a duplicate, then set.
        with contextlib.suppress(DuplicateKeyError):
            await retry_when_busy(lambda: state.update_one({"_id": store}, {"$set": {HORIZON: horizon}}, upsert=True))
            return
        await retry_when_busy(lambda: state.update_one({"_id": store}, {"$set": {HORIZON: horizon}}))

    async def _publish(self, by_store: dict[str, list[Document]], *, refresh_current_docs: bool) -> int:
        """Send every entry, await their delivery together, append the audit entries,
        settle with one insert per store.

        A version whose events the broker refuses for good (too large, invalid) is set aside
        — recorded, counted and logged for ops (docs/runbook.md) — and the others go on.
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
        now = datetime.now(UTC)
        records: list[Document] = []
        for doc in docs:
            record: Document = {"_id": doc["_id"], SETTLED_AT: now}
            if doc["_id"] in refused:
                record[SET_ASIDE] = {"reason": refused[doc["_id"]], "at": now}
                self._metrics.outbox_set_aside.labels(self._metrics.service, "refused_by_broker").inc()
                log.error(
                    "outbox entry set aside: the broker refuses it for good",
                    journal_id=doc["_id"],
                    reason=refused[doc["_id"]],
                )
            records.append(record)
        # Refused as duplicates: settled before (a republish after a crash, another replica).
        await insert_unordered(self._db[settled_of(store)], records)


async def _as_written(doc: Document) -> Document:
    return doc


async def _bounded_gather(awaitables: Iterable[Awaitable[T]], limit: int = 16) -> list[T]:
    slots = asyncio.Semaphore(limit)

    async def one(awaitable: Awaitable[T]) -> T:
        async with slots:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))
