"""Panels of a cycle: seat an evaluator (conflict of interest checked), read, score."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.adapters.http.access import ReadablePanel, ScorablePanel
from alliance_evaluation.adapters.http.deps import Evaluation, Scorer, Supervisor
from alliance_evaluation.domain.panel import Panel, PanelMember, PanelRole
from alliance_evaluation.service import cycles as use_cases
from alliance_shared.web.conditional import set_etag

router = APIRouter(tags=["panels"])

Id = Annotated[str, Field(min_length=1, max_length=100)]


class PanelMemberIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"evaluator_id": "eval-017", "role": "industry_expert", "affiliation_partner_ids": ["assoc-3"]}
            ]
        },
    )

    evaluator_id: Id
    role: PanelRole
    affiliation_partner_ids: list[Id] = Field(default_factory=list, max_length=50)

    def member(self) -> PanelMember:
        return PanelMember(
            evaluator_id=self.evaluator_id, role=self.role, affiliation_partner_ids=tuple(self.affiliation_partner_ids)
        )


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"score": 82}]})

    score: int = Field(strict=True, ge=0, le=100)


@router.post(
    "/cycles/{cycle_id}/panels/{agreement_id}/members",
    status_code=201,
    summary="Seat an evaluator (conflict-of-interest checked)",
)
async def seat(
    cycle_id: str, agreement_id: str, body: PanelMemberIn, response: Response, principal: Supervisor, ctx: Evaluation
) -> Panel:
    outcome = await use_cases.seat_member(ctx, cycle_id, agreement_id, body.member(), principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.get("/cycles/{cycle_id}/panels/{agreement_id}", summary="A panel and its scores")
async def get_panel(panel: ReadablePanel, response: Response) -> Panel:
    set_etag(response, panel.version)
    return panel.item


@router.put(
    "/cycles/{cycle_id}/panels/{agreement_id}/scores/{indicator_code}",
    summary="Score a panel indicator (panel members only; the token's subject is the evaluator id)",
)
async def score(
    cycle_id: str,
    agreement_id: str,
    indicator_code: str,
    body: ScoreIn,
    response: Response,
    principal: Scorer,
    _: ScorablePanel,
    ctx: Evaluation,
) -> Panel:
    outcome = await use_cases.record_score(ctx, cycle_id, agreement_id, principal.subject, indicator_code, body.score)
    set_etag(response, outcome.version)
    return outcome.item
