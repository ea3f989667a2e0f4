"""Alliance membership: applications (a college or enterprise for itself, or an admin), the
list, one record with its history, and the lifecycle moves (admit or reject an application
with a reason, suspend, reinstate, withdraw, expel)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from alliance_registry.adapters.http.access import MembershipApplicant
from alliance_registry.adapters.http.bodies import MembershipApplyIn
from alliance_registry.adapters.http.deps import Admin, AppClock, PathId, Reader, Repos
from alliance_registry.adapters.http.openapi import NOT_FOUND, TRANSITION
from alliance_registry.domain.membership import Membership
from alliance_registry.service import membership as membership_cases
from alliance_registry.service import queries
from alliance_shared.contract.registry import MembershipStatus
from alliance_shared.web.bodies import ReasonIn
from alliance_shared.web.conditional import OptionalIfMatch, set_etag
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["membership"])


@router.post(
    "/memberships",
    status_code=201,
    summary="Apply to join the alliance: a college or enterprise for itself, or an admin on a partner's behalf",
    responses={
        403: {"description": "not your own application"},
        404: {"description": "no such partner"},
        409: {"description": "the partner has a membership"},
    },
)
async def apply_membership(
    body: MembershipApplyIn, response: Response, principal: MembershipApplicant, repos: Repos, clock: AppClock
) -> Membership:
    outcome = await membership_cases.apply(repos, clock, body.partner_id, body.reason, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.get("/memberships", summary="List memberships (cursor pagination)")
async def list_memberships(
    _: Reader, repos: Repos, status: MembershipStatus | None = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[Membership]:
    page = await queries.list_memberships(repos, status, limit=limit, cursor=cursor)
    return Page(items=[m.item for m in page.items], next_cursor=page.next_cursor)


@router.get("/memberships/{partner_id}", summary="A partner's membership with its history", responses=NOT_FOUND)
async def get_membership(partner_id: PathId, response: Response, _: Reader, repos: Repos) -> Membership:
    loaded = await queries.get_membership(repos, partner_id)
    set_etag(response, loaded.version)
    return loaded.item


def _membership_route(action: membership_cases.MembershipAction, summary: str) -> None:
    @router.post(
        f"/memberships/{{partner_id}}/{action}", summary=summary, responses=TRANSITION, name=f"membership_{action}"
    )
    async def move(
        partner_id: PathId,
        body: ReasonIn,
        response: Response,
        principal: Admin,
        expected: OptionalIfMatch,
        repos: Repos,
        clock: AppClock,
    ) -> Membership:
        outcome = await membership_cases.change_status(
            repos, clock, partner_id, action, body.reason, expected, principal.subject
        )
        set_etag(response, outcome.version)
        return outcome.item


_membership_route("admit", "Admit an applicant (applied → admitted)")
_membership_route("reject", "Reject an application, with the reason (applied → rejected; it may apply again)")
_membership_route("suspend", "Suspend a member (admitted → suspended)")
_membership_route("reinstate", "Reinstate a suspended member (suspended → admitted)")
_membership_route("withdraw", "Record a withdrawal (applied, admitted or suspended → withdrawn; final)")
_membership_route("expel", "Expel a member (admitted or suspended → expelled; final)")
