"""The incentive register of catalogue enterprises: an agency's staff records what its
partner grants (tax, financial, land, credit; fiscal entries come from funding's awards);
registry admins and auditors read every register, an enterprise its own, an agency what
it granted. Lists page as JSON or download whole as CSV (UTF-8 with BOM) or XLSX, with
headers in the reader's language and amounts in yuan; summaries per enterprise, region
or kind."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.adapters.http.deps import AppClock, Repos
from alliance_registry.domain.incentive import Grant, IncentiveEntry, IncentiveStatus
from alliance_registry.service import incentive_register, incentives
from alliance_registry.service.incentive_register import IncentiveFilter, SummaryBy, SummaryRow
from alliance_shared.auth.dependencies import forbid_unless, require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.registry import IncentiveKind
from alliance_shared.contract.vocabulary import Role
from alliance_shared.web.conditional import set_etag
from alliance_shared.web.exports import Column, columns, export_response
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["incentives"])

AgencyStaff = Annotated[Principal, Depends(require_roles(Role.AGENCY_STAFF))]
RegisterReader = Annotated[
    Principal, Depends(require_roles(Role.REGISTRY_ADMIN, Role.AUDITOR, Role.ENTERPRISE, Role.AGENCY_STAFF))
]
Format = Annotated[
    Literal["json", "csv", "xlsx"], Query(description="csv or xlsx downloads every matching row; json pages")
]
PartnerQuery = Annotated[str | None, Query(max_length=100, description="the enterprise")]
AgencyQuery = Annotated[str | None, Query(max_length=100, description="the granting agency partner")]


class IncentiveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "ent-042",
                    "kind": "financial",
                    "reference": "SZ-BANK-2026-0193 loan interest subsidy",
                    "amount_minor": 12_000_000,
                    "valid_from": "2026-03-01T00:00:00Z",
                    "valid_to": "2027-03-01T00:00:00Z",
                }
            ]
        },
    )

    partner_id: str = Field(min_length=1, max_length=100, description="the certified enterprise")
    kind: IncentiveKind = Field(description="tax, financial, land or credit (fiscal entries come from funding)")
    reference: str = Field(min_length=1, max_length=200, description="the agency's own reference, unique per kind")
    amount_minor: int | None = Field(default=None, ge=0, le=10**15, description="money kinds only: CNY fen")
    valid_from: UtcDateTime
    valid_to: UtcDateTime | None = None


ENTRY_COLUMNS: tuple[Column, ...] = columns(
    "entry_id",
    "enterprise_id",
    "enterprise_name",
    "region_code",
    "certification_id",
    "incentive_kind",
    "agency_id",
    "agency_name",
    "reference",
    "incentive_yuan",
    "valid_from",
    "valid_to",
    "status",
    yuan=("incentive_yuan",),
)
SUMMARY_COLUMNS: tuple[Column, ...] = columns(
    "group",
    "name",
    "entries",
    "open_entries",
    "suspended_entries",
    "total_yuan",
    "open_yuan",
    yuan=("total_yuan", "open_yuan"),
)


def entry_record(entry: IncentiveEntry) -> dict[str, Any]:
    """An entry under the export catalog's names (the enterprise is its partner)."""
    return {
        **entry.model_dump(mode="json"),
        "enterprise_id": entry.partner_id,
        "enterprise_name": entry.partner_name,
        "incentive_kind": entry.kind.value,
        "incentive_yuan": entry.amount_minor,
    }


def summary_record(row: SummaryRow) -> dict[str, Any]:
    return {
        **row.model_dump(),
        "group": row.key,
        "total_yuan": row.amount_minor,
        "open_yuan": row.open_amount_minor,
    }


def scoped(principal: Principal, f: IncentiveFilter) -> IncentiveFilter:
    """An enterprise reads its own register, an agency what it granted; admins and auditors all."""
    if principal.has_any(Role.REGISTRY_ADMIN, Role.AUDITOR):
        return f
    if principal.has_any(Role.ENTERPRISE):
        forbid_unless(f.partner_id in (None, principal.partner_id), "you may read only your own incentive register")
        return IncentiveFilter(principal.partner_id, f.kind, f.agency_id, f.status)
    forbid_unless(f.agency_id in (None, principal.partner_id), "you may read only the incentives your agency granted")
    return IncentiveFilter(f.partner_id, f.kind, principal.partner_id, f.status)


@router.post(
    "/incentives",
    status_code=201,
    summary="Record an incentive the caller's agency grants a catalogue enterprise",
    responses={
        409: {"description": "this agency recorded that reference of that kind before"},
        422: {"description": "not in the catalogue, dated outside the certification, amount rules"},
    },
)
async def record_incentive(
    body: IncentiveIn, response: Response, principal: AgencyStaff, repos: Repos, clock: AppClock
) -> IncentiveEntry:
    grant = Grant(
        kind=body.kind,
        agency_id=principal.partner_id,
        reference=body.reference,
        amount_minor=body.amount_minor,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    outcome = await incentives.record(repos, clock, grant, partner_id=body.partner_id, actor_id=principal.subject)
    set_etag(response, outcome.version)
    return outcome.item


@router.get(
    "/incentives",
    summary="The incentive register (cursor pagination; format=csv|xlsx downloads every matching entry)",
    response_model=Page[IncentiveEntry],
)
async def list_incentives(
    request: Request,
    principal: RegisterReader,
    repos: Repos,
    partner_id: PartnerQuery = None,
    kind: IncentiveKind | None = None,
    agency_id: AgencyQuery = None,
    status: IncentiveStatus | None = None,
    format: Format = "json",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response | Page[IncentiveEntry]:
    f = scoped(principal, IncentiveFilter(partner_id, kind, agency_id, status))
    if format != "json":
        found = await incentive_register.entries(repos, f)
        return export_response(request, format, ENTRY_COLUMNS, map(entry_record, found), "incentives")
    found_page = await incentive_register.page(repos, f, limit=limit, cursor=cursor)
    return Page(items=found_page.items, next_cursor=found_page.next_cursor)


@router.get(
    "/incentives/summary",
    summary="Totals of the register per enterprise, region or kind (format=csv|xlsx downloads them)",
    response_model=list[SummaryRow],
)
async def summarise_incentives(
    request: Request,
    principal: RegisterReader,
    repos: Repos,
    by: SummaryBy = SummaryBy.ENTERPRISE,
    partner_id: PartnerQuery = None,
    kind: IncentiveKind | None = None,
    agency_id: AgencyQuery = None,
    status: IncentiveStatus | None = None,
    format: Format = "json",
) -> Response | list[SummaryRow]:
    f = scoped(principal, IncentiveFilter(partner_id, kind, agency_id, status))
    rows = incentive_register.summarise(await incentive_register.entries(repos, f), by)
    if format != "json":
        return export_response(request, format, SUMMARY_COLUMNS, map(summary_record, rows), f"incentives-by-{by.value}")
    return rows
