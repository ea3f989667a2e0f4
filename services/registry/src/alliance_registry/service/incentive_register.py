"""Reading the incentive register: a page of entries by enterprise, kind, agency and
status (each filter has its index, adapters.mongo), every matching entry for an export,
and totals per enterprise, region or kind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from alliance_registry.domain.incentive import IncentiveEntry, IncentiveStatus
from alliance_registry.service.repositories import Repositories
from alliance_shared.contract.registry import IncentiveKind
from alliance_shared.persistence.pagination import paginate

#: Entries an export or a summary reads at most (an enterprise holds a handful a year).
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class IncentiveFilter:
    partner_id: str | None = None
    kind: IncentiveKind | None = None
    agency_id: str | None = None
    status: IncentiveStatus | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.partner_id is not None:
            query["partner_id"] = self.partner_id
        if self.kind is not None:
            query["kind"] = self.kind.value
        if self.agency_id is not None:
            query["agency_id"] = self.agency_id
        if self.status is not None:
            query["status"] = self.status.value
        return query


@dataclass(frozen=True)
class EntryPage:
    items: list[IncentiveEntry]
    next_cursor: str | None


class SummaryBy(StrEnum):
    ENTERPRISE = "enterprise"
    REGION = "region"
    KIND = "kind"


class SummaryRow(BaseModel):
    """Totals of one group; amounts are money entries only (land and credit have none)."""

    key: str
    name: str | None = None
    entries: int = 0
    open_entries: int = 0
    suspended_entries: int = 0
    amount_minor: int = 0
    open_amount_minor: int = 0


async def page(repos: Repositories, f: IncentiveFilter, *, limit: int, cursor: str | None) -> EntryPage:
    found = await paginate(repos.incentives.store, f.query(), limit=limit, cursor=cursor)
    return EntryPage([repos.incentives.from_snapshot(s).item for s in found.items], found.next_cursor)


async def entries(repos: Repositories, f: IncentiveFilter) -> list[IncentiveEntry]:
    return [loaded.item for loaded in await repos.incentives.find(f.query(), limit=MAX_ENTRIES)]


def summarise(found: Iterable[IncentiveEntry], by: SummaryBy) -> list[SummaryRow]:
    rows: dict[str, SummaryRow] = {}
    for entry in found:
        key, name = {
            SummaryBy.ENTERPRISE: (entry.partner_id, entry.partner_name),
            SummaryBy.REGION: (entry.region_code, None),
            SummaryBy.KIND: (entry.kind.value, None),
        }[by]
        row = rows.setdefault(key, SummaryRow(key=key, name=name))
        amount = entry.amount_minor or 0
        is_open = entry.status is IncentiveStatus.OPEN
        row.entries += 1
        row.open_entries += is_open
        row.suspended_entries += not is_open
        row.amount_minor += amount
        row.open_amount_minor += amount if is_open else 0
    return [rows[key] for key in sorted(rows)]
