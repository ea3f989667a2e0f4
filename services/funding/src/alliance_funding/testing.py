"""A test twin of the funding service's own port: transfer receipts in memory.

Use-case tests run on it with ``alliance_shared.testing.InMemoryVersionedStore``; the
real-server tests use ``adapters.mongo.MongoTransferReceipts``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alliance_funding.domain.ledger import AppliedTransfer


class InMemoryTransferReceipts:
    def __init__(self) -> None:
        self.receipts: dict[tuple[str, str], AppliedTransfer] = {}

    async def record(self, programme_id: str, applied: Sequence[AppliedTransfer]) -> None:
        for mark in applied:
            self.receipts.setdefault((programme_id, mark.transfer_id), mark)

    async def find(self, programme_id: str, transfer_ids: Sequence[str]) -> list[AppliedTransfer]:
        return [self.receipts[key] for t in transfer_ids if (key := (programme_id, t)) in self.receipts]

    async def ids(self, programme_id: str) -> set[str]:
        return {transfer_id for programme, transfer_id in self.receipts if programme == programme_id}
