"""Reports as JSON, CSV or XLSX: budget execution, the tranche pipeline, an award's money history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from alliance_funding.adapters.http.access import ReadableAward, Staff
from alliance_funding.adapters.http.deps import Now, Repos
from alliance_funding.service import reports
from alliance_shared.web.exports import XLSX_MEDIA_TYPE, render_table

router = APIRouter(tags=["reports"])

Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx")]

REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the report",
        "content": {
            "application/json": {"example": {"title": "tranche pipeline", "rows": []}},
            "text/csv": {"example": "award_id,programme_id,...\n"},
            XLSX_MEDIA_TYPE: {},
        },
    }
}


@router.get(
    "/awards/{award_id}/money-history",
    summary="Every ledger entry of the award (JSON, CSV or XLSX)",
    responses=REPORT_RESPONSES,
)
async def money_history(award_id: str, loaded: ReadableAward, repos: Repos, format: Format = "json") -> Response:
    table = await reports.money_history_table(repos, loaded.item)
    return render_table(table, format, f"money-history-{award_id}")


@router.get(
    "/reports/budget-execution",
    summary="Budget execution per programme, region or cooperation mode (JSON, CSV or XLSX)",
    responses=REPORT_RESPONSES,
)
async def budget_execution_report(
    _: Staff,
    repos: Repos,
    by: Annotated[Literal["programme", "region", "mode"], Query()] = "programme",
    format: Format = "json",
) -> Response:
    return render_table(await reports.budget_execution_table(repos, by), format, f"budget-execution-by-{by}")


@router.get(
    "/reports/tranche-pipeline",
    summary="Tranches waiting, for whom and for how long (JSON, CSV or XLSX)",
    responses=REPORT_RESPONSES,
)
async def tranche_pipeline_report(
    _: Staff,
    repos: Repos,
    clock: Now,
    programme_id: Annotated[str | None, Query(max_length=100)] = None,
    format: Format = "json",
) -> Response:
    table = await reports.tranche_pipeline_table(repos, clock, programme_id)
    return render_table(table, format, "tranche-pipeline")
