"""Tranche steps: release (manual condition), request (the maker), approve (the checker,
never the maker), payment confirmed."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.adapters.http.access import Approver, Officer
from alliance_funding.adapters.http.deps import Now, Repos
from alliance_funding.domain.award import Award
from alliance_funding.service import awards
from alliance_shared.contract.base import MinorUnits
from alliance_shared.web.conditional import IfMatch, set_etag

router = APIRouter(tags=["tranches"])

TRANCHE = "/awards/{award_id}/tranches/{tranche_id}"


class ApproveTrancheIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"approved_minor": 10_000_000, "reason": "equipment bought below budget", "release_remainder": True},
            ]
        },
    )

    approved_minor: MinorUnits | None = Field(default=None, description="default: the scheduled amount")
    release_remainder: bool = False
    reason: str | None = Field(default=None, max_length=2000)


class PaymentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"bank_reference": "ICBC-20260402-0091"}]}
    )

    bank_reference: str = Field(min_length=1, max_length=100)


@router.post(f"{TRANCHE}/release", summary="Release a tranche whose condition is manual")
async def release_tranche(
    award_id: str, tranche_id: str, response: Response, principal: Officer, expected: IfMatch, repos: Repos, clock: Now
) -> Award:
    outcome = await awards.release_tranche(repos, clock, award_id, tranche_id, principal.subject, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item


@router.post(f"{TRANCHE}/request", summary="Prepare the disbursement of an eligible tranche (the maker)")
async def request_tranche(
    award_id: str, tranche_id: str, response: Response, principal: Officer, expected: IfMatch, repos: Repos, clock: Now
) -> Award:
    outcome = await awards.request_tranche(repos, clock, award_id, tranche_id, principal.subject, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    f"{TRANCHE}/approve",
    summary="Approve a prepared tranche (the checker: never its preparer); partial with a reason",
)
async def approve_tranche(
    award_id: str,
    tranche_id: str,
    body: ApproveTrancheIn,
    response: Response,
    principal: Approver,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Award:
    outcome = await awards.approve_tranche(
        repos,
        clock,
        award_id,
        tranche_id,
        approved_minor=body.approved_minor,
        release_remainder=body.release_remainder,
        reason=body.reason,
        approver_id=principal.subject,
        expected=expected,
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    f"{TRANCHE}/release-remainder",
    summary="Release the remainder a partial approval kept back to the programme (the award goes on)",
)
async def release_remainder(
    award_id: str, tranche_id: str, response: Response, principal: Approver, expected: IfMatch, repos: Repos, clock: Now
) -> Award:
    outcome = await awards.release_remainder(repos, clock, award_id, tranche_id, principal.subject, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item


@router.post(f"{TRANCHE}/payment", summary="Confirm the bank paid an approved tranche")
async def confirm_payment(
    award_id: str,
    tranche_id: str,
    body: PaymentIn,
    response: Response,
    principal: Officer,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Award:
    outcome = await awards.confirm_payment(
        repos, clock, award_id, tranche_id, body.bank_reference, principal.subject, expected=expected
    )
    set_etag(response, outcome.version)
    return outcome.item
