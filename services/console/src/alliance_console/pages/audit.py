"""Auditors: each service's hash-chained audit trail, its chain verification and its records."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from alliance_console.i18n import _
from alliance_console.web import render, require

router = APIRouter(prefix="/audit")

SERVICES = ("registry", "funding", "evaluation", "notifications")
PAGE_SIZE = 50


def service_label(service: str) -> str:
    labels = {
        "registry": _("Registry"),
        "funding": _("Funding"),
        "evaluation": _("Evaluation"),
        "notifications": _("Notifications"),
    }
    return labels.get(service, service)


@router.get("", include_in_schema=False)
async def trail(
    request: Request,
    service: str = "registry",
    entity: str | None = None,
    entity_id: str | None = None,
    after_seq: int = 0,
) -> HTMLResponse:
    _person, api = require(request, "auditor")
    if service not in SERVICES:
        service = "registry"
    verification = await api.get(service, "/audit/verify")
    page = await api.get(service, "/audit/records", entity=entity, entity_id=entity_id, after_seq=after_seq,
                         limit=PAGE_SIZE)  # fmt: skip
    return render(
        request, "audit/trail.html", services=SERVICES, verification=verification, records=page.get("items", []),
        next_after_seq=page.get("next_after_seq"), service_label=service_label,
        filters={"service": service, "entity": entity or "", "entity_id": entity_id or ""},
    )  # fmt: skip
