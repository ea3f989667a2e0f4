"""A programme's book: balances and figures, the append-only journal, verification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from alliance_funding.adapters.http.access import Staff
from alliance_funding.adapters.http.deps import Repos
from alliance_funding.domain.execution import BudgetExecution
from alliance_funding.service import queries

router = APIRouter(tags=["ledger"])


class LedgerOut(BaseModel):
    programme_id: str
    version: int
    currency: str
    balances: dict[str, int]
    execution: BudgetExecution


class JournalLine(BaseModel):
    ledger_version: int
    transfer_id: str
    kind: str
    debit_account: str
    credit_account: str
    amount_minor: int
    at: datetime
    actor_id: str
    refs: dict[str, str]


class VerifyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "programme_id": "prg-1",
                    "consistent": True,
                    "versions": 4,
                    "entries": 5,
                    "trial_balance": 0,
                    "differences": {},
                    "problems": [],
                    "stored_balances": {},
                    "journal_balances": {},
                    "awards": [{"award_id": "awd-app-1", "in_sync": True, "differences": {}}],
                }
            ]
        }
    )

    programme_id: str
    consistent: bool
    versions: int
    entries: int
    trial_balance: int
    differences: dict[str, int]
    problems: list[str]
    stored_balances: dict[str, int]
    journal_balances: dict[str, int]
    awards: list[dict[str, Any]]


@router.get("/programmes/{programme_id}/ledger", summary="The programme's book: balances and figures")
async def get_ledger(programme_id: str, _: Staff, repos: Repos) -> LedgerOut:
    book = await queries.programme_book(repos, programme_id)
    return LedgerOut(
        programme_id=book.programme_id,
        version=book.version,
        currency=book.currency,
        balances=book.balances,
        execution=book.execution,
    )


@router.get("/programmes/{programme_id}/ledger/journal", summary="The append-only journal of the book")
async def get_journal(programme_id: str, _: Staff, repos: Repos) -> list[JournalLine]:
    return [
        JournalLine(ledger_version=version, **entry.model_dump())
        for version, entry in await queries.programme_journal(repos, programme_id)
    ]


@router.get(
    "/programmes/{programme_id}/ledger/verify",
    summary="Recompute every balance from the journal and report any difference",
)
async def verify_ledger(programme_id: str, _: Staff, repos: Repos) -> VerifyOut:
    return VerifyOut(**await queries.verify_programme_book(repos, programme_id))
