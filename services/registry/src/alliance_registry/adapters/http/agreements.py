"""Cooperation agreements: draft, list, read, the amendment history, sign, activate,
propose an amendment (If-Match), sign or withdraw it, suspend, resume, terminate."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from alliance_registry.adapters.http.access import SigningParty
from alliance_registry.adapters.http.bodies import AgreementIn, AmendmentIn
from alliance_registry.adapters.http.deps import Admin, AdminOrPartner, AppClock, PathId, Reader, Repos
from alliance_registry.adapters.http.openapi import NOT_FOUND, TRANSITION, UPDATE
from alliance_registry.adapters.http.views import AgreementOut, AgreementVersionsOut
from alliance_registry.service import agreements as agreement_cases
from alliance_registry.service import queries
from alliance_shared.contract.registry import AgreementStatus
from alliance_shared.contract.vocabulary import CooperationMode
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE
from alliance_shared.web.bodies import ReasonIn
from alliance_shared.web.conditional import IfMatch, OptionalIfMatch, set_etag
from alliance_shared.web.exports import (
    DOWNLOADABLE,
    Column,
    ListFormat,
    columns,
    export_response,
    requested_format,
    whole_list,
)
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["agreements"])

AGREEMENT_COLUMNS: tuple[Column, ...] = columns(
    "agreement_id",
    "agreement_title",
    "status",
    "party_ids",
    "party_names",
    "modes",
    "start_date",
    "end_date",
    "declared_depth",
    "version",
)


def agreement_record(agreement: AgreementOut) -> dict[str, Any]:
    """An agreement as an export row: its parties' names beside their ids, in the same order."""
    terms = agreement.terms
    return {
        "agreement_id": agreement.agreement_id,
        "agreement_title": terms.title,
        "status": agreement.status.value,
        "party_ids": [p.partner_id for p in terms.parties],
        "party_names": [p.name for p in terms.parties],
        "modes": [m.value for m in terms.modes],
        "start_date": terms.start_date,
        "end_date": terms.end_date,
        "declared_depth": terms.declared_depth.value,
        "version": agreement.version,
    }


@router.post(
    "/agreements",
    status_code=201,
    summary="Draft a cooperation agreement (at least one college and one enterprise)",
    responses={422: {"description": "unknown or deactivated party, no college, no enterprise, dates…"}},
)
async def draft_agreement(
    body: AgreementIn, response: Response, principal: Admin, repos: Repos, clock: AppClock
) -> AgreementOut:
    outcome = await agreement_cases.draft(repos, clock, body.draft(), principal.subject)
    set_etag(response, outcome.version)
    return AgreementOut.of(outcome)


@router.get(
    "/agreements",
    response_model=Page[AgreementOut],
    responses=DOWNLOADABLE,
    summary="List agreements (filters combine; cursor pagination; ?format=csv|xlsx downloads the whole list)",
)
async def list_agreements(
    request: Request,
    _: Reader,
    repos: Repos,
    party: Annotated[str | None, Query(max_length=100, description="a party's partner id")] = None,
    mode: CooperationMode | None = None,
    status: AgreementStatus | None = None,
    region: Annotated[
        str | None, Query(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$", description="region prefix of any party")
    ] = None,
    major: Annotated[str | None, Query(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$")] = None,
    active_from: Annotated[date | None, Query(description="term overlaps the range from this date")] = None,
    active_to: Annotated[date | None, Query(description="term overlaps the range up to this date")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: ListFormat = None,
) -> Any:
    f = queries.AgreementFilter(
        party_id=party,
        mode=mode,
        status=status,
        region_prefix=region,
        major=major,
        active_from=active_from,
        active_to=active_to,
    )
    download = requested_format(request, format)
    if download is not None:

        async def fetch(at: str | None) -> tuple[list[AgreementOut], str | None]:
            page = await queries.list_agreements(repos, f, limit=MAX_PAGE_SIZE, cursor=at)
            return [AgreementOut.of(a) for a in page.items], page.next_cursor

        records = [agreement_record(a) for a in await whole_list(fetch)]
        return export_response(request, download, AGREEMENT_COLUMNS, records, "agreements")
    page = await queries.list_agreements(repos, f, limit=limit, cursor=cursor)
    return Page(items=[AgreementOut.of(a) for a in page.items], next_cursor=page.next_cursor)


@router.get("/agreements/{agreement_id}", summary="One agreement", responses=NOT_FOUND)
async def get_agreement(agreement_id: PathId, response: Response, _: Reader, repos: Repos) -> AgreementOut:
    loaded = await queries.get_agreement(repos, agreement_id)
    set_etag(response, loaded.version)
    return AgreementOut.of(loaded)


@router.get(
    "/agreements/{agreement_id}/versions",
    summary="Every version of the terms (amendment history)",
    responses=NOT_FOUND,
)
async def agreement_versions(agreement_id: PathId, _: Reader, repos: Repos) -> AgreementVersionsOut:
    loaded = await queries.get_agreement(repos, agreement_id)
    return AgreementVersionsOut(agreement_id=agreement_id, revisions=list(loaded.item.revisions))


@router.post(
    "/agreements/{agreement_id}/sign",
    summary="Sign for your own organisation (colleges, enterprises); admins record other parties' signatures",
    responses={**TRANSITION, 403: {"description": "not your signature to give"}},
)
async def sign(
    agreement_id: PathId,
    party_id: SigningParty,
    response: Response,
    principal: AdminOrPartner,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> AgreementOut:
    outcome = await agreement_cases.sign(repos, clock, agreement_id, party_id, expected, principal.subject)
    set_etag(response, outcome.version)
    return AgreementOut.of(outcome)


@router.post(
    "/agreements/{agreement_id}/activate",
    summary="Bring a signed agreement into force now (normally automatic at its start date)",
    responses=TRANSITION,
)
async def activate(
    agreement_id: PathId, response: Response, principal: Admin, expected: OptionalIfMatch, repos: Repos, clock: AppClock
) -> AgreementOut:
    outcome = await agreement_cases.activate(repos, clock, agreement_id, expected, principal.subject)
    set_etag(response, outcome.version)
    return AgreementOut.of(outcome)


@router.post(
    "/agreements/{agreement_id}/amendments",
    summary="Propose new terms (If-Match required); they take effect when every party has signed them",
    responses={**UPDATE, 409: {"description": "not amendable now"}, 422: {"description": "rule"}},
)
async def amend(
    agreement_id: PathId,
    body: AmendmentIn,
    response: Response,
    principal: Admin,
    expected: IfMatch,
    repos: Repos,
    clock: AppClock,
) -> AgreementOut:
    outcome = await agreement_cases.amend(
        repos, clock, agreement_id, body.draft(), body.summary, expected, principal.subject
    )
    set_etag(response, outcome.version)
    return AgreementOut.of(outcome)


@router.post(
    "/agreements/{agreement_id}/amendments/sign",
    summary="Sign the pending amendment for your own organisation; admins record other parties' signatures",
    responses={**TRANSITION, 403: {"description": "not your signature to give"}},
)
async def sign_amendment(
    agreement_id: PathId,
    party_id: SigningParty,
    response: Response,
    principal: AdminOrPartner,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> AgreementOut:
    outcome = await agreement_cases.sign_amendment(repos, clock, agreement_id, party_id, expected, principal.subject)
    set_etag(response, outcome.version)
    return AgreementOut.of(outcome)


@router.post(
    "/agreements/{agreement_id}/amendments/withdraw",
    summary="Withdraw the pending amendment, with the reason; the terms in force stay",
    responses=TRANSITION,
)
async def withdraw_amendment(
    agreement_id: PathId,
    body: ReasonIn,
    response: Response,
    principal: Admin,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> AgreementOut:
    outcome = await agreement_cases.withdraw_amendment(
        repos, clock, agreement_id, body.reason, expected, principal.subject
    )
    set_etag(response, outcome.version)
    return AgreementOut.of(outcome)


def _agreement_route(action: agreement_cases.AgreementAction, summary: str) -> None:
    @router.post(
        f"/agreements/{{agreement_id}}/{action}", summary=summary, responses=TRANSITION, name=f"agreement_{action}"
    )
    async def act(
        agreement_id: PathId,
        body: ReasonIn,
        response: Response,
        principal: Admin,
        expected: OptionalIfMatch,
        repos: Repos,
        clock: AppClock,
    ) -> AgreementOut:
        outcome = await agreement_cases.change_status(
            repos, clock, agreement_id, action, body.reason, expected, principal.subject
        )
        set_etag(response, outcome.version)
        return AgreementOut.of(outcome)


_agreement_route("suspend", "Suspend an active agreement")
_agreement_route("resume", "Resume a suspended agreement")
_agreement_route("terminate", "Terminate an agreement early (final)")
