"""Rectification orders: list in cursor pages and read (parties see their own), a supervisor orders one by
hand, the responsible party responds, a supervisor returns or closes (each If-Match)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_evaluation.adapters.http.access import (
    OrderToAnswer,
    OrderToVerify,
    ReadableOrder,
    party_filter,
)
from alliance_evaluation.adapters.http.deps import Evaluation, Party, PartyReader, Supervisor
from alliance_evaluation.domain.rectification import OrderStatus, RectificationOrder
from alliance_evaluation.service import queries
from alliance_evaluation.service import rectification as use_cases
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.web.bodies import ReasonIn
from alliance_shared.web.conditional import IfMatch, set_etag
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["rectification"])


class ResponseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"evidence_refs": ["att://rect/2026/plan-7.pdf"]}]}
    )

    evidence_refs: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(min_length=1, max_length=50)


Id = Annotated[str, Field(min_length=1, max_length=100)]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator_code: Annotated[str, Field(min_length=1, max_length=20)]
    requirement: Annotated[str, Field(min_length=1, max_length=2000)]


class OrderIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "result_id": "res-7",
                    "items": [{"indicator_code": "TT-01", "requirement": "provide the four posts committed"}],
                    "responsible_party_id": "ent-042",
                    "due_at": "2026-09-30T16:00:00Z",
                }
            ]
        },
    )

    result_id: Id
    items: list[ItemIn] = Field(min_length=1, max_length=100)
    responsible_party_id: Id
    due_at: UtcDateTime


@router.post("/rectifications", status_code=201, summary="Order rectification by hand: chosen items, party, deadline")
async def order_by_hand(
    body: OrderIn, response: Response, principal: Supervisor, ctx: Evaluation
) -> RectificationOrder:
    outcome = await use_cases.order_by_hand(
        ctx,
        body.result_id,
        [(item.indicator_code, item.requirement) for item in body.items],
        body.responsible_party_id,
        body.due_at,
        principal.subject,
    )
    set_etag(response, outcome.version)
    return outcome.item


Filter = Annotated[str | None, Query(min_length=1, max_length=100)]


@router.get("/rectifications", summary="Rectification orders by order id, cursor pages (parties: their own)")
async def list_orders(
    principal: PartyReader,
    ctx: Evaluation,
    status: OrderStatus | None = None,
    agreement_id: Filter = None,
    cycle_id: Filter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RectificationOrder]:
    listed = await queries.orders_page(
        ctx,
        party_id=party_filter(principal),
        status=status,
        agreement_id=agreement_id,
        cycle_id=cycle_id,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=listed.items, next_cursor=listed.next_cursor)


@router.get("/rectifications/{order_id}", summary="One rectification order")
async def get_order(order: ReadableOrder, response: Response) -> RectificationOrder:
    set_etag(response, order.version)
    return order.item


@router.post("/rectifications/{order_id}/response", summary="The responsible party answers the order with evidence")
async def respond(
    order: OrderToAnswer, body: ResponseIn, response: Response, principal: Party, expected: IfMatch, ctx: Evaluation
) -> RectificationOrder:
    outcome = await use_cases.respond_to_order(ctx, order.order_id, expected, body.evidence_refs, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.post("/rectifications/{order_id}/return", summary="Return an insufficient response")
async def return_order(
    order: OrderToVerify, body: ReasonIn, response: Response, principal: Supervisor, expected: IfMatch, ctx: Evaluation
) -> RectificationOrder:
    outcome = await use_cases.return_order(ctx, order.order_id, expected, body.reason, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.post("/rectifications/{order_id}/close", summary="Close a verified rectification")
async def close(
    order: OrderToVerify, body: ReasonIn, response: Response, principal: Supervisor, expected: IfMatch, ctx: Evaluation
) -> RectificationOrder:
    outcome = await use_cases.close_order(ctx, order.order_id, expected, body.reason, principal.subject)
    set_etag(response, outcome.version)
    return outcome.item
