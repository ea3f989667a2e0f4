"""The registry on MongoDB: the indexes of its list queries and the credit-code claims.

``credit_codes`` holds ``{_id: <code>, partner_id, claimed_at}``: the primary key's
unique index is what refuses a second holder, and it holds under concurrency on the
local MongoDB-wire server too (docs/architecture.md), where conditional updates do not.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from alliance_registry.service.ports import CreditCodeClaim
from alliance_registry.service.repositories import AGREEMENTS, CERTIFICATIONS, INCENTIVES, PARTNERS
from alliance_shared.persistence.mongo import Document, IndexSpec, retry_when_busy

CREDIT_CODES = "credit_codes"

INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(PARTNERS, (("kind", ASCENDING),)),
    IndexSpec(AGREEMENTS, (("status", ASCENDING),)),
    IndexSpec(CERTIFICATIONS, (("partner_id", ASCENDING),)),
    # The incentive register's filters: enterprise (with status: revocation's sweep), kind, agency.
    IndexSpec(INCENTIVES, (("partner_id", ASCENDING), ("status", ASCENDING))),
    IndexSpec(INCENTIVES, (("kind", ASCENDING),)),
    IndexSpec(INCENTIVES, (("agency_id", ASCENDING),)),
    IndexSpec(INCENTIVES, (("status", ASCENDING),)),
)


class MongoCreditCodeClaims:
    """``CreditCodeClaims`` on a collection keyed by the code."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def insert(self, claim: CreditCodeClaim) -> bool:
        document = {"_id": claim.code, "partner_id": claim.partner_id, "claimed_at": claim.claimed_at}
        try:
            await retry_when_busy(lambda: self._collection.insert_one(document))
        except DuplicateKeyError:
            return False
        return True

    async def holder(self, code: str) -> CreditCodeClaim | None:
        found = await self._collection.find_one({"_id": code})
        return None if found is None else CreditCodeClaim(code, found["partner_id"], found["claimed_at"])

    async def release(self, code: str, partner_id: str) -> None:
        await retry_when_busy(lambda: self._collection.delete_one({"_id": code, "partner_id": partner_id}))
