"""Education-surcharge credit statements: computed per enterprise and year, read back,
listed (a CSV or XLSX download too)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.adapters.http import downloads
from alliance_funding.adapters.http.access import Officer, StatementOwner, StatementReader, partner_filter
from alliance_funding.adapters.http.deps import Config, Now, Repos
from alliance_funding.domain.surcharge_credit import Investment
from alliance_funding.service import queries, surcharge
from alliance_funding.service.records import StoredStatement
from alliance_shared.contract.base import MinorUnits
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE
from alliance_shared.web.exports import DOWNLOADABLE, ListFormat, export_response, requested_format, whole_list
from alliance_shared.web.pages import Cursor, Limit, Page

router = APIRouter(tags=["surcharge credit"])


class StatementIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "enterprise_id": "ent-042",
                    "year": 2026,
                    "investments": [{"reference": "INV-1", "made_on": "2026-03-01", "amount_minor": 100_000_000}],
                    "education_surcharge_due_minor": 20_000_000,
                    "local_education_surcharge_due_minor": 10_000_000,
                }
            ]
        },
    )

    enterprise_id: Annotated[str, Field(min_length=1, max_length=100)]
    year: int = Field(ge=2000, le=2100)
    investments: list[Investment] = Field(max_length=1000)
    education_surcharge_due_minor: MinorUnits
    local_education_surcharge_due_minor: MinorUnits


@router.post(
    "/surcharge-credit-statements",
    status_code=201,
    summary="Compute (or recompute) an enterprise's education-surcharge credit statement for a year",
)
async def compute_statement(
    body: StatementIn, principal: Officer, repos: Repos, clock: Now, settings: Config
) -> StoredStatement:
    outcome = await surcharge.compute_statement(
        repos,
        clock,
        enterprise_id=body.enterprise_id,
        year=body.year,
        investments=body.investments,
        education_surcharge_due_minor=body.education_surcharge_due_minor,
        local_education_surcharge_due_minor=body.local_education_surcharge_due_minor,
        rates=settings.surcharge_credit_rates,
        actor_id=principal.subject,
    )
    return outcome.item


@router.get("/surcharge-credit-statements/{enterprise_id}/{year}", summary="An enterprise's statement for a year")
async def get_statement(enterprise_id: str, year: int, _: StatementOwner, repos: Repos) -> StoredStatement:
    return (await surcharge.get_statement(repos, enterprise_id, year)).item


@router.get(
    "/surcharge-credit-statements",
    response_model=Page[StoredStatement],
    responses=DOWNLOADABLE,
    summary="Statements, cursor pages (an enterprise: only its own); ?format=csv|xlsx downloads the whole list",
)
async def list_statements(
    request: Request,
    principal: StatementReader,
    repos: Repos,
    enterprise_id: Annotated[str | None, Query(max_length=100)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    format: ListFormat = None,
) -> Any:
    own = partner_filter(principal)
    hidden = own is not None and enterprise_id not in (None, own)  # another enterprise's: none to see
    chosen = own or enterprise_id

    async def fetch(at: str | None, size: int = MAX_PAGE_SIZE) -> tuple[list[StoredStatement], str | None]:
        if hidden:
            return [], None
        listed = await queries.list_statements(repos, enterprise_id=chosen, year=year, cursor=at, limit=size)
        return listed.items, listed.next_cursor

    download = requested_format(request, format)
    if download is not None:
        records = await downloads.statement_records(repos, await whole_list(fetch))
        return export_response(request, download, downloads.STATEMENT_COLUMNS, records, "surcharge-credit-statements")
    items, next_cursor = await fetch(cursor, limit)
    return Page[StoredStatement](items=items, next_cursor=next_cursor)
