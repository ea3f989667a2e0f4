"""The incentive register of catalogue enterprises: an agency's staff records what its
agency grants and reads what it granted; an enterprise reads its own entries; registry
admins and auditors read every register. The registry scopes every list by the token,
and every rule (catalogue, validity, amounts) is the registry's."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import items_of
from alliance_console.i18n import _
from alliance_console.pages.common import act, amount, start_of_day, text
from alliance_console.web import render, require

router = APIRouter(prefix="/incentives")

READERS = ("agency_staff", "enterprise", "registry_admin", "auditor")
#: What an agency records (fiscal entries come from the funding service's awards).
RECORDABLE_KINDS = ("tax", "financial", "land", "credit")
KINDS = ("fiscal", *RECORDABLE_KINDS)
STATUSES = ("open", "suspended")
PAGE_SIZE = 20


@router.get("", include_in_schema=False)
async def register(
    request: Request, kind: str | None = None, status: str | None = None, cursor: str | None = None
) -> HTMLResponse:
    person, api = require(request, *READERS)
    page = await api.get("registry", "/incentives", kind=kind, status=status, cursor=cursor, limit=PAGE_SIZE)
    items, next_cursor = items_of(page)
    return render(
        request, "registry/incentives.html", entries=items, next_cursor=next_cursor, kinds=KINDS,
        statuses=STATUSES, recordable_kinds=RECORDABLE_KINDS, filters={"kind": kind or "", "status": status or ""},
        can_record=person.has("agency_staff"), today=date.today().isoformat(),
    )  # fmt: skip


@router.post("", include_in_schema=False)
async def record(request: Request) -> RedirectResponse:
    """Record what the person's agency grants an enterprise (the registry binds the agency to their token)."""
    _person, api = require(request, "agency_staff")

    async def call(form: FormData) -> None:
        body = {
            "partner_id": text(form, "partner_id"),
            "kind": text(form, "kind"),
            "reference": text(form, "reference"),
            "amount_minor": amount(form, "amount", required=False),
            "valid_from": start_of_day(form, "valid_from"),
            "valid_to": start_of_day(form, "valid_to", required=False),
        }
        await api.post("registry", "/incentives", body)

    return await act(request, "incentive", "/incentives", call, _("Incentive recorded."))
