"""The reads behind lists and the ledger views: which filter a list applies for whom,
and the book's figures, journal and verification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from alliance_funding.domain.application import Application
from alliance_funding.domain.award import Award
from alliance_funding.domain.execution import BudgetExecution
from alliance_funding.domain.ledger import JournalEntry
from alliance_funding.domain.programme import Programme
from alliance_funding.service import ledger, programmes, reports
from alliance_funding.service.ports import Repositories
from alliance_funding.service.records import StoredStatement
from alliance_shared.persistence.pagination import paginate
from alliance_shared.persistence.repository import Repository

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Listed(Generic[M]):
    items: list[M]
    next_cursor: str | None


async def _page(repo: Repository[M], query: dict[str, Any], cursor: str | None, limit: int) -> Listed[M]:
    page = await paginate(repo.store, query, limit=limit, cursor=cursor)
    return Listed([repo.from_snapshot(s).item for s in page.items], page.next_cursor)


async def list_programmes(repos: Repositories, *, cursor: str | None, limit: int) -> Listed[Programme]:
    return await _page(repos.programmes, {}, cursor, limit)


async def list_applications(
    repos: Repositories, *, programme_id: str | None, applicant_id: str | None, cursor: str | None, limit: int
) -> Listed[Application]:
    """``applicant_id``: only this partner's applications (None: everyone's, for staff)."""
    query: dict[str, Any] = {"programme_id": programme_id} if programme_id else {}
    if applicant_id is not None:
        query["applicant_partner_id"] = applicant_id
    return await _page(repos.applications, query, cursor, limit)


async def list_awards(
    repos: Repositories, *, programme_id: str | None, party_id: str | None, cursor: str | None, limit: int
) -> Listed[Award]:
    """``party_id``: only awards this partner is party to (None: every award, for staff)."""
    query: dict[str, Any] = {"programme_id": programme_id} if programme_id else {}
    if party_id is not None:
        query["party_ids"] = party_id
    return await _page(repos.awards, query, cursor, limit)


async def list_statements(
    repos: Repositories, *, enterprise_id: str | None, year: int | None, cursor: str | None, limit: int
) -> Listed[StoredStatement]:
    """Surcharge credit statements, of one enterprise and/or one year (indexed fields)."""
    query: dict[str, Any] = {}
    if enterprise_id is not None:
        query["enterprise_id"] = enterprise_id
    if year is not None:
        query["year"] = year
    return await _page(repos.statements, query, cursor, limit)


@dataclass(frozen=True)
class ProgrammeBook:
    programme_id: str
    version: int
    currency: str
    balances: dict[str, int]
    execution: BudgetExecution


async def programme_book(repos: Repositories, programme_id: str) -> ProgrammeBook:
    await programmes.get(repos, programme_id)
    book, version = await ledger.book_of(repos, programme_id)
    execution = await programmes.figures(repos, programme_id)
    return ProgrammeBook(programme_id, version, book.currency, dict(sorted(book.balances.items())), execution)


async def programme_journal(repos: Repositories, programme_id: str) -> list[tuple[int, JournalEntry]]:
    await programmes.get(repos, programme_id)
    return await ledger.journal(repos, programme_id)


async def verify_programme_book(repos: Repositories, programme_id: str) -> dict[str, Any]:
    """The book verified against its journal, and every award of the programme against the book."""
    await programmes.get(repos, programme_id)
    result = await ledger.verify_book(repos, programme_id)
    return {**result, "awards": await reports.awards_in_sync(repos, programme_id, result["stored_balances"])}
