"""Indicator frameworks: list (cursor pages), read, derive a draft, edit it (If-Match), publish it (If-Match)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.adapters.http.deps import AnyReader, Evaluation, Supervisor
from alliance_evaluation.domain.framework import (
    Framework,
    FrameworkStatus,
    GradeBands,
    IndicatorDefinition,
    NoEvidencePolicy,
)
from alliance_evaluation.domain.panel import PanelRole
from alliance_evaluation.service import frameworks as use_cases
from alliance_evaluation.service import queries
from alliance_shared.web.conditional import IfMatch, set_etag
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["frameworks"])


class DraftEditsIn(BaseModel):
    """Parts of a draft framework to replace; omitted parts stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Default indicators 2026", "no_evidence_policy": "score_zero_and_flag"}]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    no_evidence_policy: NoEvidencePolicy | None = None
    grade_bands: GradeBands | None = None
    panel_role_weights: dict[PanelRole, Annotated[int, Field(ge=0, le=10_000)]] | None = None
    indicators: list[IndicatorDefinition] | None = Field(default=None, max_length=100)

    def edits(self) -> use_cases.DraftEdits:
        return use_cases.DraftEdits(
            name=self.name,
            no_evidence_policy=self.no_evidence_policy,
            grade_bands=self.grade_bands,
            panel_role_weights=self.panel_role_weights,
            indicators=self.indicators,
        )


class FrameworkSummary(BaseModel):
    framework_id: str
    version: int
    name: str
    status: str
    indicators: int
    published_at: str | None


@router.get("/frameworks", summary="Framework versions by framework id then version, cursor pages")
async def list_frameworks(
    _: AnyReader,
    ctx: Evaluation,
    framework_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    status: FrameworkStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[FrameworkSummary]:
    listed = await queries.list_frameworks(ctx, framework_id=framework_id, status=status, cursor=cursor, limit=limit)
    items = [
        FrameworkSummary(
            framework_id=f.framework_id,
            version=f.version,
            name=f.name,
            status=str(f.status),
            indicators=len(f.indicators),
            published_at=f.published_at.isoformat() if f.published_at else None,
        )
        for f in listed.items
    ]
    return Page(items=items, next_cursor=listed.next_cursor)


@router.get("/frameworks/{framework_id}/versions/{version}", summary="One framework version")
async def get_framework(
    framework_id: str, version: int, response: Response, _: AnyReader, ctx: Evaluation
) -> Framework:
    loaded = await queries.get_framework(ctx, framework_id, version)
    set_etag(response, loaded.version)
    return loaded.item


@router.post(
    "/frameworks/{framework_id}/versions",
    status_code=201,
    summary="Derive the next draft version from the latest published one",
)
async def new_draft(
    framework_id: str, body: DraftEditsIn, response: Response, _: Supervisor, ctx: Evaluation
) -> Framework:
    outcome = await use_cases.create_draft(ctx, framework_id, body.edits())
    set_etag(response, outcome.version)
    return outcome.item


@router.put("/frameworks/{framework_id}/versions/{version}", summary="Edit a draft")
async def edit_draft(
    framework_id: str,
    version: int,
    body: DraftEditsIn,
    response: Response,
    _: Supervisor,
    expected: IfMatch,
    ctx: Evaluation,
) -> Framework:
    outcome = await use_cases.edit_draft(ctx, framework_id, version, expected, body.edits())
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/frameworks/{framework_id}/versions/{version}/publish",
    summary="Publish a draft: it becomes immutable and usable by cycles",
)
async def publish(
    framework_id: str, version: int, response: Response, principal: Supervisor, expected: IfMatch, ctx: Evaluation
) -> Framework:
    outcome = await use_cases.publish_framework(ctx, framework_id, version, expected, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item
