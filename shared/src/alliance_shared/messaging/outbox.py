"""Versioned aggregates with a built-in outbox, safe without transactions (DESIGN.md §3).

Every state change of an aggregate is ONE insert of a new, immutable version document
``{_id: "<aggregate id>#<version>", _aggregate_id, _version, ...state, _outbox: [...]}``
that carries the full new state, the events announcing it and its audit entry. The
unique ``_id`` is the optimistic-concurrency guard: of two writers of version N+1,
exactly one insert succeeds; the other gets a version conflict. The unique
``_dedupe_key`` makes a consumed event apply at most once. The versions of an
aggregate are its journal; ``_latest`` marks the current one for queries.

Why inserts and not conditional updates: the local MongoDB-wire server (FerretDB v1)
runs updates as read-modify-write without isolation — two concurrent
``update_one({version: 1}, ...)`` both succeed and ``$inc`` loses increments (measured,
see docs/architecture.md) — while its unique indexes do hold under concurrency. An
insert is atomic and race-free on MongoDB and FerretDB alike.

The relay publishes the entries of every version still ``_pending``, then clears the
flag and the ``_latest`` flag of older versions. A crash anywhere republishes at worst
(duplicates on the wire are allowed; consumers dedupe by event id) and never loses one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import ASCENDING, DESCENDING
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
from alliance_shared.persistence.mongo import Document, IndexSpec

AGGREGATE_ID = "_aggregate_id"
VERSION = "_version"
LATEST = "_latest"
PENDING = "_pending"
OUTBOX = "_outbox"
DEDUPE_KEY = "_dedupe_key"
WRITTEN_AT = "_written_at"

log = get_logger(__name__)


def versioned_indexes(collection: str) -> list[IndexSpec]:
    return [
        IndexSpec(collection, ((AGGREGATE_ID, ASCENDING), (VERSION, ASCENDING)), unique=True),
        IndexSpec(collection, ((DEDUPE_KEY, ASCENDING),), unique=True),
        IndexSpec(collection, ((PENDING, ASCENDING),)),
        IndexSpec(collection, ((LATEST, ASCENDING),)),
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
        collection: AsyncCollection[Document],
        source: str,
        on_written: Callable[[], None] = lambda: None,
    ) -> None:
        self.collection = collection
        self._source = source
        self._on_written = on_written

    async def load(self, aggregate_id: str) -> Snapshot | None:
        doc = await self.collection.find_one({AGGREGATE_ID: aggregate_id}, sort=[(VERSION, DESCENDING)])
        return snapshot_of(doc) if doc else None

    async def history(self, aggregate_id: str) -> list[Snapshot]:
        cursor = self.collection.find({AGGREGATE_ID: aggregate_id}, sort=[(VERSION, ASCENDING)])
        return [snapshot_of(doc) async for doc in cursor]

    async def find(
        self, query: Mapping[str, Any], *, sort: Sequence[tuple[str, int]] = (("_id", ASCENDING),), limit: int = 0
    ) -> list[Snapshot]:
        """Current versions matching ``query`` (on state fields)."""
        cursor = self.collection.find({**query, LATEST: True}, sort=list(sort))
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
            "_id": doc_id,
            AGGREGATE_ID: aggregate_id,
            VERSION: version,
            LATEST: True,
            PENDING: True,
            DEDUPE_KEY: dedupe_key,
            WRITTEN_AT: datetime.now(UTC),
            OUTBOX: build_entries(self._source, events, audit),
            **state,
        }
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            if caused_by and await self.collection.find_one({DEDUPE_KEY: dedupe_key}, {"_id": 1}):
                return None
            current = await self.load(aggregate_id)
            raise PreconditionFailed(
                "aggregate.version_conflict",
                f"{aggregate_id} was changed by someone else (now at version "
                f"{current.version if current else 0}, you had {expected_version})",
                current_version=current.version if current else 0,
            ) from None
        if expected_version:
            await self.collection.update_one(
                {"_id": version_id(aggregate_id, expected_version)}, {"$set": {LATEST: False}}
            )
        self._on_written()
        return version


class OutboxRelay:
    """Publishes pending outbox entries to Kafka and appends audit entries to the chain."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        collections: Sequence[str],
        producer: AIOKafkaProducer,
        topic: str,
        audit: AuditTrail,
        metrics: Metrics,
        poll_seconds: float = 1.0,
        batch_size: int = 200,
    ) -> None:
        self._db = db
        self._collections = list(collections)
        self._producer = producer
        self._topic = topic
        self._audit = audit
        self._metrics = metrics
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False

    def notify(self) -> None:
        """Called after a local write so the relay publishes now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        backoff = self._poll_seconds
        while not self._stopping:
            try:
                published = await self.drain()
                backoff = self._poll_seconds
                if published:
                    continue  # there may be more: loop without waiting
            except Exception:
                log.warning("outbox relay pass failed; retrying", exc_info=True)
                backoff = min(backoff * 2, 30.0)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            self._wake.clear()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def backlog(self) -> int:
        total = 0
        for name in self._collections:
            total += await self._db[name].count_documents({PENDING: True})
        self._metrics.outbox_backlog.labels(self._metrics.service).set(total)
        return total

    async def drain(self) -> int:
        """One pass over every versioned collection; returns how many entries it handled."""
        handled = 0
        for name in self._collections:
            handled += await self._drain_collection(self._db[name])
        await self.backlog()
        return handled

    async def _drain_collection(self, collection: AsyncCollection[Document]) -> int:
        # Sorted so one aggregate's versions go out in order, on one partition (its key).
        docs = (
            await collection.find({PENDING: True}, {OUTBOX: 1, AGGREGATE_ID: 1, VERSION: 1})
            .sort([(AGGREGATE_ID, ASCENDING), (VERSION, ASCENDING)])
            .limit(self._batch_size)
            .to_list()
        )
        if not docs:
            return 0
        sends = []
        audit_entries: list[Document] = []
        for doc in docs:
            for entry in doc.get(OUTBOX, []):
                if entry["kind"] == "event":
                    key, value, headers = to_kafka(CloudEvent.from_document(entry["event"]))
                    sends.append(await self._producer.send(self._topic, value=value, key=key, headers=headers))
                else:
                    audit_entries.append(entry["audit"])
        await asyncio.gather(*sends)
        for audit_entry in audit_entries:
            await self._audit.append(audit_entry)
        for doc in docs:
            # A writer that crashed between its insert and un-flagging the older version
            # left two "latest" versions: settle that here.
            await collection.update_many(
                {AGGREGATE_ID: doc[AGGREGATE_ID], VERSION: {"$lt": doc[VERSION]}, LATEST: True},
                {"$set": {LATEST: False}},
            )
            await collection.update_one({"_id": doc["_id"]}, {"$set": {PENDING: False}})
        if sends:
            self._metrics.events_published.labels(self._metrics.service, self._topic).inc(len(sends))
        return len(docs)
