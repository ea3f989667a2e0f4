"""A test twin of the registry's own port: credit-code claims in memory.

It passes the same contract test as ``adapters.mongo.MongoCreditCodeClaims`` on the real
server (tests/integration/registry/test_registry_credit_code_claims.py); use-case tests
run on it with ``alliance_shared.testing.InMemoryVersionedStore``.
"""

from __future__ import annotations

from alliance_registry.service.ports import CreditCodeClaim


class InMemoryCreditCodeClaims:
    def __init__(self) -> None:
        self.claims: dict[str, CreditCodeClaim] = {}

    async def insert(self, claim: CreditCodeClaim) -> bool:
        if claim.code in self.claims:
            return False
        self.claims[claim.code] = claim
        return True

    async def holder(self, code: str) -> CreditCodeClaim | None:
        return self.claims.get(code)

    async def release(self, code: str, partner_id: str) -> None:
        if code in self.claims and self.claims[code].partner_id == partner_id:
            del self.claims[code]
