"""Results: every result of an agreement with its trend, and one result with its breakdown."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from alliance_evaluation.adapters.http.access import ReadableAgreementResults, ReadableResult
from alliance_evaluation.domain.result import EvaluationResult
from alliance_shared.web.conditional import set_etag

router = APIRouter(tags=["results"])


class TrendPoint(BaseModel):
    result_id: str
    cycle_id: str
    cycle_kind: str
    score_hundredths: int
    grade: str
    overall_risk: str
    status: str
    completed_at: str

    @classmethod
    def of(cls, result: EvaluationResult) -> TrendPoint:
        return cls(
            result_id=result.result_id,
            cycle_id=result.cycle_id,
            cycle_kind=str(result.cycle_kind),
            score_hundredths=result.score_hundredths,
            grade=str(result.grade),
            overall_risk=str(result.overall_risk),
            status=str(result.status),
            completed_at=result.completed_at.isoformat(),
        )


class AgreementResultsOut(BaseModel):
    agreement_id: str
    results: list[EvaluationResult]
    trend: list[TrendPoint] = Field(description="current results, oldest first")


@router.get("/agreements/{agreement_id}/results", summary="Every result of an agreement and its trend")
async def agreement_results(agreement_id: str, results: ReadableAgreementResults) -> AgreementResultsOut:
    trend = [TrendPoint.of(r) for r in results if r.is_current]
    return AgreementResultsOut(agreement_id=agreement_id, results=results, trend=trend)


@router.get("/results/{result_id}", summary="A result with its breakdown and explanations")
async def get_result(result: ReadableResult, response: Response) -> EvaluationResult:
    set_etag(response, result.version)
    return result.item
