"""The notifications service's delivery log: each delivery with its channel, status,
attempts and last error, for the roles the service lets read it (operations and auditors).
Colleges and enterprises see their webhook endpoints' state on their webhook page; the
service does not let them read the log itself."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from alliance_console.api import items_of
from alliance_console.web import render, require

router = APIRouter(prefix="/notifications")

READERS = ("ops", "auditor")
CHANNELS = ("email", "webhook", "inbox")
STATUSES = ("pending", "scheduled", "sent", "failed", "dead", "skipped_by_preference", "unroutable")
PAGE_SIZE = 20


@router.get("/deliveries", include_in_schema=False)
async def deliveries(
    request: Request,
    channel: str | None = None,
    status: str | None = None,
    partner_id: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    _person, api = require(request, *READERS)
    page = await api.get(
        "notifications", "/deliveries", channel=channel, status=status, partner_id=partner_id, cursor=cursor,
        limit=PAGE_SIZE,
    )  # fmt: skip
    items, next_cursor = items_of(page)
    return render(
        request, "notifications/deliveries.html", deliveries=items, next_cursor=next_cursor, channels=CHANNELS,
        statuses=STATUSES, last_error=last_error,
        filters={"channel": channel or "", "status": status or "", "partner_id": partner_id or ""},
    )  # fmt: skip


def last_error(delivery: dict[str, object]) -> str:
    """The final error, else the latest failed attempt's (code and detail as the service gave them)."""
    if delivery.get("final_error_code"):
        return f"{delivery['final_error_code']}: {delivery.get('final_error_detail') or ''}".rstrip(": ")
    attempts = delivery.get("attempts")
    for attempt in reversed(attempts if isinstance(attempts, list) else []):
        if attempt.get("error_code"):
            return f"{attempt['error_code']}: {attempt.get('error_detail') or ''}".rstrip(": ")
    return ""
