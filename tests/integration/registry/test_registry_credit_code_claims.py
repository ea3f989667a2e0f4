"""The credit-code claims port's contract, on the MongoDB-wire server AND the in-memory twin.

Use-case tests (tests/unit/registry/test_registry_use_cases.py) claim codes on the twin;
these tests are why that is allowed: what the claim rule relies on holds on both.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_registry.adapters.mongo import CREDIT_CODES, MongoCreditCodeClaims
from alliance_registry.service.ports import CreditCodeClaim, CreditCodeClaims
from alliance_registry.testing import InMemoryCreditCodeClaims

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["mongo", "memory"])
async def claims(request: pytest.FixtureRequest) -> AsyncIterator[CreditCodeClaims]:
    if request.param == "memory":
        yield InMemoryCreditCodeClaims()
        return
    infra: Infrastructure = request.getfixturevalue("infra")  # servers start only for this half
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[f"claims_{uuid.uuid4().hex[:10]}"]
    yield MongoCreditCodeClaims(db[CREDIT_CODES])
    await client.drop_database(db.name)
    await client.close()


def code() -> str:
    return "91440300" + uuid.uuid4().hex[:10].upper()


async def test_a_claim_is_held_until_its_holder_releases_it(claims: CreditCodeClaims) -> None:
    c = code()
    assert await claims.holder(c) is None
    assert await claims.insert(CreditCodeClaim(c, "ent-a", NOW))
    assert await claims.holder(c) == CreditCodeClaim(c, "ent-a", NOW)
    assert not await claims.insert(CreditCodeClaim(c, "ent-b", NOW + timedelta(minutes=5)))
    assert await claims.holder(c) == CreditCodeClaim(c, "ent-a", NOW)
    await claims.release(c, "ent-b")  # not the holder: nothing happens
    assert await claims.holder(c) == CreditCodeClaim(c, "ent-a", NOW)
    await claims.release(c, "ent-a")
    assert await claims.holder(c) is None
    assert await claims.insert(CreditCodeClaim(c, "ent-b", NOW))


async def test_of_racing_claims_exactly_one_wins(claims: CreditCodeClaims) -> None:
    c = code()
    won = await asyncio.gather(*(claims.insert(CreditCodeClaim(c, f"ent-{n}", NOW)) for n in range(4)))
    assert sum(won) == 1
    holder = await claims.holder(c)
    assert holder is not None
    assert holder.partner_id == f"ent-{won.index(True)}"


async def test_release_of_an_unclaimed_code_is_harmless(claims: CreditCodeClaims) -> None:
    await claims.release(code(), "ent-a")
