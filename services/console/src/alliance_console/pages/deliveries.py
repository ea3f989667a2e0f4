"""The notifications service's delivery log, newest first: each delivery with its channel,
status, attempts and last error, for the roles the service lets read it (operations and auditors),
and resending a final e-mail or webhook delivery for operations, the role the service lets
resend. Colleges and enterprises see their webhook endpoints' state on their webhook page;
the service does not let them read the log itself."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import items_of
from alliance_console.i18n import _
from alliance_console.pages.common import act, partner_names, text
from alliance_console.web import flash, render, require

router = APIRouter(prefix="/notifications")

READERS = ("ops", "auditor")
#: The role the notifications service lets resend, and what it resends: a final e-mail or
#: webhook delivery (the service refuses anything else; the page only offers what it accepts).
RESENDERS = ("ops",)
RESENDABLE_CHANNELS = ("email", "webhook")
RESENDABLE_STATUSES = ("sent", "dead")
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
    person, api = require(request, *READERS)
    page = await api.get(
        "notifications", "/deliveries", channel=channel, status=status, partner_id=partner_id, cursor=cursor,
        limit=PAGE_SIZE, order="newest",
    )  # fmt: skip
    items, next_cursor = items_of(page)
    partners = await partner_names(api, [str(d.get("partner_id")) for d in items if d.get("partner_id")])
    return render(
        request, "notifications/deliveries.html", deliveries=items, next_cursor=next_cursor, channels=CHANNELS,
        partners=partners, can_resend=person.has(*RESENDERS), resendable=resendable,
        operation_id=f"resend-{uuid.uuid4()}",
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


def resendable(delivery: dict[str, object]) -> bool:
    return delivery.get("channel") in RESENDABLE_CHANNELS and delivery.get("status") in RESENDABLE_STATUSES


@router.post("/deliveries/{delivery_id}/resend", include_in_schema=False)
async def resend(request: Request, delivery_id: str) -> RedirectResponse:
    """Send a delivery again as a new one; the form's operation id is the Idempotency-Key,
    so the same form sent twice resends once."""
    _person, api = require(request, *RESENDERS)
    resent: dict[str, Any] = {}

    async def call(form: FormData) -> None:
        path = f"/deliveries/{quote(delivery_id, safe='')}/resend"
        resent.update(await api.post("notifications", path, idempotency_key=text(form, "operation_id") or None))

    answer = await act(request, "resend", "/notifications/deliveries", call, _("Sent again as a new delivery."))
    refused = request.session.get("form_state")
    if refused and refused.get("name") == "resend":
        # The refusal names the delivery it concerns (shown above the log).
        request.session["form_state"] = {**refused, "values": {**refused["values"], "delivery_id": delivery_id}}
    elif resent.get("delivery_id"):
        # The new delivery's number, so that it can be found in the log.
        flash(request, _("Sent again as a new delivery: {delivery_id}.").format(delivery_id=resent["delivery_id"]))
    return answer
