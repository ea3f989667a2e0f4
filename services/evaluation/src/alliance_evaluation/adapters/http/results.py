"""Results: every result of an agreement with its trend (JSON, or a CSV / XLSX download),
and one result with its breakdown."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from alliance_evaluation.adapters.http.access import ReadableAgreementResults, ReadableResult
from alliance_evaluation.domain.evidence import fmt
from alliance_evaluation.domain.result import EvaluationResult
from alliance_shared.web.conditional import set_etag
from alliance_shared.web.exports import DOWNLOADABLE, Column, ListFormat, columns, export_response, requested_format

router = APIRouter(tags=["results"])

RESULT_COLUMNS: tuple[Column, ...] = columns(
    "result_id", "agreement_id", "cycle_id", "kind", "score", "grade", "overall_risk", "status", "completed_at"
)


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


def result_record(result: EvaluationResult) -> dict[str, Any]:
    return {
        "result_id": result.result_id,
        "agreement_id": result.agreement_id,
        "cycle_id": result.cycle_id,
        "kind": str(result.cycle_kind),
        "score": fmt(Fraction(result.score_hundredths, 100)),
        "grade": str(result.grade),
        "overall_risk": str(result.overall_risk),
        "status": str(result.status),
        "completed_at": result.completed_at,
    }


@router.get(
    "/agreements/{agreement_id}/results",
    response_model=AgreementResultsOut,
    responses=DOWNLOADABLE,
    summary="Every result of an agreement and its trend; ?format=csv|xlsx downloads them",
)
async def agreement_results(
    agreement_id: str, request: Request, results: ReadableAgreementResults, format: ListFormat = None
) -> Any:
    download = requested_format(request, format)
    if download is not None:
        records = [result_record(r) for r in results]
        return export_response(request, download, RESULT_COLUMNS, records, f"results-{agreement_id}")
    trend = [TrendPoint.of(r) for r in results if r.is_current]
    return AgreementResultsOut(agreement_id=agreement_id, results=results, trend=trend)


@router.get("/results/{result_id}", summary="A result with its breakdown and explanations")
async def get_result(result: ReadableResult, response: Response) -> EvaluationResult:
    set_etag(response, result.version)
    return result.item
