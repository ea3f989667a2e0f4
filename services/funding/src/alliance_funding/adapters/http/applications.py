"""Applications as their applicant drafts, revises, submits and withdraws them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.adapters.http import downloads
from alliance_funding.adapters.http.access import (
    Anyone,
    Applicant,
    OwnApplication,
    ReadableApplication,
    partner_filter,
    partner_of,
)
from alliance_funding.adapters.http.deps import Now, Repos
from alliance_funding.domain.application import Application, BudgetLine
from alliance_funding.domain.eligibility import FailedRule
from alliance_funding.service import applications, queries
from alliance_shared.contract.base import MinorUnits
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE
from alliance_shared.web.bodies import OptionalReasonIn
from alliance_shared.web.conditional import IfMatch, set_etag
from alliance_shared.web.exports import DOWNLOADABLE, ListFormat, export_response, requested_format, whole_list
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["applications"])

Id = Annotated[str, Field(min_length=1, max_length=100)]


class ApplicationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "programme_id": "prg-2b9c0e51a2f4",
                    "agreement_id": "agr-7f3c",
                    "requested_minor": 100_000_000,
                    "cofunding_minor": 50_000_000,
                    "budget_lines": [
                        {"category": "equipment", "amount_minor": 70_000_000},
                        {"category": "teacher_training", "amount_minor": 30_000_000},
                    ],
                }
            ]
        },
    )

    programme_id: Id
    agreement_id: Id
    requested_minor: MinorUnits
    cofunding_minor: MinorUnits
    budget_lines: list[BudgetLine] = Field(max_length=10)


class ApplicationRevisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "requested_minor": 80_000_000,
                    "cofunding_minor": 50_000_000,
                    "budget_lines": [{"category": "equipment", "amount_minor": 80_000_000}],
                }
            ]
        },
    )

    requested_minor: MinorUnits
    cofunding_minor: MinorUnits
    budget_lines: list[BudgetLine] = Field(max_length=10)


@router.post("/applications", status_code=201, summary="Draft an application")
async def create_application(
    body: ApplicationIn, response: Response, principal: Applicant, repos: Repos
) -> Application:
    outcome = await applications.draft_application(
        repos,
        partner_of(principal),
        programme_id=body.programme_id,
        agreement_id=body.agreement_id,
        requested_minor=body.requested_minor,
        cofunding_minor=body.cofunding_minor,
        budget_lines=body.budget_lines,
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.get(
    "/applications",
    response_model=Page[Application],
    responses=DOWNLOADABLE,
    summary="Applications, cursor pages (partners: own only); ?format=csv|xlsx downloads the whole list",
)
async def list_applications(
    request: Request,
    principal: Anyone,
    repos: Repos,
    programme_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    format: ListFormat = None,
) -> Any:
    applicant_id = partner_filter(principal)
    download = requested_format(request, format)
    if download is not None:

        async def fetch(at: str | None) -> tuple[list[Application], str | None]:
            listed = await queries.list_applications(
                repos, programme_id=programme_id, applicant_id=applicant_id, cursor=at, limit=MAX_PAGE_SIZE
            )
            return listed.items, listed.next_cursor

        records = await downloads.application_records(repos, await whole_list(fetch))
        return export_response(request, download, downloads.APPLICATION_COLUMNS, records, "applications")
    listed = await queries.list_applications(
        repos, programme_id=programme_id, applicant_id=applicant_id, cursor=cursor, limit=limit
    )
    return Page(items=listed.items, next_cursor=listed.next_cursor)


@router.get("/applications/{application_id}", summary="One application")
async def get_application(loaded: ReadableApplication, response: Response) -> Application:
    set_etag(response, loaded.version)
    return loaded.item


class EligibilityOut(BaseModel):
    eligible: bool
    failed_rules: list[FailedRule]


@router.get(
    "/applications/{application_id}/eligibility",
    summary="Each eligibility rule the application fails now, on the read models (as approval judges it)",
)
async def application_eligibility(loaded: ReadableApplication, repos: Repos, clock: Now) -> EligibilityOut:
    failed = await applications.rules_failed_now(repos, clock, loaded.item)
    return EligibilityOut(eligible=not failed, failed_rules=failed)


@router.put("/applications/{application_id}", summary="Revise a draft or returned application")
async def revise_application(
    application_id: str,
    body: ApplicationRevisionIn,
    response: Response,
    _: OwnApplication,
    expected: IfMatch,
    repos: Repos,
) -> Application:
    outcome = await applications.revise_application(
        repos,
        application_id,
        requested_minor=body.requested_minor,
        cofunding_minor=body.cofunding_minor,
        budget_lines=body.budget_lines,
        expected=expected,
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/applications/{application_id}/submit",
    summary="Submit: eligibility is checked from the read models, each failed rule named",
)
async def submit_application(
    application_id: str, response: Response, principal: OwnApplication, expected: IfMatch, repos: Repos, clock: Now
) -> Application:
    outcome = await applications.submit_application(repos, clock, application_id, principal.subject, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item


@router.post("/applications/{application_id}/withdraw", summary="Withdraw an application")
async def withdraw_application(
    application_id: str,
    body: OptionalReasonIn,
    response: Response,
    principal: OwnApplication,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Application:
    outcome = await applications.withdraw_application(
        repos, clock, application_id, body.reason, principal.subject, expected=expected
    )
    set_etag(response, outcome.version)
    return outcome.item
