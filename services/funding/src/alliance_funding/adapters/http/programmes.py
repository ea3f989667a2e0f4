"""Fund programmes: draft, revise, open (appropriates the budget), close, finalise."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.adapters.http.access import Anyone, Officer
from alliance_funding.adapters.http.deps import Now, Repos
from alliance_funding.domain.programme import EligibilityRules, Programme, TrancheTemplateItem
from alliance_funding.service import programmes, queries
from alliance_shared.contract.base import MinorUnits, UtcDateTime
from alliance_shared.web.bodies import ReasonIn
from alliance_shared.web.conditional import IfMatch, set_etag
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["programmes"])


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Shenzhen integration fund 2026",
                    "fiscal_year": 2026,
                    "appropriated_minor": 1_000_000_000,
                    "opens_at": "2026-03-01T00:00:00Z",
                    "closes_at": "2026-06-30T16:00:00Z",
                    "eligibility": {
                        "lead_partner_kinds": ["college", "enterprise"],
                        "require_certified_enterprise": True,
                        "require_active_agreement": True,
                        "min_grade": "pass",
                        "region_prefix": "4403",
                    },
                    "award_cap_minor": 200_000_000,
                    "min_cofunding_bp": 3000,
                    "tranche_template": [
                        {"name": "start-up", "share_bp": 3000, "release": {"kind": "on_award"}},
                        {
                            "name": "mid-term",
                            "share_bp": 4000,
                            "release": {"kind": "evaluation", "cycle_kind": "mid_term", "min_grade": "pass"},
                        },
                        {"name": "final", "share_bp": 3000, "release": {"kind": "manual"}},
                    ],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    fiscal_year: int = Field(ge=2000, le=2100)
    appropriated_minor: MinorUnits
    opens_at: UtcDateTime
    closes_at: UtcDateTime
    eligibility: EligibilityRules
    award_cap_minor: MinorUnits
    min_cofunding_bp: int = Field(ge=0, le=9999)
    tranche_template: list[TrancheTemplateItem] = Field(min_length=1, max_length=20)


class ProgrammeRevisionIn(BaseModel):
    """Settings of a draft programme to change; omitted ones stay."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"award_cap_minor": 150_000_000}]})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    fiscal_year: int | None = Field(default=None, ge=2000, le=2100)
    appropriated_minor: MinorUnits | None = None
    opens_at: UtcDateTime | None = None
    closes_at: UtcDateTime | None = None
    eligibility: EligibilityRules | None = None
    award_cap_minor: MinorUnits | None = None
    min_cofunding_bp: int | None = Field(default=None, ge=0, le=9999)
    tranche_template: list[TrancheTemplateItem] | None = Field(default=None, min_length=1, max_length=20)


@router.post("/programmes", status_code=201, summary="Draft a fund programme")
async def create_programme(body: ProgrammeIn, response: Response, _: Officer, repos: Repos) -> Programme:
    outcome = await programmes.draft_programme(repos, body.model_dump())
    set_etag(response, outcome.version)
    return outcome.item


@router.get("/programmes", summary="List programmes (cursor pages)")
async def list_programmes(_: Anyone, repos: Repos, cursor: Cursor = None, limit: Limit = 50) -> Page[Programme]:
    listed = await queries.list_programmes(repos, cursor=cursor, limit=limit)
    return Page(items=listed.items, next_cursor=listed.next_cursor)


@router.get("/programmes/{programme_id}", summary="One programme")
async def get_programme(programme_id: str, response: Response, _: Anyone, repos: Repos) -> Programme:
    loaded = await programmes.get(repos, programme_id)
    set_etag(response, loaded.version)
    return loaded.item


@router.put("/programmes/{programme_id}", summary="Revise a draft programme")
async def revise_programme(
    programme_id: str, body: ProgrammeRevisionIn, response: Response, _: Officer, expected: IfMatch, repos: Repos
) -> Programme:
    outcome = await programmes.revise_programme(
        repos, programme_id, body.model_dump(exclude_unset=True), expected=expected
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post("/programmes/{programme_id}/open", summary="Open a programme: appropriate its budget")
async def open_programme(
    programme_id: str, response: Response, principal: Officer, expected: IfMatch, repos: Repos, clock: Now
) -> Programme:
    outcome = await programmes.open_programme(repos, clock, programme_id, principal.subject, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item


@router.post("/programmes/{programme_id}/close", summary="Stop taking applications")
async def close_programme(
    programme_id: str,
    body: ReasonIn,
    response: Response,
    principal: Officer,
    expected: IfMatch,
    repos: Repos,
    clock: Now,
) -> Programme:
    outcome = await programmes.close_programme(
        repos, clock, programme_id, body.reason, principal.subject, expected=expected
    )
    set_etag(response, outcome.version)
    return outcome.item


@router.post("/programmes/{programme_id}/finalise", summary="Close the books (nothing in flight)")
async def finalise_programme(
    programme_id: str, response: Response, principal: Officer, expected: IfMatch, repos: Repos, clock: Now
) -> Programme:
    outcome = await programmes.finalise_programme(repos, clock, programme_id, principal.subject, expected=expected)
    set_etag(response, outcome.version)
    return outcome.item
