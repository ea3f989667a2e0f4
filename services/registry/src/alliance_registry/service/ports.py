"""What the registry's use cases need from the outside world, as ports.

``StoreFactory`` gives the versioned store of one aggregate kind (``ServiceRuntime.store``
in the service, ``InMemoryVersionedStore`` in use-case tests). ``CreditCodeClaims`` is
the one piece of storage that is not a versioned aggregate: a unique key per unified
social credit code (``adapters/mongo.py`` on MongoDB, ``alliance_registry.testing`` in
memory; one contract test runs on both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from alliance_shared.persistence.versioned_store import VersionedStore

StoreFactory = Callable[[str], VersionedStore]


@dataclass(frozen=True)
class CreditCodeClaim:
    """A partner holds ``code`` since ``claimed_at``."""

    code: str
    partner_id: str
    claimed_at: datetime


class CreditCodeClaims(Protocol):
    async def insert(self, claim: CreditCodeClaim) -> bool:
        """Record the claim; False (and nothing written) when the code is held already,
        even when two claims race."""

    async def holder(self, code: str) -> CreditCodeClaim | None:
        """The claim on ``code``, if any."""

    async def release(self, code: str, partner_id: str) -> None:
        """Drop the claim on ``code`` if ``partner_id`` holds it."""
