"""Programme use cases: draft, revise, open (appropriates the budget), close, finalise."""

from __future__ import annotations

from typing import Any

from alliance_funding.domain.award import AwardStatus
from alliance_funding.domain.execution import BudgetExecution, budget_execution
from alliance_funding.domain.programme import Programme, ProgrammeStatus
from alliance_funding.service import awards, ledger
from alliance_funding.service.ports import Repositories
from alliance_shared.clock import Clock
from alliance_shared.contract.funding import RemainderReleaseTrigger
from alliance_shared.errors import InvalidTransition, NotFound
from alliance_shared.ids import new_id
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, check_expected, create, update

NOT_FOUND = ("programme.not_found", "programme")


async def get(repos: Repositories, programme_id: str, *, exact: bool = False) -> Loaded[Programme]:
    """The programme as stored; ``exact`` for a decision taken before its write (the newest version)."""
    loaded = await repos.programmes.get(programme_id, exact=exact)
    if loaded is None:
        code, what = NOT_FOUND
        raise NotFound(code, f"no {what} {programme_id}")
    return loaded


async def draft_programme(repos: Repositories, fields: dict[str, Any]) -> Outcome[Programme]:
    programme_id = new_id("prg")
    programme = Programme.draft(programme_id=programme_id, **fields)
    audit = AuditNote("programme.drafted", "programme", programme_id, None, programme.model_dump(mode="json"))
    return await create(repos.programmes, programme_id, programme, audit)


async def revise_programme(
    repos: Repositories, programme_id: str, changes: dict[str, Any], *, expected: int | None = None
) -> Outcome[Programme]:
    def decide(programme: Programme) -> Decision[Programme]:
        revised = programme.revise(**changes)
        return Decision(
            revised, AuditNote("programme.revised", "programme", programme_id, None, revised.model_dump(mode="json"))
        )

    return await update(repos.programmes, programme_id, decide, not_found=NOT_FOUND, expected=expected)


async def open_programme(
    repos: Repositories, clock: Clock, programme_id: str, actor_id: str, *, expected: int | None = None
) -> Outcome[Programme]:
    """Open and appropriate: the ledger first (idempotent by transfer id), then the programme."""
    loaded = await get(repos, programme_id, exact=True)
    check_expected(programme_id, loaded.version, expected)
    now = clock.now()
    opened = loaded.item
    opened.open(now, actor_id)
    await ledger.post(repos, programme_id, opened.transfers, opened.currency)

    def decide(programme: Programme) -> Decision[Programme]:
        programme.open(now, actor_id)
        return Decision(
            programme,
            AuditNote(
                "programme.opened",
                "programme",
                programme_id,
                "draft",
                {"status": "open", "appropriated_minor": programme.appropriated_minor},
            ),
        )

    # Exactly the version the budget was appropriated for: a change meanwhile is 412.
    return await update(repos.programmes, programme_id, decide, not_found=NOT_FOUND, expected=loaded.version)


async def close_programme(
    repos: Repositories, clock: Clock, programme_id: str, reason: str, actor_id: str, *, expected: int | None = None
) -> Outcome[Programme]:
    """Stop taking applications and release what its awards keep committed for nothing: the
    remainders partial approvals kept (each a ``void`` to the programme's available budget
    and a ``tranche.remainder_released`` event, trigger ``programme_closed``). Tranches not
    yet approved and approved-but-unpaid tranches are the awards' obligations: they stay.

    The releases come first, each an award command with its fixed transfer id, so a retry
    after a crash releases only what is left and then closes."""
    loaded = await get(repos, programme_id, exact=True)
    check_expected(programme_id, loaded.version, expected)
    if loaded.item.status is not ProgrammeStatus.OPEN:
        raise InvalidTransition("programme", loaded.item.status, "close")
    for found in await repos.awards.find({"programme_id": programme_id, "status": AwardStatus.ACTIVE.value}):
        for tranche_id in found.item.kept_remainder_tranche_ids:
            await awards.release_remainder(
                repos,
                clock,
                found.item.award_id,
                tranche_id,
                actor_id,
                trigger=RemainderReleaseTrigger.PROGRAMME_CLOSED,
            )
    now = clock.now()

    def decide(programme: Programme) -> Decision[Programme]:
        programme.close(reason, now, actor_id)
        return Decision(programme, AuditNote("programme.closed", "programme", programme_id, "open", reason))

    return await update(repos.programmes, programme_id, decide, not_found=NOT_FOUND, expected=loaded.version)


async def figures(repos: Repositories, programme_id: str) -> BudgetExecution:
    book, _ = await ledger.book_of(repos, programme_id)
    return budget_execution(programme_id, book.balances)


async def finalise_programme(
    repos: Repositories, clock: Clock, programme_id: str, actor_id: str, *, expected: int | None = None
) -> Outcome[Programme]:
    loaded = await get(repos, programme_id, exact=True)
    check_expected(programme_id, loaded.version, expected)
    execution = await figures(repos, programme_id)
    now = clock.now()

    def decide(programme: Programme) -> Decision[Programme]:
        programme.finalise(execution, now, actor_id)
        return Decision(
            programme, AuditNote("programme.finalised", "programme", programme_id, "closed", execution.model_dump())
        )

    return await update(repos.programmes, programme_id, decide, not_found=NOT_FOUND, expected=loaded.version)
