"""Programme use cases: draft, revise, open (appropriates the budget), close, finalise."""

from __future__ import annotations

from typing import Any

from alliance_funding.adapters.repositories import Repositories
from alliance_funding.domain.execution import BudgetExecution, budget_execution
from alliance_funding.domain.programme import Programme
from alliance_funding.service import ledger
from alliance_funding.service.common import check_version, new_id, now_utc
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote


async def create(repos: Repositories, fields: dict[str, Any]) -> Loaded[Programme]:
    programme_id = new_id("prg")
    programme = Programme.draft(programme_id=programme_id, **fields)
    await repos.programmes.store.create(
        programme_id,
        repos.programmes.state_of(programme),
        (),
        AuditNote("programme.drafted", "programme", programme_id, None, programme.model_dump(mode="json")),
    )
    return await repos.programmes.require(programme_id, "programme.not_found", "programme")


async def get(repos: Repositories, programme_id: str) -> Loaded[Programme]:
    return await repos.programmes.require(programme_id, "programme.not_found", "programme")


async def revise(repos: Repositories, programme_id: str, expected: int, changes: dict[str, Any]) -> Loaded[Programme]:
    loaded = await get(repos, programme_id)
    check_version(loaded, expected, "programme")
    revised = loaded.item.revise(**changes)
    await repos.programmes.save(
        programme_id,
        loaded.version,
        revised,
        AuditNote("programme.revised", "programme", programme_id, None, revised.model_dump(mode="json")),
    )
    return await get(repos, programme_id)


async def open_programme(repos: Repositories, programme_id: str, expected: int, actor_id: str) -> Loaded[Programme]:
    """Open and appropriate: the ledger first (idempotent by transfer id), then the programme."""
    loaded = await get(repos, programme_id)
    check_version(loaded, expected, "programme")
    programme = loaded.item
    programme.open(now_utc(), actor_id)
    await ledger.post(repos, programme_id, programme.transfers, programme.currency)
    await repos.programmes.save(
        programme_id,
        loaded.version,
        programme,
        AuditNote(
            "programme.opened",
            "programme",
            programme_id,
            "draft",
            {"status": "open", "appropriated_minor": programme.appropriated_minor},
        ),
    )
    return await get(repos, programme_id)


async def close(repos: Repositories, programme_id: str, expected: int, reason: str, actor_id: str) -> Loaded[Programme]:
    loaded = await get(repos, programme_id)
    check_version(loaded, expected, "programme")
    programme = loaded.item
    programme.close(reason, now_utc(), actor_id)
    await repos.programmes.save(
        programme_id,
        loaded.version,
        programme,
        AuditNote("programme.closed", "programme", programme_id, "open", reason),
    )
    return await get(repos, programme_id)


async def figures(repos: Repositories, programme_id: str) -> BudgetExecution:
    book, _ = await ledger.book_of(repos, programme_id)
    return budget_execution(programme_id, book.balances)


async def finalise(repos: Repositories, programme_id: str, expected: int, actor_id: str) -> Loaded[Programme]:
    loaded = await get(repos, programme_id)
    check_version(loaded, expected, "programme")
    programme = loaded.item
    execution = await figures(repos, programme_id)
    programme.finalise(execution, now_utc(), actor_id)
    await repos.programmes.save(
        programme_id,
        loaded.version,
        programme,
        AuditNote("programme.finalised", "programme", programme_id, "closed", execution.model_dump()),
    )
    return await get(repos, programme_id)
