"""A cycle's ranking and dashboard, as JSON, CSV or XLSX (``?format=csv|xlsx``, or ``Accept:
text/csv`` / the XLSX media type); downloads have headers in the reader's language."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from alliance_evaluation.adapters.http.deps import Evaluation, Overseer
from alliance_evaluation.service import dashboard as reports
from alliance_evaluation.service import queries
from alliance_shared.web.exports import Column, ListFormat, columns, export_response, requested_format

router = APIRouter(tags=["rankings"])

RANKING_COLUMNS: tuple[Column, ...] = columns(
    "rank",
    "agreement_id",
    "result_id",
    "score",
    "grade",
    "previous_score",
    "score_change",
    "trend",
    "programme_ids",
    "programme_names",
    "provinces",
    "modes",
    "overall_risk",
    "formality_risk",
    "actual_depth",
    "declared_depth",
)
GROUPED_RANKING_COLUMNS: tuple[Column, ...] = (*columns("group_by", "group"), *RANKING_COLUMNS)
DASHBOARD_COLUMNS: tuple[Column, ...] = columns("section", "key", "name", "count", "value")


@router.get(
    "/cycles/{cycle_id}/ranking",
    summary="Agreements ranked by score, overall or within each programme, province or mode, with their trend",
)
async def ranking(
    cycle_id: str,
    request: Request,
    _: Overseer,
    ctx: Evaluation,
    format: ListFormat = None,
    group_by: reports.GroupBy | None = None,
) -> Any:
    await queries.get_cycle(ctx, cycle_id)
    rows = await reports.ranking(ctx, cycle_id)
    download = requested_format(request, format)
    if group_by is None:
        if download is not None:
            records = [reports.ranking_record(row) for row in rows]
            return export_response(request, download, RANKING_COLUMNS, records, f"ranking-{cycle_id}")
        return JSONResponse({"cycle_id": cycle_id, "ranking": [row.as_dict() for row in rows]})
    groups = reports.grouped_ranking(rows, group_by)
    if download is not None:
        records = reports.grouped_records(groups, group_by)
        filename = f"ranking-{cycle_id}-by-{group_by}"
        return export_response(request, download, GROUPED_RANKING_COLUMNS, records, filename)
    body = [{"group": group, "ranking": [row.as_dict() for row in members]} for group, members in groups]
    return JSONResponse({"cycle_id": cycle_id, "group_by": group_by, "groups": body})


@router.get(
    "/cycles/{cycle_id}/dashboard",
    summary="Grade distribution, by programme, region and mode, trends, formality risk, overdue rectification",
)
async def get_dashboard(
    cycle_id: str, request: Request, _: Overseer, ctx: Evaluation, format: ListFormat = None
) -> Any:
    await queries.get_cycle(ctx, cycle_id)
    board = await reports.dashboard(ctx, cycle_id)
    download = requested_format(request, format)
    if download is None:
        return JSONResponse(board)
    records = reports.dashboard_records(board)
    return export_response(request, download, DASHBOARD_COLUMNS, records, f"dashboard-{cycle_id}")
