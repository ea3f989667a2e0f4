"""Cooperation agreements: draft, sign per party, activate, amend, suspend, resume,
terminate; activation at the start date and completion after the end date happen in
``service.schedule``."""

from __future__ import annotations

from typing import Literal

from alliance_registry.adapters.repositories import Loaded, Repositories
from alliance_registry.domain.agreement import Agreement, AgreementDraft
from alliance_registry.domain.partner import PartnerSummary
from alliance_registry.service.common import new_id, transition, utcnow
from alliance_shared.persistence.versioned_store import AuditNote

NOT_FOUND = ("agreement.not_found", "agreement")
AgreementAction = Literal["suspend", "resume", "terminate"]


async def summaries(repos: Repositories, draft: AgreementDraft) -> dict[str, PartnerSummary]:
    """The partners the draft names that exist (the domain refuses the others by id)."""
    found: dict[str, PartnerSummary] = {}
    for party in draft.parties:
        loaded = await repos.partners.get(party.partner_id)
        if loaded is not None:
            found[party.partner_id] = loaded.item.summary()
    return found


def _status(agreement: Agreement) -> dict[str, object]:
    return {"status": agreement.status.value, "terms_version": agreement.terms_version}


async def draft(repos: Repositories, terms: AgreementDraft, actor_id: str) -> Loaded[Agreement]:
    agreement_id = new_id("agr")
    agreement = Agreement.draft(
        agreement_id=agreement_id, draft=terms, partners=await summaries(repos, terms), now=utcnow(), actor_id=actor_id
    )
    await repos.agreements.store.create(
        agreement_id,
        repos.agreements.state_of(agreement),
        list(agreement.events),
        AuditNote(
            "agreement.drafted",
            "agreement",
            agreement_id,
            None,
            {"title": terms.title, "party_ids": list(agreement.terms.party_ids)},
        ),
    )
    agreement.version = 1
    agreement.events.clear()
    return Loaded(agreement, 1)


async def get(repos: Repositories, agreement_id: str) -> Loaded[Agreement]:
    return await repos.agreements.require(agreement_id, *NOT_FOUND)


async def sign(
    repos: Repositories, agreement_id: str, party_id: str, expected: int | None, actor_id: str
) -> Loaded[Agreement]:
    """``party_id`` signs; the last signature makes it signed, and active at once when its term has begun."""

    def decide(agreement: Agreement) -> AuditNote:
        before = _status(agreement)
        now = utcnow()
        agreement.sign(party_id, now=now, actor_id=actor_id)
        agreement.activate_if_due(now)
        return AuditNote(
            "agreement.signed_by_party",
            "agreement",
            agreement_id,
            before,
            {**_status(agreement), "party_id": party_id, "pending": list(agreement.pending_party_ids)},
        )

    return await transition(repos.agreements, agreement_id, not_found=NOT_FOUND, expected=expected, decide=decide)


async def activate(repos: Repositories, agreement_id: str, expected: int | None, actor_id: str) -> Loaded[Agreement]:
    def decide(agreement: Agreement) -> AuditNote:
        before = _status(agreement)
        agreement.activate(now=utcnow(), actor_id=actor_id)
        return AuditNote("agreement.activated", "agreement", agreement_id, before, _status(agreement))

    return await transition(repos.agreements, agreement_id, not_found=NOT_FOUND, expected=expected, decide=decide)


async def act(
    repos: Repositories,
    agreement_id: str,
    action: AgreementAction,
    reason: str,
    expected: int | None,
    actor_id: str,
) -> Loaded[Agreement]:
    def decide(agreement: Agreement) -> AuditNote:
        before = _status(agreement)
        getattr(agreement, action)(reason, now=utcnow(), actor_id=actor_id)
        return AuditNote(
            f"agreement.{action}", "agreement", agreement_id, before, {**_status(agreement), "reason": reason}
        )

    return await transition(repos.agreements, agreement_id, not_found=NOT_FOUND, expected=expected, decide=decide)


async def amend(
    repos: Repositories, agreement_id: str, terms: AgreementDraft, summary: str, expected: int, actor_id: str
) -> Loaded[Agreement]:
    """New terms as the next version (If-Match required); earlier versions stay readable."""
    partners = await summaries(repos, terms)

    def decide(agreement: Agreement) -> AuditNote:
        before = _status(agreement)
        agreement.amend(terms, summary=summary, partners=partners, now=utcnow(), actor_id=actor_id)
        return AuditNote(
            "agreement.amended", "agreement", agreement_id, before, {**_status(agreement), "summary": summary}
        )

    return await transition(repos.agreements, agreement_id, not_found=NOT_FOUND, expected=expected, decide=decide)
