"""Appeals: a party lodges one against a result; a supervisor not on the panel decides
(If-Match); the list shows pending appeals first (parties: their own agreements')."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.adapters.http.access import AppealableResult, ReadableAppeal, party_filter
from alliance_evaluation.adapters.http.deps import Evaluation, Party, PartyReader, Supervisor
from alliance_evaluation.domain.appeal import Appeal, AppealStatus
from alliance_evaluation.domain.panel import ScoreCorrection
from alliance_evaluation.domain.result import EvaluationResult
from alliance_evaluation.service import appeals as use_cases
from alliance_evaluation.service import queries
from alliance_shared.contract.evaluation import AppealDecision
from alliance_shared.contract.vocabulary import Reason
from alliance_shared.web.conditional import IfMatch, set_etag
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["appeals"])


class AppealIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"grounds": "Placements of the autumn term were reported late; see PL-2025-0101…"}]
        },
    )

    grounds: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "upheld", "reason": "late reports verified with the college"},
                {
                    "decision": "upheld",
                    "reason": "the on-site check missed the second training base",
                    "score_corrections": [
                        {
                            "evaluator_id": "expert-chen",
                            "indicator_code": "PR-02",
                            "score": 85,
                            "given_by": "original_evaluator",
                            "reason": "the second base was verified on a follow-up visit",
                        }
                    ],
                },
            ]
        },
    )

    decision: AppealDecision
    reason: Reason
    score_corrections: list[ScoreCorrection] = Field(
        default_factory=list,
        max_length=100,
        description="upheld only: new panel scores, each by the original evaluator or the deciding supervisor",
    )


class DecisionOut(BaseModel):
    appeal: Appeal
    new_result: EvaluationResult | None


@router.post(
    "/results/{result_id}/appeals",
    status_code=201,
    summary="Appeal a result (a party, within the working-day window)",
)
async def lodge(
    result: AppealableResult, body: AppealIn, response: Response, principal: Party, ctx: Evaluation
) -> Appeal:
    assert principal.partner_id is not None  # a party token is bound to its partner
    outcome = await use_cases.lodge_appeal(ctx, result, principal.partner_id, body.grounds, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


Filter = Annotated[str | None, Query(min_length=1, max_length=100)]


@router.get(
    "/appeals",
    summary="Appeals, pending first then oldest first, cursor pages (parties: about their own agreements)",
)
async def list_appeals(
    principal: PartyReader,
    ctx: Evaluation,
    status: AppealStatus | None = None,
    agreement_id: Filter = None,
    cycle_id: Filter = None,
    result_id: Filter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[Appeal]:
    listed = await queries.appeals_page(
        ctx,
        party_id=party_filter(principal),
        status=status,
        agreement_id=agreement_id,
        cycle_id=cycle_id,
        result_id=result_id,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=listed.items, next_cursor=listed.next_cursor)


@router.get("/appeals/{appeal_id}", summary="One appeal")
async def get_appeal(appeal: ReadableAppeal, response: Response) -> Appeal:
    set_etag(response, appeal.version)
    return appeal.item


@router.post(
    "/appeals/{appeal_id}/decision",
    summary="Decide an appeal (a supervisor not on the panel); upheld may correct panel scores, "
    "re-scores and supersedes the result",
)
async def decide(
    appeal_id: str, body: DecisionIn, response: Response, principal: Supervisor, expected: IfMatch, ctx: Evaluation
) -> DecisionOut:
    outcome, new_result = await use_cases.decide_appeal(
        ctx, appeal_id, expected, body.decision, body.reason, principal.subject, body.score_corrections
    )
    set_etag(response, outcome.version)
    return DecisionOut(appeal=outcome.item, new_result=new_result)
