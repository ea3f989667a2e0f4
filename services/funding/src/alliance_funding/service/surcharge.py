"""Education-surcharge credit statements: computed from the enterprise's certified
periods (the partner read model), the credit rates in force (settings, dated steps)
and the carry-forward of the enterprise's newest earlier statement — walking back over
years without a statement (no investment, nothing offset) to the year of the first
credit rate. A statement is stored per enterprise and year; recomputing it stores a
new version (audited) and recomputes every later statement of the enterprise in turn
with its own investments and dues (their carry-in changed). A crash in that cascade
is repaired by recomputing the year again. It never touches the fund ledger. Every stored
version publishes ``surcharge_statement.issued`` in the same insert (the registry keeps
the enterprise's tax entry from it)."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_funding.domain.programme import PROGRAMME_CURRENCY
from alliance_funding.domain.surcharge_credit import (
    CertifiedPeriod,
    CreditRate,
    Investment,
    SurchargeCreditStatement,
    credit_statement,
)
from alliance_funding.service.ports import Repositories, statement_key
from alliance_funding.service.records import StoredStatement
from alliance_shared.clock import Clock
from alliance_shared.contract.funding import SurchargeStatementIssued
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
    earliest = min((rate.effective_from.year for rate in rates), default=year)
    carried_in, carried_from = 0, None
    for earlier in range(year - 1, earliest - 1, -1):  # _id lookups, newest first
        previous = await repos.statements.get(statement_key(enterprise_id, earlier))
        if previous is not None:
            carried_in, carried_from = previous.item.carried_out_minor, earlier
            break
    outcome = await _store(
        repos,
        clock,
        enterprise_id=enterprise_id,
        year=year,
        investments=investments,
        periods=periods,
        education_surcharge_due_minor=education_surcharge_due_minor,
        local_education_surcharge_due_minor=local_education_surcharge_due_minor,
        carried_in=(carried_in, carried_from),
        rates=rates,
        actor_id=actor_id,
        action="surcharge.statement",
    )
    await _cascade(repos, clock, outcome.item, periods, rates, actor_id)
    return outcome


async def _cascade(
    repos: Repositories,
    clock: Clock,
    changed: StoredStatement,
    periods: Sequence[CertifiedPeriod],
    rates: Sequence[CreditRate],
    actor_id: str,
) -> None:
    """Recompute each later statement of the enterprise, oldest first, on the carry-out of
    the one before it (a scan of the enterprise's statements: a handful per enterprise)."""
    later = sorted(
        (s.item for s in await repos.statements.find({"enterprise_id": changed.enterprise_id})),
        key=lambda stored: stored.year,
    )
    before = changed
    for stored in (s for s in later if s.year > changed.year):
        statement = SurchargeCreditStatement.model_validate(stored.statement)
        before = (
            await _store(
                repos,
                clock,
                enterprise_id=stored.enterprise_id,
                year=stored.year,
                investments=[
                    Investment(reference=line.reference, made_on=line.made_on, amount_minor=line.amount_minor)
                    for line in statement.lines
                ],
                periods=periods,
                education_surcharge_due_minor=statement.education_surcharge_due_minor,
                local_education_surcharge_due_minor=statement.local_education_surcharge_due_minor,
                carried_in=(before.carried_out_minor, before.year),
                rates=rates,
                actor_id=actor_id,
                action="surcharge.statement_cascaded",
            )
        ).item


async def _store(
    repos: Repositories,
    clock: Clock,
    *,
    enterprise_id: str,
    year: int,
    investments: Sequence[Investment],
    periods: Sequence[CertifiedPeriod],
    education_surcharge_due_minor: int,
    local_education_surcharge_due_minor: int,
    carried_in: tuple[int, int | None],
    rates: Sequence[CreditRate],
    actor_id: str,
    action: str,
) -> Outcome[StoredStatement]:
    statement = credit_statement(
        enterprise_id=enterprise_id,
        year=year,
        investments=investments,
        certified_periods=periods,
        education_surcharge_due_minor=education_surcharge_due_minor,
        local_education_surcharge_due_minor=local_education_surcharge_due_minor,
        carried_in_minor=carried_in[0],
        rates=rates,
    )
    stored = StoredStatement(
        enterprise_id=enterprise_id,
        year=year,
        statement=statement.model_dump(mode="json"),
        computed_by=actor_id,
        computed_at=clock.now(),
        carried_out_minor=statement.carried_out_minor,
        carried_in_from_year=carried_in[1],
        certified_periods=[p.model_dump(mode="json") for p in periods],
    )
    key = statement_key(enterprise_id, year)
    audit = AuditNote(action, "enterprise", enterprise_id, None, stored.statement)

    def decide(loaded: Loaded[StoredStatement] | None) -> Decision[StoredStatement]:
        issued = SurchargeStatementIssued(
            enterprise_id=enterprise_id,
            year=year,
            statement_version=(loaded.version if loaded is not None else 0) + 1,
            currency=PROGRAMME_CURRENCY,
            credit_earned_minor=statement.credit_earned_minor,
            surcharge_offset_minor=statement.education_surcharge_offset_minor
            + statement.local_education_surcharge_offset_minor,
            carried_out_minor=statement.carried_out_minor,
            occurred_at=stored.computed_at,
            actor_id=actor_id,
        )
        return Decision(stored, audit, events=[issued])

    return await execute(repos.statements, key, decide)


async def get_statement(repos: Repositories, enterprise_id: str, year: int) -> Loaded[StoredStatement]:
    loaded = await repos.statements.get(statement_key(enterprise_id, year))
    if loaded is None:
        raise NotFound("statement.not_found", f"no statement for {enterprise_id} in {year}")
    return loaded
