"""The alliance council: read it, constitute it, assign and vacate seats."""

from __future__ import annotations

from fastapi import APIRouter, Response

from alliance_registry.adapters.http.bodies import ConstituteIn, SeatIn
from alliance_registry.adapters.http.deps import Admin, AppClock, PathId, Reader, Repos
from alliance_registry.adapters.http.openapi import NOT_FOUND, TRANSITION
from alliance_registry.domain.council import Council, SeatAssignment
from alliance_registry.service import council as council_cases
from alliance_registry.service import queries
from alliance_shared.web.bodies import ReasonIn
from alliance_shared.web.conditional import OptionalIfMatch, set_etag

router = APIRouter(tags=["council"])


@router.get("/council", summary="The council and its seats", responses=NOT_FOUND)
async def get_council(response: Response, _: Reader, repos: Repos) -> Council:
    loaded = await queries.get_council(repos)
    set_etag(response, loaded.version)
    return loaded.item


@router.post(
    "/council",
    status_code=201,
    summary="Constitute the council (at least one college, enterprise and agency/association seat)",
    responses={409: {"description": "already constituted"}, 422: {"description": "composition or membership"}},
)
async def constitute(
    body: ConstituteIn, response: Response, principal: Admin, repos: Repos, clock: AppClock
) -> Council:
    outcome = await council_cases.constitute(repos, clock, body.seats, body.reason, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.put(
    "/council/seats/{partner_id}",
    summary="Give a member a seat, or change its position, representative or term",
    responses=TRANSITION,
)
async def assign_seat(
    partner_id: PathId,
    body: SeatIn,
    response: Response,
    principal: Admin,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> Council:
    assignment = SeatAssignment(
        position=body.position,
        partner_id=partner_id,
        representative=body.representative,
        term_start=body.term_start,
        term_end=body.term_end,
    )
    outcome = await council_cases.assign_seat(repos, clock, assignment, body.reason, expected, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/council/seats/{partner_id}/vacate",
    summary="Vacate a member's seat (refused if the composition rule would break)",
    responses=TRANSITION,
)
async def vacate_seat(
    partner_id: PathId,
    body: ReasonIn,
    response: Response,
    principal: Admin,
    expected: OptionalIfMatch,
    repos: Repos,
    clock: AppClock,
) -> Council:
    outcome = await council_cases.vacate_seat(repos, clock, partner_id, body.reason, expected, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item
