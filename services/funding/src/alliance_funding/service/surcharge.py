"""Education-surcharge credit statements: computed from the enterprise's certified
periods (the partner read model), the credit rates in force (settings, dated steps)
and the carry-forward of the enterprise's statement for the previous year. A statement
is stored per enterprise and year; recomputing it stores a new version (audited).
It never touches the fund ledger."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_funding.domain.surcharge_credit import CreditRate, Investment, credit_statement
from alliance_funding.service.ports import Repositories, statement_key
from alliance_funding.service.records import StoredStatement
from alliance_shared.clock import Clock
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError, NotFound
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, execute


async def compute_statement(
    repos: Repositories,
    clock: Clock,
    *,
    enterprise_id: str,
    year: int,
    investments: Sequence[Investment],
    education_surcharge_due_minor: int,
    local_education_surcharge_due_minor: int,
    rates: Sequence[CreditRate],
    actor_id: str,
) -> Outcome[StoredStatement]:
    partner = await repos.partners.get(enterprise_id)
    if partner is None:
        raise NotFound("partner.not_found", f"funding knows no partner {enterprise_id}")
    if partner.item.kind is not None and partner.item.kind is not PartnerKind.ENTERPRISE:
        raise DomainError("surcharge.not_an_enterprise", f"{enterprise_id} is a {partner.item.kind}")
    periods = partner.item.certified_periods()
    previous = await repos.statements.get(statement_key(enterprise_id, year - 1))
    carried_in = previous.item.carried_out_minor if previous else 0
    statement = credit_statement(
        enterprise_id=enterprise_id,
        year=year,
        investments=investments,
        certified_periods=periods,
        education_surcharge_due_minor=education_surcharge_due_minor,
        local_education_surcharge_due_minor=local_education_surcharge_due_minor,
        carried_in_minor=carried_in,
        rates=rates,
    )
    stored = StoredStatement(
        enterprise_id=enterprise_id,
        year=year,
        statement=statement.model_dump(mode="json"),
        computed_by=actor_id,
        computed_at=clock.now(),
        carried_out_minor=statement.carried_out_minor,
        certified_periods=[p.model_dump(mode="json") for p in periods],
    )
    key = statement_key(enterprise_id, year)
    audit = AuditNote("surcharge.statement", "enterprise", enterprise_id, None, stored.statement)
    return await execute(repos.statements, key, lambda _: Decision(stored, audit))


async def get_statement(repos: Repositories, enterprise_id: str, year: int) -> Loaded[StoredStatement]:
    loaded = await repos.statements.get(statement_key(enterprise_id, year))
    if loaded is None:
        raise NotFound("statement.not_found", f"no statement for {enterprise_id} in {year}")
    return loaded
