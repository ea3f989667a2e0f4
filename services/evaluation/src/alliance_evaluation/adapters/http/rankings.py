"""A cycle's ranking and dashboard, as JSON or CSV (``?format=csv`` or ``Accept: text/csv``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from alliance_evaluation.adapters.http.deps import Evaluation, Format, Overseer
from alliance_evaluation.service import dashboard as reports
from alliance_evaluation.service import queries
from alliance_shared.web.exports import csv_response, wants_csv

router = APIRouter(tags=["rankings"])


@router.get("/cycles/{cycle_id}/ranking", summary="Agreements ranked by score (JSON or CSV)")
async def ranking(cycle_id: str, request: Request, _: Overseer, ctx: Evaluation, format: Format = None) -> Any:
    await queries.get_cycle(ctx, cycle_id)
    rows = await reports.ranking(ctx, cycle_id)
    if wants_csv(request, format):
        table = reports.ranking_table(cycle_id, rows)
        return csv_response(table.header, table.rows, f"ranking-{cycle_id}.csv")
    return JSONResponse({"cycle_id": cycle_id, "ranking": [r.__dict__ for r in rows]})


@router.get(
    "/cycles/{cycle_id}/dashboard",
    summary="Grade distribution, by region and mode, formality risk, overdue rectification (JSON or CSV)",
)
async def get_dashboard(cycle_id: str, request: Request, _: Overseer, ctx: Evaluation, format: Format = None) -> Any:
    await queries.get_cycle(ctx, cycle_id)
    board = await reports.dashboard(ctx, cycle_id)
    if not wants_csv(request, format):
        return JSONResponse(board)
    table = reports.dashboard_table(board)
    return csv_response(table.header, table.rows, f"dashboard-{cycle_id}.csv")
