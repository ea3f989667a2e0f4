"""The catalogue of certified industry-education integration enterprises: applications (an
enterprise for itself, or an admin), the list, one certification, grant or reject with a
reason, revoke (expiry is automatic)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from alliance_registry.adapters.http.access import CertificationApplicant
from alliance_registry.adapters.http.bodies import CertificationApplyIn, GrantIn
from alliance_registry.adapters.http.deps import Admin, AppClock, PathId, Reader, Repos
from alliance_registry.adapters.http.openapi import NOT_FOUND, TRANSITION
from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_registry.service import certification as certification_cases
from alliance_registry.service import queries
from alliance_shared.web.bodies import ReasonIn
from alliance_shared.web.conditional import OptionalIfMatch, set_etag
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["certification"])


@router.post(
    "/certifications",
    status_code=201,
    summary="Apply for certification: an enterprise for itself, or an admin on its behalf",
    responses={
        403: {"description": "not your own application"},
        409: {"description": "an open application or certificate exists"},
        422: {"description": "rule"},
    },
)
async def apply_certification(
    body: CertificationApplyIn, response: Response, principal: CertificationApplicant, repos: Repos, clock: AppClock
) -> Certification:
    outcome = await certification_cases.apply(repos, clock, body.partner_id, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.get("/certifications", summary="The catalogue (cursor pagination)")
async def list_certifications(
    _: Reader,
    repos: Repos,
    status: CertificationStatus | None = None,
    partner_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Certification]:
    page = await queries.list_certifications(repos, status, partner_id, limit=limit, cursor=cursor)
    return Page(items=[c.item for c in page.items], next_cursor=page.next_cursor)


@router.get("/certifications/{certification_id}", summary="One certification", responses=NOT_FOUND)
async def get_certification(certification_id: PathId, response: Response, _: Reader, repos: Repos) -> Certification:
    loaded = await queries.get_certification(repos, certification_id)
    set_etag(response, loaded.version)
    return loaded.item


@router.post(
    "/certifications/{certification_id}/grant",
    summary="Certify: certificate number and validity (expires by itself at valid_to)",
    responses=TRANSITION,
)
async def grant(
    certification_id: PathId,
    body: GrantIn,
    response: Response,
    principal: Admin,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> Certification:
    outcome = await certification_cases.grant(
        repos,
        clock,
        certification_id,
        certificate_number=body.certificate_number,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        expected=expected,
        actor_id=principal.subject,
        reason=body.reason,
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/certifications/{certification_id}/reject", summary="Refuse an application, with the reason", responses=TRANSITION
)
async def reject(
    certification_id: PathId,
    body: ReasonIn,
    response: Response,
    principal: Admin,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> Certification:
    outcome = await certification_cases.reject(repos, clock, certification_id, body.reason, expected, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.post("/certifications/{certification_id}/revoke", summary="Revoke a certificate", responses=TRANSITION)
async def revoke(
    certification_id: PathId,
    body: ReasonIn,
    response: Response,
    principal: Admin,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> Certification:
    outcome = await certification_cases.revoke(repos, clock, certification_id, body.reason, expected, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item
