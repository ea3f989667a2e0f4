"""The application, award and surcharge-credit statement lists as downloads (CSV, XLSX) through the shared export
helper: amounts in yuan with two decimals, programme and partner names beside their ids
(from the programmes and the partner read model), headers in the reader's language."""

from __future__ import annotations

from typing import Any

from alliance_funding.domain.application import Application
from alliance_funding.domain.award import Award
from alliance_funding.service.ports import Repositories
from alliance_funding.service.records import StoredStatement
from alliance_shared.web.exports import Column, columns

APPLICATION_COLUMNS: tuple[Column, ...] = columns(
    "application_id",
    "programme_id",
    "programme_name",
    "agreement_id",
    "applicant_partner_id",
    "applicant_name",
    "status",
    "requested_yuan",
    "cofunding_yuan",
    "approved_yuan",
    "currency",
    "submitted_at",
    "decided_at",
    yuan=("requested_yuan", "cofunding_yuan", "approved_yuan"),
)
AWARD_COLUMNS: tuple[Column, ...] = columns(
    "award_id",
    "programme_id",
    "programme_name",
    "agreement_id",
    "recipient_partner_id",
    "recipient_name",
    "status",
    "amount_yuan",
    "paid_yuan",
    "currency",
    "granted_at",
    yuan=("amount_yuan", "paid_yuan"),
)

STATEMENT_COLUMNS: tuple[Column, ...] = columns(
    "enterprise_id",
    "enterprise_name",
    "tax_year",
    "investment_yuan",
    "credit_yuan",
    "carried_in_yuan",
    "credited_yuan",
    "carried_forward_yuan",
    "computed_at",
    yuan=("investment_yuan", "credit_yuan", "carried_in_yuan", "credited_yuan", "carried_forward_yuan"),
)


class Names:
    """Programme and partner names, each looked up once per download."""

    def __init__(self, repos: Repositories) -> None:
        self._repos = repos
        self._programmes: dict[str, str | None] = {}
        self._partners: dict[str, str | None] = {}

    async def programme(self, programme_id: str) -> str | None:
        if programme_id not in self._programmes:
            loaded = await self._repos.programmes.get(programme_id)
            self._programmes[programme_id] = loaded.item.name if loaded else None
        return self._programmes[programme_id]

    async def partner(self, partner_id: str) -> str | None:
        if partner_id not in self._partners:
            loaded = await self._repos.partners.get(partner_id)
            self._partners[partner_id] = loaded.item.name if loaded else None
        return self._partners[partner_id]


async def application_records(repos: Repositories, items: list[Application]) -> list[dict[str, Any]]:
    names = Names(repos)
    return [
        {
            "application_id": a.application_id,
            "programme_id": a.programme_id,
            "programme_name": await names.programme(a.programme_id),
            "agreement_id": a.agreement_id,
            "applicant_partner_id": a.applicant_partner_id,
            "applicant_name": await names.partner(a.applicant_partner_id),
            "status": str(a.status),
            "requested_yuan": a.requested_minor,
            "cofunding_yuan": a.cofunding_minor,
            "approved_yuan": a.approved_minor,
            "currency": a.currency,
            "submitted_at": a.submitted_at,
            "decided_at": a.decided_at,
        }
        for a in items
    ]


async def award_records(repos: Repositories, items: list[Award]) -> list[dict[str, Any]]:
    names = Names(repos)
    return [
        {
            "award_id": a.award_id,
            "programme_id": a.programme_id,
            "programme_name": await names.programme(a.programme_id),
            "agreement_id": a.agreement_id,
            "recipient_partner_id": a.recipient_partner_id,
            "recipient_name": await names.partner(a.recipient_partner_id),
            "status": str(a.status),
            "amount_yuan": a.amount_minor,
            "paid_yuan": a.paid_total_minor,
            "currency": a.currency,
            "granted_at": a.granted_at,
        }
        for a in items
    ]


async def statement_records(repos: Repositories, items: list[StoredStatement]) -> list[dict[str, Any]]:
    """A statement's figures: credit earned, carried in, offset against both surcharges, carried out."""
    names = Names(repos)
    records = []
    for stored in items:
        figures = stored.statement
        offset = figures["education_surcharge_offset_minor"] + figures["local_education_surcharge_offset_minor"]
        records.append(
            {
                "enterprise_id": stored.enterprise_id,
                "enterprise_name": await names.partner(stored.enterprise_id),
                "tax_year": stored.year,
                "investment_yuan": figures["eligible_investment_minor"],
                "credit_yuan": figures["credit_earned_minor"],
                "carried_in_yuan": figures["carried_in_minor"],
                "credited_yuan": offset,
                "carried_forward_yuan": stored.carried_out_minor,
                "computed_at": stored.computed_at,
            }
        )
    return records
