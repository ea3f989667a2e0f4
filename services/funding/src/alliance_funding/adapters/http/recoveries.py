"""Recoveries of paid money: proposed by an officer, ordered when an approver approves,
then settled by repayment or by offset."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.adapters.http.access import Approver, Officer
from alliance_funding.adapters.http.awards import OperationId
from alliance_funding.adapters.http.deps import Now, Repos
from alliance_funding.domain.award import Award
from alliance_funding.service import awards
from alliance_shared.contract.base import MinorUnits, UtcDateTime
from alliance_shared.contract.funding import SettlementMethod
from alliance_shared.contract.vocabulary import Reason
from alliance_shared.web.conditional import IfMatch, set_etag

router = APIRouter(tags=["recoveries"])


class RecoveryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recovery_id": "rec-2",
                    "amount_minor": 1_000_000,
                    "reason": "ineligible spend",
                    "due_at": "2026-12-31T16:00:00Z",
                }
            ]
        },
    )

    recovery_id: OperationId
    amount_minor: MinorUnits
    reason: Reason
    due_at: UtcDateTime


class SettlementIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"settlement_id": "s-1", "method": "repayment", "amount_minor": 500_000, "bank_reference": "BOC-77"},
                {"settlement_id": "s-2", "method": "offset", "amount_minor": 500_000, "tranche_id": "awd-x-t3"},
            ]
        },
    )

    settlement_id: OperationId
    method: SettlementMethod
    amount_minor: MinorUnits
    bank_reference: str | None = Field(default=None, max_length=100)
    tranche_id: str | None = Field(default=None, max_length=100)


@router.post(
    "/awards/{award_id}/recoveries",
    summary="Propose recovering paid money (the maker); ordered once a funding approver approves",
)
async def propose_recovery(
    award_id: str, body: RecoveryIn, response: Response, principal: Officer, expected: IfMatch, repos: Repos, clock: Now
) -> Award:
    outcome = await awards.propose_recovery(
        repos,
        clock,
        award_id,
        recovery_id=body.recovery_id,
        amount_minor=body.amount_minor,
        reason=body.reason,
        due_at=body.due_at,
        actor_id=principal.subject,
        expected=expected,
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/awards/{award_id}/recoveries/{recovery_id}/approve",
    summary="Approve a proposed recovery (a funding approver, not the proposer): it is ordered",
)
async def approve_recovery(
    award_id: str,
    recovery_id: str,
    response: Response,
    principal: Approver,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Award:
    outcome = await awards.approve_recovery(
        repos, clock, award_id, recovery_id, approver_id=principal.subject, expected=expected
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/awards/{award_id}/recoveries/{recovery_id}/settlements",
    summary="Settle a recovery by repayment (bank reference) or by offset against an approved tranche",
)
async def settle_recovery(
    award_id: str,
    recovery_id: str,
    body: SettlementIn,
    response: Response,
    principal: Officer,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Award:
    outcome = await awards.settle_recovery(
        repos,
        clock,
        award_id,
        recovery_id,
        settlement_id=body.settlement_id,
        method=body.method,
        amount_minor=body.amount_minor,
        bank_reference=body.bank_reference,
        tranche_id=body.tranche_id,
        actor_id=principal.subject,
        expected=expected,
    )
    set_etag(response, outcome.version)
    return outcome.item


class WriteOffIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "recipient dissolved, nothing left to collect"}]}
    )

    reason: Reason


@router.post(
    "/awards/{award_id}/recoveries/{recovery_id}/write-off",
    summary="Propose writing off what is outstanding of a recovery (the maker); a funding approver approves",
)
async def propose_write_off(
    award_id: str,
    recovery_id: str,
    body: WriteOffIn,
    response: Response,
    principal: Officer,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Award:
    outcome = await awards.propose_write_off(
        repos, clock, award_id, recovery_id, reason=body.reason, actor_id=principal.subject, expected=expected
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/awards/{award_id}/recoveries/{recovery_id}/write-off/approve",
    summary="Approve a proposed write-off (a funding approver, not the proposer): the recovery closes as written off",
)
async def approve_write_off(
    award_id: str,
    recovery_id: str,
    response: Response,
    principal: Approver,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Award:
    outcome = await awards.approve_write_off(
        repos, clock, award_id, recovery_id, approver_id=principal.subject, expected=expected
    )
    set_etag(response, outcome.version)
    return outcome.item
