"""Append-only, hash-chained audit trail.

Each record holds the SHA-256 of its own canonical JSON plus the previous record's
hash, so editing, deleting or reordering any record breaks the chain at that point
and ``verify`` names it. Records are appended by the outbox relay from entries that
were written atomically with the state change they describe, so no change goes
unaudited after a crash; ``entry_id`` is unique, so a replay appends nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from alliance_shared.persistence.mongo import Document, IndexSpec

AUDIT_COLLECTION = "audit_trail"
GENESIS_HASH = "0" * 64
DUPLICATE_KEY = 11000

#: ``_id`` is the sequence number (the local server only uses an index for ``_id``).
#: ``records`` filters by entity, entity id or both and pages in sequence order.
AUDIT_INDEXES = (
    IndexSpec(AUDIT_COLLECTION, (("entry_id", ASCENDING),), unique=True),
    IndexSpec(AUDIT_COLLECTION, (("entity", ASCENDING), ("entity_id", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(AUDIT_COLLECTION, (("entity", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(AUDIT_COLLECTION, (("entity_id", ASCENDING), ("_id", ASCENDING))),
)


def to_plain_json(value: Any) -> Any:
    """Normalise to JSON values so what we hash is exactly what we store and read back."""
    return json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def record_hash(record: Document) -> str:
    body = {("seq" if k == "_id" else k): v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


class AuditTrail:
    def __init__(self, collection: AsyncCollection[Document], service: str) -> None:
        self._collection = collection
        self._service = service
        self._next_seq: int | None = None
        self._last_hash = GENESIS_HASH
        self._lock = asyncio.Lock()

    async def append_many(self, entries: Sequence[Document]) -> int:
        """Append entries in order, chained in memory and written one record per insert;
        those whose entry_id is in the chain already are skipped. Returns how many were
        appended. The newest record's hash is kept, so while this process is the only
        writer appending reads nothing.

        One record per command: the local server does not apply a many-record ordered insert
        as a unit, and one cut short by a killed writer (still running on the server while
        the restarted service appended) left a gap in the chain
        (tests/system/test_ingestion_batch_crash.py); a single record lands whole or not."""
        appended = 0
        pending = list(entries)
        async with self._lock:
            while pending:
                await self._load_head()
                records = self._chain(pending[:1])
                try:
                    await self._collection.insert_many(records, ordered=True)
                except BulkWriteError as exc:
                    if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                        raise
                    # Ordered: the records before the refused one are in.
                    done = int(exc.details.get("nInserted", 0))
                    if done:
                        self._next_seq, self._last_hash = records[done - 1]["_id"] + 1, records[done - 1]["hash"]
                    appended += done
                    pending = await self._not_in_chain(pending[done:])
                    continue
                self._next_seq, self._last_hash = records[-1]["_id"] + 1, records[-1]["hash"]
                appended += len(records)
                pending = pending[len(records) :]
        return appended

    async def _not_in_chain(self, entries: list[Document]) -> list[Document]:
        """After a refused insert: the entries not appended before (a replay). If all are new,
        another writer took the sequence number: read the head again."""
        ids = [entry["entry_id"] for entry in entries]
        cursor = self._collection.find({"entry_id": {"$in": ids}}, {"entry_id": 1})
        present = {doc["entry_id"] async for doc in cursor}
        if not present:
            self._next_seq = None
        return [entry for entry in entries if entry["entry_id"] not in present]

    async def _load_head(self) -> None:
        if self._next_seq is None:
            head = await self._collection.find_one({}, sort=[("_id", DESCENDING)])
            self._next_seq = (int(head["_id"]) + 1) if head else 1
            self._last_hash = head["hash"] if head else GENESIS_HASH

    def _chain(self, entries: Sequence[Document]) -> list[Document]:
        assert self._next_seq is not None
        records: list[Document] = []
        previous_hash = self._last_hash
        for offset, entry in enumerate(entries):
            record = self._record(self._next_seq + offset, entry, previous_hash)
            records.append(record)
            previous_hash = record["hash"]
        return records

    def _record(self, seq: int, entry: Document, prev_hash: str) -> Document:
        record: Document = {
            "_id": seq,
            "entry_id": entry["entry_id"],
            "service": self._service,
            "at": entry["at"],
            "actor_id": entry.get("actor_id"),
            "actor_role": entry.get("actor_role"),
            "action": entry["action"],
            "entity": entry["entity"],
            "entity_id": entry["entity_id"],
            "before": entry.get("before"),
            "after": entry.get("after"),
            "correlation_id": entry.get("correlation_id"),
            "prev_hash": prev_hash,
        }
        record["hash"] = record_hash(record)
        return record

    async def verify(self) -> list[ChainBreak]:
        """Recompute the chain; an empty list means intact."""
        breaks: list[ChainBreak] = []
        expected_prev, expected_seq = GENESIS_HASH, 1
        async for record in self._collection.find({}, sort=[("_id", ASCENDING)]):
            seq = int(record["_id"])
            if seq != expected_seq:
                breaks.append(ChainBreak(seq, f"expected seq {expected_seq}: a record is missing"))
            if record["prev_hash"] != expected_prev:
                breaks.append(ChainBreak(seq, "prev_hash does not match the previous record"))
            if record_hash(record) != record["hash"]:
                breaks.append(ChainBreak(seq, "content does not match its hash: edited"))
            expected_prev, expected_seq = record["hash"], seq + 1
        return breaks

    async def head(self) -> Document | None:
        """The newest record (the one an anchor names)."""
        return await self._collection.find_one({}, sort=[("_id", DESCENDING)])

    async def record(self, seq: int) -> Document | None:
        return await self._collection.find_one({"_id": seq})

    async def records(
        self, *, entity: str | None = None, entity_id: str | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[Document]:
        """Records in chain order after ``after_seq``, of one entity when named."""
        query: Document = {"_id": {"$gt": after_seq}}
        if entity is not None:
            query["entity"] = entity
        if entity_id is not None:
            query["entity_id"] = entity_id
        cursor = self._collection.find(query, sort=[("_id", ASCENDING)]).limit(limit)
        return [doc async for doc in cursor]

    async def check_anchor(self, seq: int, anchored_hash: str) -> ChainBreak | None:
        """An anchor published earlier must still match its record: a truncated or
        re-hashed trail no longer does."""
        record = await self.record(seq)
        if record is None:
            return ChainBreak(seq, "an anchored record is missing: the trail was truncated")
        if record["hash"] != anchored_hash:
            return ChainBreak(seq, "an anchored record's hash changed: the trail was rewritten")
        return None

    async def history(self, entity: str, entity_id: str, limit: int = 100) -> list[Document]:
        cursor = self._collection.find({"entity": entity, "entity_id": entity_id}, sort=[("_id", ASCENDING)])
        return [doc async for doc in cursor.limit(limit)]
