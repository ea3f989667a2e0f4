"""Partner matching: enterprises a college could approach, ranked with their reasons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from alliance_registry.adapters.http.deps import AppClock, PathId, Reader, Repos
from alliance_registry.adapters.http.openapi import NOT_FOUND
from alliance_registry.adapters.http.views import MatchOut
from alliance_registry.service import queries
from alliance_shared.contract.registry import MajorCode

router = APIRouter(tags=["matching"])


@router.get(
    "/matching/{college_id}",
    summary="Enterprises a college could approach, ranked, each with the reasons for its score",
    responses={**NOT_FOUND, 422: {"description": "not a college"}},
)
async def matching(
    college_id: PathId,
    _: Reader,
    repos: Repos,
    clock: AppClock,
    majors: Annotated[list[MajorCode] | None, Query(max_length=50, description="default: all its majors")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> MatchOut:
    suggestions = await queries.match(repos, clock, college_id, majors or [], limit)
    return MatchOut(college_id=college_id, majors=sorted(set(majors or [])), suggestions=suggestions)
