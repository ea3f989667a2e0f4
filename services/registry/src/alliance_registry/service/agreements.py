"""Cooperation agreements: draft, sign per party, activate, propose an amendment, sign it
per party or withdraw it, suspend, resume, terminate; activation at the start date and
completion after the end date happen in ``service.schedule``."""

from __future__ import annotations

from typing import Literal

from alliance_registry.domain.agreement import Agreement, AgreementDraft
from alliance_registry.domain.partner import PartnerSummary
from alliance_registry.service.repositories import Repositories
from alliance_shared.clock import Clock
from alliance_shared.ids import new_id
from alliance_shared.persistence import write_path
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome

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


async def draft(repos: Repositories, clock: Clock, terms: AgreementDraft, actor_id: str) -> Outcome[Agreement]:
    agreement_id = new_id("agr")
    agreement = Agreement.draft(
        agreement_id=agreement_id,
        draft=terms,
        partners=await summaries(repos, terms),
        now=clock.now(),
        actor_id=actor_id,
    )
    after = {"title": terms.title, "party_ids": list(agreement.terms.party_ids)}
    audit = AuditNote("agreement.drafted", "agreement", agreement_id, None, after)
    return await write_path.create(repos.agreements, agreement_id, agreement, audit)


async def sign(
    repos: Repositories, clock: Clock, agreement_id: str, party_id: str, expected: int | None, actor_id: str
) -> Outcome[Agreement]:
    """``party_id`` signs; the last signature makes it signed, and active at once when its term has begun."""

    def decide(agreement: Agreement) -> Decision[Agreement]:
        before = _status(agreement)
        now = clock.now()
        agreement.sign(party_id, now=now, actor_id=actor_id)
        agreement.activate_if_due(now)
        after = {**_status(agreement), "party_id": party_id, "pending": list(agreement.pending_party_ids)}
        return Decision(agreement, AuditNote("agreement.signed_by_party", "agreement", agreement_id, before, after))

    return await write_path.update(repos.agreements, agreement_id, decide, not_found=NOT_FOUND, expected=expected)


async def activate(
    repos: Repositories, clock: Clock, agreement_id: str, expected: int | None, actor_id: str
) -> Outcome[Agreement]:
    """Bring a signed agreement into force now, within its term."""

    def decide(agreement: Agreement) -> Decision[Agreement]:
        before = _status(agreement)
        agreement.activate(now=clock.now(), actor_id=actor_id)
        return Decision(
            agreement, AuditNote("agreement.activated", "agreement", agreement_id, before, _status(agreement))
        )

    return await write_path.update(repos.agreements, agreement_id, decide, not_found=NOT_FOUND, expected=expected)


async def change_status(
    repos: Repositories,
    clock: Clock,
    agreement_id: str,
    action: AgreementAction,
    reason: str,
    expected: int | None,
    actor_id: str,
) -> Outcome[Agreement]:
    """Suspend, resume or terminate; 409 ``agreement.illegal_transition`` when the lifecycle
    does not allow ``action`` now."""

    def decide(agreement: Agreement) -> Decision[Agreement]:
        before = _status(agreement)
        getattr(agreement, action)(reason, now=clock.now(), actor_id=actor_id)
        after = {**_status(agreement), "reason": reason}
        return Decision(agreement, AuditNote(f"agreement.{action}", "agreement", agreement_id, before, after))

    return await write_path.update(repos.agreements, agreement_id, decide, not_found=NOT_FOUND, expected=expected)


async def amend(
    repos: Repositories,
    clock: Clock,
    agreement_id: str,
    terms: AgreementDraft,
    summary: str,
    expected: int,
    actor_id: str,
) -> Outcome[Agreement]:
    """Propose new terms (If-Match required); they become the next version once every party signed them."""
    partners = await summaries(repos, terms)

    def decide(agreement: Agreement) -> Decision[Agreement]:
        before = _status(agreement)
        agreement.amend(terms, summary=summary, partners=partners, now=clock.now(), actor_id=actor_id)
        after = {**_status(agreement), "proposed_version": agreement.terms_version + 1, "summary": summary}
        return Decision(agreement, AuditNote("agreement.amendment_proposed", "agreement", agreement_id, before, after))

    return await write_path.update(repos.agreements, agreement_id, decide, not_found=NOT_FOUND, expected=expected)


async def sign_amendment(
    repos: Repositories, clock: Clock, agreement_id: str, party_id: str, expected: int | None, actor_id: str
) -> Outcome[Agreement]:
    """``party_id`` signs the pending amendment; the last signature puts it in force."""

    def decide(agreement: Agreement) -> Decision[Agreement]:
        before = _status(agreement)
        agreement.sign_amendment(party_id, now=clock.now(), actor_id=actor_id)
        pending = agreement.pending_amendment
        after = {
            **_status(agreement),
            "party_id": party_id,
            "pending": list(pending.pending_party_ids()) if pending is not None else [],
        }
        return Decision(agreement, AuditNote("agreement.amendment_signed", "agreement", agreement_id, before, after))

    return await write_path.update(repos.agreements, agreement_id, decide, not_found=NOT_FOUND, expected=expected)


async def withdraw_amendment(
    repos: Repositories, clock: Clock, agreement_id: str, reason: str, expected: int | None, actor_id: str
) -> Outcome[Agreement]:
    """Withdraw the pending amendment with a reason (a party will not sign it, or it was wrong)."""

    def decide(agreement: Agreement) -> Decision[Agreement]:
        before = {**_status(agreement), "proposed_version": agreement.terms_version + 1}
        agreement.withdraw_amendment(reason, now=clock.now(), actor_id=actor_id)
        after = {**_status(agreement), "reason": reason}
        return Decision(agreement, AuditNote("agreement.amendment_withdrawn", "agreement", agreement_id, before, after))

    return await write_path.update(repos.agreements, agreement_id, decide, not_found=NOT_FOUND, expected=expected)
