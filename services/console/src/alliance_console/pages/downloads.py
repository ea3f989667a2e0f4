"""The services' CSV/XLSX downloads, fetched by the console with the person's own token
(the browser never talks to a service port). Only the exports listed here are relayed,
each with the filters its list page uses; who may download what is the service's."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alliance_console import i18n
from alliance_console.api import download
from alliance_console.web import require

router = APIRouter(prefix="/downloads")

FORMATS = ("csv", "xlsx")
FUNDING_STAFF = ("funding_officer", "funding_approver", "auditor")
REGISTER_READERS = ("registry_admin", "auditor", "enterprise", "agency_staff")


@dataclass(frozen=True)
class Export:
    service: str
    #: The list's path; ``{name}`` parts are filled from the query (quoted).
    path: str
    roles: tuple[str, ...]
    #: Query parameters passed on: the path's parts and the list's filters.
    params: tuple[str, ...] = ()


EXPORTS = {
    "partners": Export("registry", "/partners", ("registry_admin", "auditor"), ("q", "kind", "region", "sector")),
    "agreements": Export("registry", "/agreements", ("registry_admin", "auditor"), ("status",)),
    "incentives": Export("registry", "/incentives", REGISTER_READERS, ("kind", "status")),
    "deliveries": Export("notifications", "/deliveries", ("ops", "auditor"), ("channel", "status", "partner_id")),
    "applications": Export("funding", "/applications", FUNDING_STAFF, ("programme_id",)),
    "awards": Export("funding", "/awards", FUNDING_STAFF, ("programme_id",)),
    "surcharge-statements": Export("funding", "/surcharge-credit-statements", FUNDING_STAFF),
    "ranking": Export("evaluation", "/cycles/{cycle_id}/ranking", ("supervisor", "auditor"), ("cycle_id",)),
    "results": Export(
        "evaluation",
        "/agreements/{agreement_id}/results",
        ("supervisor", "auditor", "college", "enterprise"),
        ("agreement_id",),
    ),
}


@router.get("/{name}.{fmt}", include_in_schema=False)
async def relay(request: Request, name: str, fmt: str) -> Response:
    export = EXPORTS.get(name)
    if export is None or fmt not in FORMATS:
        return Response(status_code=404)
    _person, api = require(request, *export.roles)
    given = {key: str(request.query_params.get(key) or "") for key in export.params}
    parts = {key: quote(value, safe="") for key, value in given.items() if f"{{{key}}}" in export.path}
    if any(not value for value in parts.values()) or len(parts) != export.path.count("{"):
        return Response(status_code=404)
    filters = {key: value for key, value in given.items() if key not in parts}
    answer = await download(
        api, export.service, export.path.format(**parts), i18n.current_language(), {**filters, "format": fmt}
    )
    kept = {key: answer.headers[key] for key in ("content-disposition", "content-language") if key in answer.headers}
    return Response(answer.content, media_type=answer.headers.get("content-type"), headers=kept)
