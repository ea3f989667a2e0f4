"""The due list on MongoDB (``delivery_due``) and the query-side indexes of the stores.

The only non-versioned collection: one small hint document per waiting delivery,
``{_id: delivery id, next_attempt_at}``. Upserts are not atomic on the local server
(FerretDB v1), so two first upserts may race: the loser looks again.
"""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance_notifications.domain.delivery import OPEN_STATES, Delivery
from alliance_notifications.service.repositories import (
    DELIVERIES,
    DIGEST_ENTRIES,
    ENDPOINTS,
    INBOX,
    REMINDERS,
)
from alliance_shared.persistence.mongo import Document, IndexSpec, retry_when_busy

DUE = "delivery_due"


def _by(collection: str, *fields: str) -> IndexSpec:
    """An index for equality on ``fields`` and pages in `_id` order."""
    return IndexSpec(collection, (*((f, ASCENDING) for f in fields), ("_id", ASCENDING)))


#: Query-side indexes (used by MongoDB; FerretDB v1 scans, which is fine at alliance scale),
#: checked against every query the service sends by tests/integration/shared/test_index_shapes.py.
INDEXES = (
    # GET /deliveries by each filter; the open deliveries the due list is rebuilt from
    _by(DELIVERIES, "status"),
    _by(DELIVERIES, "event_id"),
    _by(DELIVERIES, "recipient_id"),
    _by(DELIVERIES, "partner_id"),
    _by(DELIVERIES, "channel"),
    # the same newest first (the delivery log's ?order=newest), alone and after each filter
    *(
        IndexSpec(DELIVERIES, (*((f, ASCENDING) for f in fields), ("created_at", ASCENDING), ("_id", ASCENDING)))
        for fields in ((), ("status",), ("event_id",), ("recipient_id",), ("partner_id",), ("channel",))
    ),
    # GET /inbox newest first (unread only or all) and the unread count
    IndexSpec(INBOX, (("recipient_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(
        INBOX, (("recipient_id", ASCENDING), ("read_at", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING))
    ),
    _by(INBOX, "recipient_id", "read_at"),
    # the reminders due, in firing order; a scope's scheduled reminders
    IndexSpec(REMINDERS, (("status", ASCENDING), ("fire_at", ASCENDING))),
    _by(REMINDERS, "scope", "status"),
    _by(DIGEST_ENTRIES, "digest_id"),
    # a partner's webhooks; the endpoints still holding a rotated-out secret
    _by(ENDPOINTS, "partner_id"),
    IndexSpec(ENDPOINTS, (("previous_secret", ASCENDING),)),
    IndexSpec(DUE, (("next_attempt_at", ASCENDING),)),
)


class MongoDueList:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._due = db[DUE]

    async def sync(self, delivery: Delivery) -> None:
        if delivery.status in OPEN_STATES and delivery.next_attempt_at is not None:
            hint = {"_id": delivery.delivery_id, "next_attempt_at": delivery.next_attempt_at}
            for _ in range(3):
                try:
                    await retry_when_busy(
                        lambda: self._due.replace_one({"_id": delivery.delivery_id}, hint, upsert=True)
                    )
                    return
                except DuplicateKeyError:
                    continue
        else:
            await retry_when_busy(lambda: self._due.delete_one({"_id": delivery.delivery_id}))

    async def due_ids(self, now: datetime, limit: int = 1000) -> list[str]:
        cursor = self._due.find({"next_attempt_at": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [doc["_id"] async for doc in cursor]
