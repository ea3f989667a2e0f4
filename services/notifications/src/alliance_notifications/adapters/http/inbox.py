"""The inbox: any authenticated user, their own inbox only (see ``access``); another
recipient's entry is not found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from alliance_notifications.adapters.http.access import OwnRecipient
from alliance_notifications.adapters.http.deps import NotifierDep
from alliance_notifications.domain.inbox import InboxEntry
from alliance_notifications.domain.preferences import Category
from alliance_notifications.service import inbox as cases
from alliance_notifications.service import queries
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE

router = APIRouter(tags=["inbox"])


class InboxEntryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "inbox_id": "5f0c1a52-8c1e-5d55-9a53-6c1c1f0f4b2e",
                    "recipient_id": "partner:col-001",
                    "event_id": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10",
                    "event_type": "org.coopalliance.funding.tranche.paid.v1",
                    "category": "operational",
                    "subject": "资助资金已拨付（awd-2026-0007 第 2 期）",
                    "body": "王老师，您好：\n...",
                    "locale": "zh-CN",
                    "created_at": "2026-05-06T02:00:01Z",
                    "read_at": None,
                }
            ]
        }
    )

    inbox_id: str
    recipient_id: str
    event_id: str
    event_type: str
    category: Category
    subject: str | None
    body: str | None
    locale: str
    created_at: UtcDateTime
    read_at: UtcDateTime | None = None

    @classmethod
    def of(cls, entry: InboxEntry) -> InboxEntryOut:
        return cls.model_validate(entry.model_dump(mode="json"))


class InboxPage(BaseModel):
    items: list[InboxEntryOut]
    next_before: UtcDateTime | None = Field(description="pass as ?before= for the next (older) page")


class UnreadCount(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"recipient_id": "member:officer-zhang", "unread": 3}]})

    recipient_id: str
    unread: int


class MarkedRead(BaseModel):
    marked: int


@router.get("/inbox", summary="My inbox, newest first", response_model=InboxPage)
async def list_inbox(
    recipient_id: OwnRecipient,
    notifier: NotifierDep,
    unread_only: bool = False,
    before: Annotated[datetime | None, Query(description="entries created before this instant")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> InboxPage:
    entries = await queries.inbox_page(notifier, recipient_id, unread_only=unread_only, before=before, limit=limit + 1)
    items = [InboxEntryOut.of(e) for e in entries[:limit]]
    return InboxPage(items=items, next_before=items[-1].created_at if len(entries) > limit else None)


@router.get("/inbox/unread-count", summary="How many of my notices are unread")
async def count_unread(recipient_id: OwnRecipient, notifier: NotifierDep) -> UnreadCount:
    return UnreadCount(recipient_id=recipient_id, unread=await queries.unread_count(notifier, recipient_id))


@router.post("/inbox/read-all", summary="Mark all my notices read")
async def read_all(recipient_id: OwnRecipient, notifier: NotifierDep) -> MarkedRead:
    return MarkedRead(marked=await cases.mark_all_read(notifier, recipient_id))


@router.post(
    "/inbox/{inbox_id}/read",
    summary="Mark one of my notices read",
    responses={404: {"description": "no such entry in your inbox"}},
)
async def read_one(inbox_id: str, recipient_id: OwnRecipient, notifier: NotifierDep) -> InboxEntryOut:
    return InboxEntryOut.of((await cases.mark_read(notifier, recipient_id, inbox_id)).item)


@router.get(
    "/inbox/stream",
    summary="Live stream of my new notices (server-sent events)",
    description="Events: `unread` (the count, at once) and `notice` (an inbox entry as JSON, id = inbox id). "
    "Keep-alive pings every 15 s.",
    response_class=EventSourceResponse,
)
async def stream(request: Request, recipient_id: OwnRecipient, notifier: NotifierDep) -> EventSourceResponse:
    async def events() -> AsyncIterator[dict[str, Any]]:
        async for news in queries.watch_inbox(notifier, recipient_id, request.is_disconnected):
            if isinstance(news, int):
                yield {"event": "unread", "data": str(news)}
            else:
                entry = InboxEntryOut.of(news)
                yield {"event": "notice", "id": entry.inbox_id, "data": entry.model_dump_json()}

    return EventSourceResponse(events(), ping=15)
