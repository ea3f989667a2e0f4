"""The incentive register of certified enterprises: agencies record tax, financial, land
and credit entries; funding's award events add fiscal entries and its surcharge statement
events one tax entry per enterprise and year; a revocation suspends the enterprise's open
entries. Every write takes the shared write path (the entry and its event in one insert);
the consumed ones are idempotent (the entry id is the award's or the statement's year, a
statement version is taken once, a suspended entry is not suspended again)."""

from __future__ import annotations

import uuid
from datetime import datetime

from alliance_registry.domain.certification import Certification
from alliance_registry.domain.incentive import AGENCY_KINDS, Grant, IncentiveEntry, IncentiveStatus
from alliance_registry.service.repositories import Repositories
from alliance_shared.clock import Clock
from alliance_shared.contract.funding import AwardGranted, SurchargeStatementIssued
from alliance_shared.contract.registry import CertificationRevoked, IncentiveKind
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import EVENT_RETRY, Decision, Outcome, create, execute, update

NOT_FOUND = ("incentive.not_found", "incentive entry")
#: Names the entries an agency records: the same agency, kind and reference is one entry.
ENTRY_NAMESPACE = uuid.UUID("0d6f1c52-7a43-4b8e-9f21-5c3e8a7b9d10")


def agency_entry_id(agency_id: str, kind: IncentiveKind, reference: str) -> str:
    return f"inc-{uuid.uuid5(ENTRY_NAMESPACE, f'{agency_id}|{kind.value}|{reference}')}"


def award_entry_id(award_id: str) -> str:
    return f"fiscal-{award_id}"


def statement_entry_id(enterprise_id: str, year: int) -> str:
    return f"tax-{enterprise_id}-{year}"


async def certification_at(repos: Repositories, partner_id: str, at: datetime) -> Certification | None:
    """The enterprise's granted certification whose printed validity covers ``at``, else its
    newest granted one (ids ``cert-<partner>-<n>`` sort by n); None if it was never certified."""
    found = await repos.certifications.find({"partner_id": partner_id})
    granted = sorted((c.item for c in found if c.item.certificate is not None), key=lambda c: c.certification_id)
    covering = [
        c for c in granted if c.certificate is not None and c.certificate.valid_from <= at < c.certificate.valid_to
    ]
    candidates = covering or granted
    return candidates[-1] if candidates else None


async def record(
    repos: Repositories, clock: Clock, grant: Grant, *, partner_id: str, actor_id: str
) -> Outcome[IncentiveEntry]:
    """An agency records a tax, financial, land or credit entry for a catalogue enterprise
    (409 ``aggregate.exists`` when it recorded the same reference of that kind before)."""
    if grant.kind not in AGENCY_KINDS:
        raise DomainError(
            "incentive.kind_from_funding", "fiscal entries come from the special fund's awards", field="kind"
        )
    agency_id = grant.agency_id
    assert agency_id is not None  # the route binds it to the caller's partner
    enterprise = await repos.partners.require(partner_id, "partner.not_found", "partner")
    if enterprise.item.kind is not PartnerKind.ENTERPRISE:
        raise DomainError("incentive.not_in_catalogue", f"{partner_id} is not an enterprise")
    agency = await repos.partners.require(agency_id, "partner.not_found", "partner")
    grant = grant.model_copy(update={"agency_name": agency.item.summary().name})
    entry_id = agency_entry_id(agency_id, grant.kind, grant.reference)
    entry = IncentiveEntry.record(
        entry_id=entry_id,
        region_code=enterprise.item.region_code,
        certification=await certification_at(repos, partner_id, grant.valid_from),
        grant=grant,
        now=clock.now(),
        actor_id=actor_id,
    )
    after = {
        "partner_id": partner_id,
        "kind": grant.kind.value,
        "reference": grant.reference,
        "amount_minor": grant.amount_minor,
    }
    return await create(
        repos.incentives, entry_id, entry, AuditNote("incentive.recorded", "incentive", entry_id, None, after)
    )


async def on_award_granted(repos: Repositories, clock: Clock, event_id: str, award: AwardGranted) -> None:
    """A special-fund award to a catalogue enterprise is a fiscal entry of its register;
    an award to anyone else (a college, an enterprise not certified then) adds nothing."""
    recipient = await repos.partners.get(award.recipient_partner_id)
    if recipient is None or recipient.item.kind is not PartnerKind.ENTERPRISE:
        return
    certification = await certification_at(repos, award.recipient_partner_id, award.occurred_at)
    if certification is None or not certification.is_certified_at(award.occurred_at):
        return
    grant = Grant(
        kind=IncentiveKind.FISCAL,
        reference=f"{award.programme_id}/{award.award_id}",
        amount_minor=award.amount_minor,
        valid_from=award.occurred_at,
    )
    entry_id = award_entry_id(award.award_id)

    def decide(loaded: Loaded[IncentiveEntry] | None) -> Decision[IncentiveEntry] | None:
        if loaded is not None:  # this award is in the register already
            return None
        entry = IncentiveEntry.record(
            entry_id=entry_id,
            region_code=recipient.item.region_code,
            certification=certification,
            grant=grant,
            now=clock.now(),
            actor_id=award.actor_id,
        )
        after = {"partner_id": entry.partner_id, "kind": "fiscal", "award_id": award.award_id}
        return Decision(entry, AuditNote("incentive.recorded", "incentive", entry_id, None, after))

    await execute(repos.incentives, entry_id, decide, caused_by=event_id, retry=EVENT_RETRY)


async def on_statement_issued(
    repos: Repositories, clock: Clock, event_id: str, issued: SurchargeStatementIssued
) -> None:
    """An enterprise's surcharge credit statement is the tax entry of its register for the
    year, created by the first version issued while it is a certified catalogue enterprise
    (as fiscal entries are); a newer version restates that entry's amount, an older or
    repeated one changes nothing."""
    enterprise = await repos.partners.get(issued.enterprise_id)
    if enterprise is None or enterprise.item.kind is not PartnerKind.ENTERPRISE:
        return
    entry_id = statement_entry_id(issued.enterprise_id, issued.year)
    certification = await certification_at(repos, issued.enterprise_id, issued.occurred_at)
    if certification is not None and not certification.is_certified_at(issued.occurred_at):
        certification = None  # not certified when the statement was issued: no new entry

    def decide(loaded: Loaded[IncentiveEntry] | None) -> Decision[IncentiveEntry] | None:
        if loaded is not None:
            entry = loaded.item
            before = entry.amount_minor
            if not entry.restate_amount(issued.credit_earned_minor, source_version=issued.statement_version):
                return None
            audit = AuditNote(
                "incentive.restated",
                "incentive",
                entry_id,
                {"amount_minor": before},
                {"amount_minor": entry.amount_minor, "statement_version": issued.statement_version},
            )
            return Decision(entry, audit)
        if certification is None:
            return None
        grant = Grant(
            kind=IncentiveKind.TAX,
            reference=entry_id,
            amount_minor=issued.credit_earned_minor,
            valid_from=issued.occurred_at,
        )
        entry = IncentiveEntry.record(
            entry_id=entry_id,
            region_code=enterprise.item.region_code,
            certification=certification,
            grant=grant,
            now=clock.now(),
            actor_id=issued.actor_id,
        )
        entry.restate_amount(issued.credit_earned_minor, source_version=issued.statement_version)
        after = {"partner_id": entry.partner_id, "kind": "tax", "year": issued.year, "amount_minor": entry.amount_minor}
        return Decision(entry, AuditNote("incentive.recorded", "incentive", entry_id, None, after))

    await execute(repos.incentives, entry_id, decide, caused_by=event_id, retry=EVENT_RETRY)


async def on_certification_revoked(
    repos: Repositories, clock: Clock, event_id: str, revoked: CertificationRevoked
) -> int:
    """Suspend every open entry of the enterprise; how many this delivery suspended."""
    open_entries = await repos.incentives.find({"partner_id": revoked.partner_id, "status": IncentiveStatus.OPEN.value})
    suspended = 0
    for loaded in open_entries:
        outcome = await suspend(repos, clock, loaded.item.entry_id, revoked, event_id)
        suspended += outcome.written
    return suspended


async def suspend(
    repos: Repositories, clock: Clock, entry_id: str, revoked: CertificationRevoked, event_id: str
) -> Outcome[IncentiveEntry]:
    reason = revoked.reason  # the event names the certification; the reason stays as written

    def decide(entry: IncentiveEntry) -> Decision[IncentiveEntry] | None:
        if not entry.suspend(reason, now=clock.now(), actor_id=revoked.actor_id):
            return None
        audit = AuditNote(
            "incentive.suspended", "incentive", entry_id, {"status": "open"}, {"status": "suspended", "reason": reason}
        )
        return Decision(entry, audit)

    return await update(repos.incentives, entry_id, decide, not_found=NOT_FOUND, caused_by=event_id, retry=EVENT_RETRY)
