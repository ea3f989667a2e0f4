"""Partner organisations: register, list and read (contacts only for those who may see
them), replace the profile or the contacts (If-Match), deactivate, the profile page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from alliance_registry.adapters.http.access import ContactsEditor, ContactsVisible
from alliance_registry.adapters.http.bodies import ContactsIn, PartnerDetailsIn, PartnerIn
from alliance_registry.adapters.http.deps import Admin, AppClock, PathId, Reader, Repos
from alliance_registry.adapters.http.openapi import NOT_FOUND, TRANSITION, UPDATE
from alliance_registry.adapters.http.views import PartnerOut, ProfileOut
from alliance_registry.service import partners as partner_cases
from alliance_registry.service import queries
from alliance_shared.contract.registry import MembershipStatus, PartnerStatus
from alliance_shared.contract.vocabulary import PartnerKind
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

router = APIRouter(tags=["partners"])

PARTNER_COLUMNS: tuple[Column, ...] = columns(
    "partner_id",
    "name_zh",
    "name_en",
    "kind",
    "credit_code",
    "region_code",
    "sector_code",
    "status",
    "updated_at",
)


@router.post(
    "/partners",
    status_code=201,
    summary="Register a partner organisation",
    responses={409: {"description": "credit code already registered (partner.credit_code_taken)"}},
)
async def register_partner(
    body: PartnerIn, response: Response, principal: Admin, repos: Repos, clock: AppClock
) -> PartnerOut:
    outcome = await partner_cases.register(repos, clock, body.details(), body.contacts, principal.subject)
    set_etag(response, outcome.version)
    return PartnerOut.of(outcome, with_contacts=True)


@router.get(
    "/partners",
    response_model=Page[PartnerOut],
    responses=DOWNLOADABLE,
    summary="List partners (filters combine; cursor pagination; ?format=csv|xlsx downloads the whole list)",
)
async def list_partners(
    request: Request,
    _: Reader,
    repos: Repos,
    clock: AppClock,
    kind: PartnerKind | None = None,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$", description="region prefix")] = None,
    sector: Annotated[str | None, Query(pattern=r"^[A-T]([0-9]{1,4})?$", description="sector prefix")] = None,
    certified: Annotated[bool | None, Query(description="holds a valid certificate now")] = None,
    membership: Annotated[MembershipStatus | None, Query(description="alliance membership status")] = None,
    status: PartnerStatus | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="text in the name")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: ListFormat = None,
) -> Any:
    f = queries.PartnerFilter(
        kind=kind,
        region_prefix=region,
        sector=sector,
        certified=certified,
        membership_status=membership,
        status=status,
        text=q,
    )
    download = requested_format(request, format)
    if download is not None:

        async def fetch(at: str | None) -> tuple[list[PartnerOut], str | None]:
            page = await queries.list_partners(repos, clock, f, limit=MAX_PAGE_SIZE, cursor=at)
            return [PartnerOut.of(p, with_contacts=False) for p in page.items], page.next_cursor

        records = [p.model_dump(mode="json") for p in await whole_list(fetch)]
        return export_response(request, download, PARTNER_COLUMNS, records, "partners")
    page = await queries.list_partners(repos, clock, f, limit=limit, cursor=cursor)
    return Page(items=[PartnerOut.of(p, with_contacts=False) for p in page.items], next_cursor=page.next_cursor)


@router.get(
    "/partners/{partner_id}",
    summary="One partner (contacts only for admins, auditors and the partner itself)",
    responses=NOT_FOUND,
)
async def get_partner(
    partner_id: PathId, response: Response, with_contacts: ContactsVisible, repos: Repos
) -> PartnerOut:
    loaded = await queries.get_partner(repos, partner_id)
    set_etag(response, loaded.version)
    return PartnerOut.of(loaded, with_contacts=with_contacts)


@router.put("/partners/{partner_id}", summary="Replace a partner's profile", responses=UPDATE)
async def update_partner(
    partner_id: PathId,
    body: PartnerDetailsIn,
    response: Response,
    principal: Admin,
    expected: IfMatch,
    repos: Repos,
    clock: AppClock,
) -> PartnerOut:
    outcome = await partner_cases.update(repos, clock, partner_id, body.details(), expected, principal.subject)
    set_etag(response, outcome.version)
    return PartnerOut.of(outcome, with_contacts=True)


@router.put(
    "/partners/{partner_id}/contacts",
    summary="Replace a partner's contacts (admins, or the partner itself)",
    responses=UPDATE,
)
async def update_contacts(
    partner_id: PathId,
    body: ContactsIn,
    response: Response,
    principal: ContactsEditor,
    expected: IfMatch,
    repos: Repos,
    clock: AppClock,
) -> PartnerOut:
    outcome = await partner_cases.update_contacts(repos, clock, partner_id, body.contacts, expected, principal.subject)
    set_etag(response, outcome.version)
    return PartnerOut.of(outcome, with_contacts=True)


@router.post("/partners/{partner_id}/deactivate", summary="Deactivate a partner", responses=TRANSITION)
async def deactivate_partner(
    partner_id: PathId,
    body: ReasonIn,
    response: Response,
    principal: Admin,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> PartnerOut:
    outcome = await partner_cases.deactivate(repos, clock, partner_id, body.reason, expected, principal.subject)
    set_etag(response, outcome.version)
    return PartnerOut.of(outcome, with_contacts=True)


@router.get(
    "/partners/{partner_id}/profile",
    summary="A partner with its membership, certifications and agreements",
    responses=NOT_FOUND,
)
async def partner_profile(
    partner_id: PathId, with_contacts: ContactsVisible, repos: Repos, clock: AppClock
) -> ProfileOut:
    return ProfileOut.of(await queries.profile(repos, clock, partner_id), with_contacts=with_contacts)
