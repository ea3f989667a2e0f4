"""Append-only, hash-chained audit trail.

Each record holds the SHA-256 of its own canonical JSON plus the previous record's
hash, so editing, deleting or reordering any record breaks the chain at that point
and ``verify`` names it. Records are appended by the outbox relay from entries that
were written atomically with the state change they describe, so no change goes
unaudited after a crash; ``entry_id`` is unique, so a replay appends nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from alliance_shared.persistence.mongo import Document, IndexSpec

AUDIT_COLLECTION = "audit_trail"
GENESIS_HASH = "0" * 64

AUDIT_INDEXES = (
    IndexSpec(AUDIT_COLLECTION, (("seq", ASCENDING),), unique=True),
    IndexSpec(AUDIT_COLLECTION, (("entry_id", ASCENDING),), unique=True),
    IndexSpec(AUDIT_COLLECTION, (("entity", ASCENDING), ("entity_id", ASCENDING))),
)


def to_plain_json(value: Any) -> Any:
    """Normalise to JSON values so what we hash is exactly what we store and read back."""
    return json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def record_hash(record: Document) -> str:
    body = {k: v for k, v in record.items() if k not in ("_id", "hash")}
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

    async def append(self, entry: Document) -> bool:
        """Append one entry (from an outbox); False when its entry_id is already in the chain."""
        if await self._collection.find_one({"entry_id": entry["entry_id"]}, {"_id": 1}):
            return False
        while True:
            head = await self._collection.find_one({}, sort=[("seq", DESCENDING)])
            record: Document = {
                "seq": (head["seq"] + 1) if head else 1,
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
                "prev_hash": head["hash"] if head else GENESIS_HASH,
            }
            record["hash"] = record_hash(record)
            try:
                await self._collection.insert_one(record)
                return True
            except DuplicateKeyError as exc:
                if "entry_id" in str(exc):
                    return False
                # another writer took this seq: read the new head and chain onto it

    async def verify(self) -> list[ChainBreak]:
        """Recompute the chain; an empty list means intact."""
        breaks: list[ChainBreak] = []
        expected_prev, expected_seq = GENESIS_HASH, 1
        async for record in self._collection.find({}, sort=[("seq", ASCENDING)]):
            seq = int(record["seq"])
            if seq != expected_seq:
                breaks.append(ChainBreak(seq, f"expected seq {expected_seq}: a record is missing"))
            if record["prev_hash"] != expected_prev:
                breaks.append(ChainBreak(seq, "prev_hash does not match the previous record"))
            if record_hash(record) != record["hash"]:
                breaks.append(ChainBreak(seq, "content does not match its hash: edited"))
            expected_prev, expected_seq = record["hash"], seq + 1
        return breaks

    async def history(self, entity: str, entity_id: str, limit: int = 100) -> list[Document]:
        cursor = self._collection.find(
            {"entity": entity, "entity_id": entity_id}, {"_id": 0}, sort=[("seq", ASCENDING)]
        ).limit(limit)
        return [doc async for doc in cursor]
