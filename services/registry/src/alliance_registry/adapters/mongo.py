"""The registry on MongoDB: the indexes of its list queries and the credit-code claims.

``credit_codes`` holds ``{_id: <code>, partner_id, claimed_at}``: the primary key's
unique index is what refuses a second holder, and it holds under concurrency on the
local MongoDB-wire server too (docs/architecture.md), where conditional updates do not.
Concurrent claims go in one unordered insert (group commit, as the store's own inserts):
the index refuses a taken code, or the second of two equal codes in one command, alone.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from alliance_registry.service.ports import CreditCodeClaim
from alliance_registry.service.repositories import (
    AGREEMENTS,
    CERTIFICATIONS,
    INCENTIVES,
    MEMBERSHIPS,
    PARTNERS,
)
from alliance_shared.persistence.mongo import Document, GroupInsert, IndexSpec, retry_when_busy

CREDIT_CODES = "credit_codes"

ID = (("_id", ASCENDING),)


def by_field(collection: str, *names: str) -> IndexSpec:
    """A list filtered by ``names`` (equality or ``$in``), in `_id` order (its cursor)."""
    return IndexSpec(collection, (*((name, ASCENDING) for name in names), *ID))


def in_id_order(collection: str, *ranges: str) -> IndexSpec:
    """A list in `_id` order bounded by ``ranges`` (a prefix regex, ``$nin``, a comparison)."""
    return IndexSpec(collection, (*ID, *((name, ASCENDING) for name in ranges)))


#: Every list and lookup of `service/queries.py` (and the schedule's sweeps) by the ESR rule:
#: equality fields, then the `_id` order every list and cursor uses, then range fields.
INDEXES: tuple[IndexSpec, ...] = (
    by_field(PARTNERS, "kind"),
    by_field(PARTNERS, "kind", "status"),  # matching's enterprises
    by_field(PARTNERS, "status"),
    by_field(PARTNERS, "q_region_prefixes"),
    by_field(PARTNERS, "partner_id"),  # certified=true, membership: the holders' ids
    in_id_order(PARTNERS, "sector_code"),
    in_id_order(PARTNERS, "partner_id"),  # certified=false: $nin the holders
    in_id_order(PARTNERS, "name_zh"),
    in_id_order(PARTNERS, "name_en"),
    by_field(AGREEMENTS, "status"),
    by_field(AGREEMENTS, "q_party_ids"),
    by_field(AGREEMENTS, "q_modes"),
    by_field(AGREEMENTS, "q_region_prefixes"),
    by_field(AGREEMENTS, "q_majors"),
    in_id_order(AGREEMENTS, "q_start", "q_end"),
    in_id_order(AGREEMENTS, "q_end"),
    by_field(MEMBERSHIPS, "status"),
    by_field(CERTIFICATIONS, "status"),
    by_field(CERTIFICATIONS, "partner_id"),
    # The incentive register's filters alone and with the enterprise or agency a reader is
    # bound to; enterprise with status is also revocation's sweep.
    *(by_field(INCENTIVES, name) for name in ("partner_id", "kind", "agency_id", "status")),
    *(by_field(INCENTIVES, bound, name) for bound in ("partner_id", "agency_id") for name in ("kind", "status")),
    by_field(INCENTIVES, "agency_id", "partner_id"),
)


class MongoCreditCodeClaims:
    """``CreditCodeClaims`` on a collection keyed by the code."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        # One SQLite transaction per claim on the local server queues writers behind each
        # other under load (measured: 300 registrations/s offered collapsed to 27/s).
        self._inserts = GroupInsert(collection)

    async def insert(self, claim: CreditCodeClaim) -> bool:
        document = {"_id": claim.code, "partner_id": claim.partner_id, "claimed_at": claim.claimed_at}
        try:
            await self._inserts.insert(document)
        except DuplicateKeyError:
            return False
        return True

    async def holder(self, code: str) -> CreditCodeClaim | None:
        found = await self._collection.find_one({"_id": code})
        return None if found is None else CreditCodeClaim(code, found["partner_id"], found["claimed_at"])

    async def release(self, code: str, partner_id: str) -> None:
        await retry_when_busy(lambda: self._collection.delete_one({"_id": code, "partner_id": partner_id}))
