"""The delivery log: read by ``ops`` and ``auditor``; ``ops`` resends."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from alliance_notifications.adapters.http.deps import LogReader, NotifierDep, Operator
from alliance_notifications.domain.delivery import Attempt, DeliveryStatus
from alliance_notifications.domain.preferences import Category
from alliance_notifications.service import queries
from alliance_notifications.service.deliveries import resend_delivery
from alliance_notifications.service.repositories import DeliveryRecord
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.notifications import Channel
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE
from alliance_shared.persistence.repository import Loaded
from alliance_shared.web.exports import (
    DOWNLOADABLE,
    Column,
    ListFormat,
    columns,
    export_response,
    requested_format,
    whole_list,
)
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["delivery log"])


class DeliveryOrder(StrEnum):
    """``id``: stable id order; ``newest``: latest created first (what an operator reads)."""

    BY_ID = "id"
    NEWEST = "newest"


DELIVERY_COLUMNS: tuple[Column, ...] = columns(
    "delivery_id",
    "event_type",
    "channel",
    "recipient_id",
    "partner_id",
    "template",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "updated_at",
)


class DeliveryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "delivery_id": "5f0c1a52-8c1e-5d55-9a53-6c1c1f0f4b2e",
                    "delivery_key": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10|webhook:wh-col-001|webhook",
                    "event_id": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10",
                    "event_type": "org.coopalliance.evaluation.rectification.ordered.v1",
                    "channel": "webhook",
                    "recipient_id": "webhook:wh-col-001",
                    "partner_id": "col-001",
                    "status": "sent",
                    "attempts": [
                        {"number": 1, "at": "2026-05-06T02:00:01Z", "succeeded": False,
                         "error_code": "webhook.http_503", "error_detail": "endpoint answered 503"},
                        {"number": 2, "at": "2026-05-06T02:00:40Z", "succeeded": True},
                    ],
                }
            ]
        }
    )  # fmt: skip

    delivery_id: str
    delivery_key: str
    event_id: str
    event_type: str
    channel: Channel
    recipient_id: str
    audience_id: str
    partner_id: str | None
    endpoint_id: str | None
    address: str | None
    category: Category
    template: str
    locale: str
    subject: str | None
    status: DeliveryStatus
    next_attempt_at: UtcDateTime | None
    attempts: list[Attempt]
    final_error_code: str | None
    final_error_detail: str | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    resend_of: str | None = None
    version: int

    @classmethod
    def of(cls, loaded: Loaded[DeliveryRecord]) -> DeliveryOut:
        record = loaded.item
        fields = record.delivery.model_dump(mode="json")
        return cls.model_validate({**fields, "resend_of": record.resend_of, "version": loaded.version})


def delivery_record(delivery: DeliveryOut) -> dict[str, Any]:
    last_error = next((a.error_code for a in reversed(delivery.attempts) if a.error_code), None)
    return {
        **delivery.model_dump(mode="json"),
        "attempts": len(delivery.attempts),
        "last_error": delivery.final_error_code or last_error,
    }


@router.get(
    "/deliveries",
    response_model=Page[DeliveryOut],
    responses=DOWNLOADABLE,
    summary="Deliveries, filtered (what was sent about an event); ?format=csv|xlsx downloads the whole list",
)
async def list_deliveries(
    request: Request,
    _: LogReader,
    notifier: NotifierDep,
    event_id: str | None = None,
    recipient_id: str | None = None,
    partner_id: str | None = None,
    channel: Channel | None = None,
    status: DeliveryStatus | None = None,
    order: DeliveryOrder = DeliveryOrder.BY_ID,
    cursor: Cursor = None,
    limit: Limit = 50,
    format: ListFormat = None,
) -> Any:
    async def fetch(at: str | None, size: int = MAX_PAGE_SIZE) -> tuple[list[DeliveryOut], str | None]:
        items, next_cursor = await queries.deliveries_page(
            notifier,
            event_id=event_id,
            recipient_id=recipient_id,
            partner_id=partner_id,
            channel=channel,
            status=status,
            cursor=at,
            limit=size,
            newest_first=order is DeliveryOrder.NEWEST,
        )
        return [DeliveryOut.of(d) for d in items], next_cursor

    download = requested_format(request, format)
    if download is not None:
        records = [delivery_record(d) for d in await whole_list(fetch)]
        return export_response(request, download, DELIVERY_COLUMNS, records, "deliveries")
    items, next_cursor = await fetch(cursor, limit)
    return Page[DeliveryOut](items=items, next_cursor=next_cursor)


@router.get("/deliveries/{delivery_id}", summary="One delivery with every attempt")
async def read_delivery(delivery_id: str, _: LogReader, notifier: NotifierDep) -> DeliveryOut:
    return DeliveryOut.of(await queries.delivery(notifier, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/resend",
    status_code=201,
    summary="Send a final (sent or dead) e-mail or webhook delivery again, as a new delivery",
    description="Send `Idempotency-Key` so a retried request resends once.",
)
async def resend(delivery_id: str, principal: Operator, request: Request, notifier: NotifierDep) -> DeliveryOut:
    operation_id = request.headers.get("idempotency-key") or request.state.request_id
    return DeliveryOut.of(await resend_delivery(notifier, delivery_id, operation_id, principal.subject))
