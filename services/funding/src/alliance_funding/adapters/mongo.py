"""The funding service on MongoDB: an index for each field a scan of current documents
filters on (current documents live in the store's own collection). The local
MongoDB-wire server indexes nothing but ``_id`` (docs/architecture.md); these make the
difference on MongoDB."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from alliance_funding.domain.ledger import AppliedTransfer
from alliance_funding.service.ports import APPLICATIONS, AWARDS, STATEMENTS
from alliance_shared.persistence.mongo import Document, IndexSpec, insert_unordered

#: The ledger's transfer receipts (``MongoTransferReceipts``): found by ``_id`` only.
TRANSFER_RECEIPTS = "ledger_receipts"
#: Joins a receipt's programme and transfer id in its ``_id``; no programme id holds it.
RECEIPT_KEY_SEPARATOR = "|"

INDEXES: tuple[IndexSpec, ...] = (
    # an agreement's active awards (holds driven by registry and evaluation events)
    IndexSpec(AWARDS, (("agreement_id", ASCENDING), ("status", ASCENDING), ("_id", ASCENDING))),
    # a programme's awards (its closing releases their kept remainders)
    IndexSpec(AWARDS, (("programme_id", ASCENDING), ("_id", ASCENDING))),
    # the recovery deadline pass
    IndexSpec(AWARDS, (("recovery_open", ASCENDING), ("_id", ASCENDING))),
    # GET /awards for a partner (every party of the award)
    IndexSpec(AWARDS, (("party_ids", ASCENDING), ("_id", ASCENDING))),
    # a partner's awards in a programme (GET /awards?programme_id= for a college or enterprise)
    IndexSpec(AWARDS, (("party_ids", ASCENDING), ("programme_id", ASCENDING), ("_id", ASCENDING))),
    # GET /applications by programme, for a partner, and both
    IndexSpec(APPLICATIONS, (("programme_id", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(APPLICATIONS, (("applicant_partner_id", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(APPLICATIONS, (("applicant_partner_id", ASCENDING), ("programme_id", ASCENDING), ("_id", ASCENDING))),
    # the approved applications the reconciliation pass checks
    IndexSpec(APPLICATIONS, (("status", ASCENDING), ("_id", ASCENDING))),
    # GET /surcharge-credit-statements by enterprise, by year and both; an enterprise's later statements
    IndexSpec(STATEMENTS, (("enterprise_id", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(STATEMENTS, (("year", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(STATEMENTS, (("enterprise_id", ASCENDING), ("year", ASCENDING), ("_id", ASCENDING))),
)


class MongoTransferReceipts:
    """``TransferReceipts`` on a collection keyed by ``<programme>|<transfer id>``: one
    unordered insert per batch, an existing receipt refused by ``_id`` and kept."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def record(self, programme_id: str, applied: Sequence[AppliedTransfer]) -> None:
        documents = [{"_id": _receipt_key(programme_id, a.transfer_id), **a.model_dump(mode="json")} for a in applied]
        await insert_unordered(self._collection, documents)

    async def find(self, programme_id: str, transfer_ids: Sequence[str]) -> list[AppliedTransfer]:
        if not transfer_ids:
            return []
        cursor = self._collection.find(
            {"_id": {"$in": [_receipt_key(programme_id, t) for t in transfer_ids]}}, {"_id": 0}
        )
        return [AppliedTransfer.model_validate(document) async for document in cursor]

    async def ids(self, programme_id: str) -> set[str]:
        # The book's receipts are one `_id` range: "<programme>|" up to the next separator value.
        prefix = _receipt_key(programme_id, "")
        bound = prefix[:-1] + chr(ord(RECEIPT_KEY_SEPARATOR) + 1)
        cursor = self._collection.find({"_id": {"$gte": prefix, "$lt": bound}}, {"_id": 1})
        return {document["_id"][len(prefix) :] async for document in cursor}


def _receipt_key(programme_id: str, transfer_id: str) -> str:
    return f"{programme_id}{RECEIPT_KEY_SEPARATOR}{transfer_id}"
