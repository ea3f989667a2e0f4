"""Awards: granted by a second person after approval, read by staff and their parties,
terminated when an officer proposes it and an approver approves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.adapters.http import downloads
from alliance_funding.adapters.http.access import Anyone, Approver, Officer, ReadableAward, partner_filter
from alliance_funding.adapters.http.deps import Now, Repos
from alliance_funding.domain.award import Award
from alliance_funding.service import awards, queries
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.vocabulary import Reason
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE
from alliance_shared.web.conditional import IfMatch, set_etag
from alliance_shared.web.exports import DOWNLOADABLE, ListFormat, export_response, requested_format, whole_list
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["awards"])

#: Caller-supplied ids of recoveries and settlements (they become parts of transfer ids).
OperationId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


class TerminateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "agreement terminated by the registry",
                    "recovery_id": "rec-1",
                    "recovery_minor": 5_000_000,
                    "recovery_due_at": "2026-12-31T16:00:00Z",
                }
            ]
        },
    )

    reason: Reason
    recovery_id: OperationId | None = None
    recovery_minor: int = Field(default=0, ge=0, le=10**15)
    recovery_due_at: UtcDateTime | None = None


@router.post(
    "/applications/{application_id}/award",
    summary="Grant the award of an approved application: commits the money (a funding approver, "
    "not the officer who approved the application; idempotent, completes an interrupted grant)",
)
async def grant_award(application_id: str, response: Response, principal: Approver, repos: Repos, clock: Now) -> Award:
    loaded = await awards.grant_award(repos, clock, application_id, principal.subject)
    set_etag(response, loaded.version)
    return loaded.item


@router.get(
    "/awards",
    summary="Awards, cursor pages (partners: only their own); ?format=csv|xlsx downloads the whole list",
    response_model=Page[Award],
    responses=DOWNLOADABLE,
)
async def list_awards(
    request: Request,
    principal: Anyone,
    repos: Repos,
    programme_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    format: ListFormat = None,
) -> Any:
    party_id = partner_filter(principal)
    download = requested_format(request, format)
    if download is not None:

        async def fetch(at: str | None) -> tuple[list[Award], str | None]:
            listed = await queries.list_awards(
                repos, programme_id=programme_id, party_id=party_id, cursor=at, limit=MAX_PAGE_SIZE
            )
            return listed.items, listed.next_cursor

        records = await downloads.award_records(repos, await whole_list(fetch))
        return export_response(request, download, downloads.AWARD_COLUMNS, records, "awards")
    listed = await queries.list_awards(repos, programme_id=programme_id, party_id=party_id, cursor=cursor, limit=limit)
    return Page(items=listed.items, next_cursor=listed.next_cursor)


@router.get("/awards/{award_id}", summary="One award with its tranches and recoveries")
async def get_award(loaded: ReadableAward, response: Response) -> Award:
    set_etag(response, loaded.version)
    return loaded.item


@router.post(
    "/awards/{award_id}/terminate",
    summary="Propose terminating (the maker): void what is committed, optionally recover paid money, "
    "once a funding approver approves",
)
async def propose_termination(
    award_id: str,
    body: TerminateIn,
    response: Response,
    principal: Officer,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Award:
    outcome = await awards.propose_termination(
        repos,
        clock,
        award_id,
        reason=body.reason,
        actor_id=principal.subject,
        recovery_id=body.recovery_id,
        recovery_minor=body.recovery_minor,
        recovery_due_at=body.recovery_due_at,
        expected=expected,
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/awards/{award_id}/terminate/approve",
    summary="Approve the proposed termination (a funding approver, not the proposer): the money moves",
)
async def approve_termination(
    award_id: str, response: Response, principal: Approver, expected: IfMatch, repos: Repos, clock: Now
) -> Award:
    outcome = await awards.approve_termination(repos, clock, award_id, approver_id=principal.subject, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item
