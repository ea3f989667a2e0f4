"""Registry admin (and auditor, read-only): partners by name, region, sector and kind;
registering a partner (the credit-code check is the registry's); agreements."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from alliance_console.api import ApiError, items_of
from alliance_console.i18n import _
from alliance_console.pages.common import act, integer, text
from alliance_console.web import render, require

router = APIRouter(prefix="/registry")

READERS = ("registry_admin", "auditor")
COLLEGE_LEVELS = ("higher_vocational", "secondary_vocational", "technician_college", "vocational_undergraduate")
ENTERPRISE_SIZES = ("large", "medium", "small", "micro")
KINDS = ("college", "enterprise", "industry_association", "government_agency", "research_institute")
PAGE_SIZE = 20


@router.get("/partners", include_in_schema=False)
async def partners(
    request: Request,
    q: str | None = None,
    kind: str | None = None,
    region: str | None = None,
    sector: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    person, api = require(request, *READERS)
    page = await api.get(
        "registry", "/partners", q=q, kind=kind, region=region, sector=sector, cursor=cursor, limit=PAGE_SIZE
    )
    items, next_cursor = items_of(page)
    return render(
        request, "registry/partners.html", partners=items, next_cursor=next_cursor, kinds=KINDS,
        college_levels=COLLEGE_LEVELS, enterprise_sizes=ENTERPRISE_SIZES,
        filters={"q": q or "", "kind": kind or "", "region": region or "", "sector": sector or ""},
        can_create=person.has("registry_admin"),
    )  # fmt: skip


@router.post("/partners", include_in_schema=False)
async def create_partner(request: Request) -> RedirectResponse:
    _person, api = require(request, "registry_admin")

    async def call(form: FormData) -> None:
        body: dict[str, Any] = {
            "kind": text(form, "kind"),
            "name_zh": text(form, "name_zh"),
            "credit_code": text(form, "credit_code"),
            "region_code": text(form, "region_code"),
            "sector_code": text(form, "sector_code"),
            "address": text(form, "address"),
            "contacts": [{"name": text(form, "contact_name"), "email": text(form, "contact_email"),
                          "phone": text(form, "contact_phone"), "position": text(form, "contact_position")}],
        }  # fmt: skip
        kind = text(form, "kind")
        if kind == "college":
            majors = [m.strip() for m in text(form, "majors").replace("，", ",").split(",") if m.strip()]
            body["college"] = {"level": text(form, "college_level"), "majors": majors}
        elif kind == "enterprise":
            body["enterprise"] = {"size": text(form, "enterprise_size"), "headcount": integer(form, "headcount")}
        await api.post("registry", "/partners", body)

    return await act(request, "partner", "/registry/partners", call, _("Partner registered."))


@router.get("/agreements", include_in_schema=False)
async def agreements(request: Request, status: str | None = None, cursor: str | None = None) -> HTMLResponse:
    _person, api = require(request, *READERS)
    items, next_cursor = items_of(
        await api.get("registry", "/agreements", status=status, cursor=cursor, limit=PAGE_SIZE)
    )
    return render(request, "partner/agreements.html", agreements=items, next_cursor=next_cursor)  # fmt: skip


@router.get("/alliance", include_in_schema=False)
async def alliance(
    request: Request, cursor: str | None = None, certification_cursor: str | None = None
) -> HTMLResponse:
    """Members, the council and the certified-enterprise catalogue, as the registry keeps them."""
    _person, api = require(request, *READERS)
    members, next_cursor = items_of(await api.get("registry", "/memberships", cursor=cursor, limit=PAGE_SIZE))
    certifications, next_certifications = items_of(
        await api.get("registry", "/certifications", cursor=certification_cursor, limit=PAGE_SIZE)
    )
    try:
        council: dict[str, Any] | None = await api.get("registry", "/council")
    except ApiError as error:
        if error.status != 404:
            raise
        council = None  # not constituted yet
    return render(
        request, "registry/alliance.html", members=members, next_cursor=next_cursor, council=council,
        certifications=certifications, next_certifications=next_certifications,
    )  # fmt: skip


def reason_label(code: str) -> str:
    """A matching reason in the person's language (the registry's English text for unknown codes)."""
    labels = {
        "match.sector_fit": _("Its industry serves the college's majors"),
        "match.same_region": _("In the college's region"),
        "match.same_province": _("In the college's province"),
        "match.certified": _("Certified industry-education integration enterprise"),
        "match.spare_capacity": _("Room for more cooperation"),
        "match.existing_partner": _("Already cooperates with the college"),
    }
    return labels.get(code, "")


@router.get("/matching", include_in_schema=False)
async def matching(request: Request, college_id: str | None = None, majors: str | None = None) -> HTMLResponse:
    """Enterprises a college could approach, ranked by the registry, each with its reasons."""
    _person, api = require(request, *READERS)
    chosen = [m.strip() for m in (majors or "").replace("，", ",").split(",") if m.strip()]
    found: dict[str, Any] | None = None
    if college_id:
        found = await api.get("registry", f"/matching/{college_id.strip()}", majors=chosen or None, limit=PAGE_SIZE)
    return render(
        request, "registry/matching.html", found=found, reason_label=reason_label,
        filters={"college_id": college_id or "", "majors": majors or ""},
    )  # fmt: skip
