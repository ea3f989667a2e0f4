"""Evaluation cycles: open, list (cursor pages), read, close the evidence window (If-Match), complete (If-Match);
and the funding programmes a cycle can be opened for (the read model of funding's events)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alliance_evaluation.adapters.http.deps import CycleReader, Evaluation, Supervisor
from alliance_evaluation.domain.cycle import Cycle, CycleStatus
from alliance_evaluation.domain.evidence import EvidenceWindow
from alliance_evaluation.service import cycles as use_cases
from alliance_evaluation.service import programmes, queries
from alliance_evaluation.service.records import ProgrammeView
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.vocabulary import CycleKind
from alliance_shared.web.conditional import IfMatch, set_etag
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["cycles"])

Id = Annotated[str, Field(min_length=1, max_length=100)]


class OpenCycleIn(BaseModel):
    """Open a cycle for agreements chosen by id, for all active agreements with a party in a region,
    or for all active agreements a funding programme awarded funds to."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "annual",
                    "name": "Annual evaluation 2025",
                    "agreement_ids": ["agr-7f3c"],
                    "window_start": "2025-01-01",
                    "window_end": "2025-12-31",
                    "due_at": "2026-02-28T16:00:00Z",
                    "framework_id": "default",
                    "framework_version": 1,
                },
                {
                    "kind": "mid_term",
                    "name": "Zhejiang mid-term 2025",
                    "region_prefix": "33",
                    "window_start": "2025-01-01",
                    "window_end": "2025-06-30",
                    "due_at": "2025-08-31T16:00:00Z",
                    "framework_id": "default",
                    "framework_version": 1,
                },
                {
                    "kind": "annual",
                    "name": "Shenzhen programme 2026, annual",
                    "programme_id": "prg-2026-sz",
                    "window_start": "2026-01-01",
                    "window_end": "2026-12-31",
                    "due_at": "2027-02-28T16:00:00Z",
                    "framework_id": "default",
                    "framework_version": 1,
                },
            ]
        },
    )

    kind: CycleKind
    name: str = Field(min_length=1, max_length=200)
    agreement_ids: list[Id] | None = Field(default=None, min_length=1, max_length=2000)
    region_prefix: str | None = Field(default=None, pattern=r"^[0-9]{2,6}$")
    programme_id: Id | None = None
    window_start: date
    window_end: date
    due_at: UtcDateTime
    framework_id: Id = "default"
    framework_version: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        chosen = [s for s in (self.agreement_ids, self.region_prefix, self.programme_id) if s is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of agreement_ids, region_prefix or programme_id")
        if self.window_end < self.window_start:
            raise ValueError("window_end lies on or after window_start")
        return self

    def spec(self) -> use_cases.CycleSpec:
        return use_cases.CycleSpec(
            kind=self.kind,
            name=self.name,
            window=EvidenceWindow(start=self.window_start, end=self.window_end),
            due_at=self.due_at,
            framework_id=self.framework_id,
            framework_version=self.framework_version,
            agreement_ids=self.agreement_ids or (),
            region_prefix=self.region_prefix,
            programme_id=self.programme_id,
        )


@router.post("/cycles", status_code=201, summary="Open an evaluation cycle")
async def open_cycle(body: OpenCycleIn, response: Response, principal: Supervisor, ctx: Evaluation) -> Cycle:
    outcome = await use_cases.open_cycle(ctx, body.spec(), principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.get("/cycles", summary="Cycles by cycle id, cursor pages, optionally of one status")
async def list_cycles(
    _: CycleReader, ctx: Evaluation, status: CycleStatus | None = None, cursor: Cursor = None, limit: Limit = 50
) -> Page[Cycle]:
    listed = await queries.list_cycles(ctx, status=status, cursor=cursor, limit=limit)
    return Page(items=listed.items, next_cursor=listed.next_cursor)


@router.get("/cycles/{cycle_id}", summary="One cycle")
async def get_cycle(cycle_id: str, response: Response, _: CycleReader, ctx: Evaluation) -> Cycle:
    loaded = await queries.get_cycle(ctx, cycle_id)
    set_etag(response, loaded.version)
    return loaded.item


@router.post("/cycles/{cycle_id}/start-scoring", summary="Close the evidence window")
async def start_scoring(
    cycle_id: str, response: Response, principal: Supervisor, expected: IfMatch, ctx: Evaluation
) -> Cycle:
    outcome = await use_cases.start_scoring(ctx, cycle_id, expected, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.post(
    "/cycles/{cycle_id}/complete",
    summary="Score every agreement, record results, order rectification, complete the cycle",
)
async def complete(
    cycle_id: str, response: Response, principal: Supervisor, expected: IfMatch, ctx: Evaluation
) -> Cycle:
    outcome = await use_cases.complete_cycle(ctx, cycle_id, expected, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.get(
    "/programmes/{programme_id}",
    summary="A funding programme as evaluation knows it: its name and the agreements it awarded funds to",
)
async def get_programme(programme_id: str, _: CycleReader, ctx: Evaluation) -> ProgrammeView:
    return await programmes.get_programme(ctx, programme_id)
