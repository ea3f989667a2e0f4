"""Versioned aggregates with a built-in outbox, safe without transactions (DESIGN.md §3).

Every state change of an aggregate is ONE insert of a new, immutable version document
into ``<name>_journal``: ``{_id: "<aggregate id>#<version>", ...state, _outbox: [...]}``,
carrying the full new state, the events announcing it and its audit entry. The unique
``_id`` is the optimistic-concurrency guard: of two writers of version N+1 exactly one
insert succeeds, the other gets a version conflict. The unique ``_dedupe_key`` makes a
consumed event (or a caller-supplied operation id) apply at most once. The journal is
the aggregate's history; ``<name>`` holds one "current" document per aggregate for
queries, refreshed after each insert and settled by the relay.

Why inserts and not conditional updates: the local MongoDB-wire server (FerretDB v1,
SQLite) runs updates as read-modify-write without isolation — two concurrent
``update_one({version: 1}, ...)`` both succeed and ``$inc`` loses increments (measured,
docs/architecture.md) — while unique indexes hold. And it only uses an index for
``_id`` equality, so every hot path here is an ``_id`` point lookup: loading walks
forward from the current document's version through journal ids.

The relay publishes the entries of every version still ``_pending``, then updates the
current document and clears the flag. A crash anywhere republishes at worst
(consumers dedupe by event id) and never loses an entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance_shared import context
from alliance_shared.audit import AuditTrail, to_plain_json
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.errors import Conflict, PreconditionFailed
from alliance_shared.logging import get_logger
from alliance_shared.metrics import Metrics
from alliance_shared.persistence.mongo import Document, IndexSpec, retry_when_busy

AGGREGATE_ID = "_aggregate_id"
VERSION = "_version"
PENDING = "_pending"
OUTBOX = "_outbox"
DEDUPE_KEY = "_dedupe_key"
WRITTEN_AT = "_written_at"
JOURNAL_SUFFIX = "_journal"

log = get_logger(__name__)
T = TypeVar("T")

#: Called after a journal insert with (store name, journal document id).
WriteListener = Callable[[str, str], None]


def journal_of(name: str) -> str:
    return name + JOURNAL_SUFFIX


def versioned_indexes(name: str) -> list[IndexSpec]:
    journal = journal_of(name)
    return [
        IndexSpec(journal, ((AGGREGATE_ID, ASCENDING), (VERSION, ASCENDING)), unique=True),
        IndexSpec(journal, ((DEDUPE_KEY, ASCENDING),), unique=True),
        IndexSpec(journal, ((PENDING, ASCENDING),)),
    ]


def version_id(aggregate_id: str, version: int) -> str:
    return f"{aggregate_id}#{version:09d}"


@dataclass(frozen=True)
class Snapshot:
    """One version of an aggregate: its state (no ``_`` fields) and version number."""

    aggregate_id: str
    version: int
    state: dict[str, Any]
    written_at: datetime


def snapshot_of(doc: Document) -> Snapshot:
    return Snapshot(
        aggregate_id=doc[AGGREGATE_ID],
        version=int(doc[VERSION]),
        state={k: v for k, v in doc.items() if not k.startswith("_")},
        written_at=doc[WRITTEN_AT],
    )


def current_document(journal_doc: Document) -> Document:
    """The query-side copy of a version: state plus id, version and time."""
    doc = {k: v for k, v in journal_doc.items() if not k.startswith("_")}
    doc.update(
        {
            "_id": journal_doc[AGGREGATE_ID],
            AGGREGATE_ID: journal_doc[AGGREGATE_ID],
            VERSION: journal_doc[VERSION],
            WRITTEN_AT: journal_doc[WRITTEN_AT],
        }
    )
    return doc


async def refresh_current(current: AsyncCollection[Document], journal_doc: Document) -> None:
    """Make the current document show this version unless it already shows a newer one.

    The version check is done here rather than in the filter: any filter beyond ``_id``
    makes the local server scan the whole collection. Two first writers may race to
    insert the current document (upserts are not atomic there): the loser looks again.
    """
    for _ in range(5):
        shown = await current.find_one({"_id": journal_doc[AGGREGATE_ID]}, {VERSION: 1})
        if shown is not None and int(shown[VERSION]) >= int(journal_doc[VERSION]):
            return
        try:
            await retry_when_busy(
                lambda: current.replace_one(
                    {"_id": journal_doc[AGGREGATE_ID]}, current_document(journal_doc), upsert=True
                )
            )
            return
        except DuplicateKeyError:
            continue
    log.warning("current document not refreshed; the relay will settle it", aggregate=journal_doc[AGGREGATE_ID])


@dataclass(frozen=True)
class AuditNote:
    """What the audit trail records about a change: who is taken from the context."""

    action: str
    entity: str
    entity_id: str
    before: Any = None
    after: Any = None


def build_entries(source: str, events: Sequence[EventPayload], audit: AuditNote | None) -> list[Document]:
    entries: list[Document] = [{"kind": "event", "event": CloudEvent.wrap(e, source).to_document()} for e in events]
    if audit is not None:
        ctx = context.current()
        entries.append(
            {
                "kind": "audit",
                "audit": {
                    "entry_id": str(uuid.uuid4()),
                    "at": datetime.now(UTC).isoformat(),
                    "actor_id": ctx.actor_id,
                    "actor_role": ctx.actor_role,
                    "action": audit.action,
                    "entity": audit.entity,
                    "entity_id": audit.entity_id,
                    "before": to_plain_json(audit.before),
                    "after": to_plain_json(audit.after),
                    "correlation_id": ctx.correlation_id,
                },
            }
        )
    return entries


class VersionedStore:
    """Loads and saves one kind of aggregate as a journal of immutable versions."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        name: str,
        source: str,
        on_written: WriteListener = lambda name, doc_id: None,
    ) -> None:
        self.name = name
        self.current = db[name]
        self.journal = db[journal_of(name)]
        self._source = source
        self._on_written = on_written

    async def load(self, aggregate_id: str) -> Snapshot | None:
        head = await self.current.find_one({"_id": aggregate_id})
        version = int(head[VERSION]) if head else 0
        newest: Document | None = None
        while (doc := await self.journal.find_one({"_id": version_id(aggregate_id, version + 1)})) is not None:
            newest, version = doc, version + 1
        if newest is not None:
            return snapshot_of(newest)
        return snapshot_of(head) if head else None

    async def history(self, aggregate_id: str) -> list[Snapshot]:
        cursor = self.journal.find({AGGREGATE_ID: aggregate_id}, sort=[(VERSION, ASCENDING)])
        return [snapshot_of(doc) async for doc in cursor]

    async def find(
        self, query: Mapping[str, Any], *, sort: Sequence[tuple[str, int]] = (("_id", ASCENDING),), limit: int = 0
    ) -> list[Snapshot]:
        """Current versions matching ``query`` (on state fields); eventually consistent."""
        cursor = self.current.find(dict(query), sort=list(sort))
        if limit:
            cursor = cursor.limit(limit)
        return [snapshot_of(doc) async for doc in cursor]

    async def create(
        self,
        aggregate_id: str,
        state: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        audit: AuditNote | None = None,
        *,
        caused_by: str | None = None,
    ) -> int | None:
        """Write version 1; Conflict if the aggregate exists (None if ``caused_by`` was applied)."""
        try:
            return await self.save(aggregate_id, 0, state, events, audit, caused_by=caused_by)
        except PreconditionFailed as exc:
            raise Conflict("aggregate.exists", f"{aggregate_id} already exists") from exc

    async def save(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        audit: AuditNote | None = None,
        *,
        caused_by: str | None = None,
    ) -> int | None:
        """Write version ``expected_version + 1`` with its events and audit entry atomically.

        ``caused_by`` (an event id, or a caller-supplied operation id) is applied at most
        once per aggregate: a repeat returns None and writes nothing. A version someone
        else wrote first raises PreconditionFailed (HTTP 412; consumers reload and retry).
        """
        if any(key.startswith("_") for key in state):
            raise ValueError("state fields must not start with '_' (reserved for the store)")
        version = expected_version + 1
        doc_id = version_id(aggregate_id, version)
        dedupe_key = f"{aggregate_id}|{caused_by}" if caused_by else doc_id
        doc: Document = {
            **state,
            "_id": doc_id,
            AGGREGATE_ID: aggregate_id,
            VERSION: version,
            PENDING: True,
            DEDUPE_KEY: dedupe_key,
            WRITTEN_AT: datetime.now(UTC),
            OUTBOX: build_entries(self._source, events, audit),
        }
        try:
            await retry_when_busy(lambda: self.journal.insert_one(doc))
        except DuplicateKeyError:
            # Only `_id` lookups that find a document are cheap on the local server (a miss,
            # or a filter on any other field, scans the journal). If the version id is free,
            # only the dedupe key can have refused the insert: the change was applied before.
            # If both hold, the conflict wins; the caller's retry on the newer version then
            # meets the dedupe key alone, so nothing is applied twice either way.
            if caused_by and await self.journal.find_one({"_id": doc_id}, {"_id": 1}) is None:
                return None
            head = await self.current.find_one({"_id": aggregate_id}, {VERSION: 1})
            shown = max(int(head[VERSION]) if head else 0, version)
            raise PreconditionFailed(
                "aggregate.version_conflict",
                f"{aggregate_id} was changed meanwhile (it is at version {shown} or later, "
                f"the change was based on {expected_version})",
                current_version=shown,
            ) from None
        await refresh_current(self.current, doc)
        self._on_written(self.name, doc_id)
        return version


class OutboxRelay:
    """Publishes pending journal entries to Kafka and appends audit entries to the chain.

    Fast path: the stores of this process tell the relay which journal documents they
    wrote, and it fetches just those by ``_id``. Safety net: at start and every
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
        self._written: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._stopping = False

    def attach_producer(self, producer: AIOKafkaProducer) -> None:
        """aiokafka producers must be made inside the event loop, so they come at start."""
        self._producer = producer

    def notify(self, store: str, doc_id: str) -> None:
        self._written.append((store, doc_id))
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
                self._db[journal_of(store)].find_one({"_id": doc_id}) for store, doc_id in batch
            )
            by_store: dict[str, list[Document]] = {}
            for (store, _), doc in zip(batch, docs, strict=True):
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
            while docs := await self._db[journal_of(store)].find({PENDING: True}).limit(self._batch_size).to_list():
                handled += await self._publish({store: docs}, refresh_current_docs=True)
        self._metrics.outbox_backlog.labels(self._metrics.service).set(0)
        return handled

    async def backlog(self) -> int:
        total = 0
        for store in self._stores:
            total += await self._db[journal_of(store)].count_documents({PENDING: True})
        self._metrics.outbox_backlog.labels(self._metrics.service).set(total)
        return total

    async def _publish(self, by_store: dict[str, list[Document]], *, refresh_current_docs: bool) -> int:
        sends = []
        audit_entries: list[Document] = []
        ordered = {store: sorted(docs, key=lambda d: (d[AGGREGATE_ID], d[VERSION])) for store, docs in by_store.items()}
        for docs in ordered.values():
            for doc in docs:
                for entry in doc.get(OUTBOX, []):
                    if entry["kind"] == "event":
                        key, value, headers = to_kafka(CloudEvent.from_document(entry["event"]))
                        assert self._producer is not None, "attach_producer() before publishing"
                        sends.append(await self._producer.send(self.topic, value=value, key=key, headers=headers))
                    else:
                        audit_entries.append(entry["audit"])
        await asyncio.gather(*sends)
        for audit_entry in audit_entries:
            await self._audit.append(audit_entry)

        async def settle(store: str, doc: Document) -> None:
            if refresh_current_docs:
                await refresh_current(self._db[store], doc)
            # A busy refusal wrote nothing; retrying here spares the whole pass (already published).
            await retry_when_busy(
                lambda: self._db[journal_of(store)].update_one({"_id": doc["_id"]}, {"$set": {PENDING: False}})
            )

        settled = await _bounded_gather(settle(store, doc) for store, docs in ordered.items() for doc in docs)
        handled = len(settled)
        if sends:
            self._metrics.events_published.labels(self._metrics.service, self.topic).inc(len(sends))
        return handled


async def _bounded_gather(awaitables: Iterable[Awaitable[T]], limit: int = 16) -> list[T]:
    slots = asyncio.Semaphore(limit)

    async def one(awaitable: Awaitable[T]) -> T:
        async with slots:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))


@dataclass(frozen=True)
class Change:
    """What a decision writes: the aggregate's new state, its events and its audit note."""

    state: Mapping[str, Any]
    events: Sequence[EventPayload] = ()
    audit: AuditNote | None = None


async def change_with_retry(
    store: VersionedStore,
    aggregate_id: str,
    decide: Callable[[Snapshot | None], Change | None],
    *,
    caused_by: str | None = None,
    attempts: int = 20,
) -> int | None:
    """Load, decide, save; on a version conflict load again and decide again.

    For consumers and internal steps, where a concurrent writer is no reason to fail
    (HTTP updates with If-Match answer 412 instead). ``decide`` returns None when there
    is nothing to write. Returns the new version, or None if nothing was written.
    """
    for _ in range(attempts):
        current = await store.load(aggregate_id)
        change = decide(current)
        if change is None:
            return None
        try:
            return await store.save(
                aggregate_id,
                current.version if current else 0,
                change.state,
                change.events,
                change.audit,
                caused_by=caused_by,
            )
        except PreconditionFailed:
            await asyncio.sleep(0.01)
    raise PreconditionFailed("aggregate.contended", f"{aggregate_id} kept changing; gave up after {attempts} tries")
