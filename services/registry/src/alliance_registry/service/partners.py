"""Partners: register, update the profile (If-Match), update contacts, deactivate."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_registry.domain.credit_code import validate_credit_code
from alliance_registry.domain.partner import Partner, PartnerDetails
from alliance_registry.service import credit_codes
from alliance_registry.service.repositories import Repositories
from alliance_shared.clock import Clock
from alliance_shared.contract.registry import ContactView
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.ids import new_id
from alliance_shared.persistence import write_path
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome

ID_PREFIX = {
    PartnerKind.COLLEGE: "col",
    PartnerKind.ENTERPRISE: "ent",
    PartnerKind.INDUSTRY_ASSOCIATION: "ia",
    PartnerKind.GOVERNMENT_AGENCY: "gov",
    PartnerKind.RESEARCH_INSTITUTE: "ri",
}
NOT_FOUND = ("partner.not_found", "partner")


async def register(
    repos: Repositories, clock: Clock, details: PartnerDetails, contacts: Sequence[ContactView], actor_id: str
) -> Outcome[Partner]:
    """A new partner; 409 ``partner.credit_code_taken`` when its credit code is registered already."""
    partner_id = new_id(ID_PREFIX[details.kind])
    now = clock.now()
    partner = Partner.register(partner_id=partner_id, details=details, contacts=contacts, now=now, actor_id=actor_id)
    await credit_codes.claim(repos, partner.credit_code, partner_id, now)
    try:
        return await write_path.create(
            repos.partners,
            partner_id,
            partner,
            AuditNote("partner.registered", "partner", partner_id, None, partner.public_view()),
        )
    except BaseException:
        await repos.credit_codes.release(partner.credit_code, partner_id)
        raise


async def update(
    repos: Repositories, clock: Clock, partner_id: str, details: PartnerDetails, expected: int, actor_id: str
) -> Outcome[Partner]:
    """Replace the profile (not the contacts); 412 unless ``expected`` is the current version.

    A new credit code is claimed before the write and the old one released after it.
    """
    current = await repos.partners.require(partner_id, *NOT_FOUND)
    old_code, new_code = current.item.credit_code, details.credit_code
    validate_credit_code(new_code)  # before claiming it

    def decide(partner: Partner) -> Decision[Partner] | None:
        before = partner.public_view()
        partner.update(details, expected_version=expected, now=clock.now(), actor_id=actor_id)
        if not partner.events:
            return None
        return Decision(partner, AuditNote("partner.updated", "partner", partner_id, before, partner.public_view()))

    if new_code != old_code:
        await credit_codes.claim(repos, new_code, partner_id, clock.now())
    try:
        outcome = await write_path.update(repos.partners, partner_id, decide, not_found=NOT_FOUND, expected=expected)
    except BaseException:
        if new_code != old_code:
            await repos.credit_codes.release(new_code, partner_id)
        raise
    if new_code != old_code:
        await repos.credit_codes.release(old_code, partner_id)
    return outcome


async def update_contacts(
    repos: Repositories,
    clock: Clock,
    partner_id: str,
    contacts: Sequence[ContactView],
    expected: int,
    actor_id: str,
) -> Outcome[Partner]:
    """Replace the contacts; 412 unless ``expected`` is the current version."""

    def decide(partner: Partner) -> Decision[Partner] | None:
        before = len(partner.contacts)
        partner.update_contacts(contacts, expected_version=expected, now=clock.now(), actor_id=actor_id)
        if not partner.events:
            return None
        # Personal data stays out of the audit trail: it records that, not what, changed.
        return Decision(
            partner,
            AuditNote(
                "partner.contacts_updated", "partner", partner_id, {"contacts": before}, {"contacts": len(contacts)}
            ),
        )

    return await write_path.update(repos.partners, partner_id, decide, not_found=NOT_FOUND, expected=expected)


async def deactivate(
    repos: Repositories, clock: Clock, partner_id: str, reason: str, expected: int | None, actor_id: str
) -> Outcome[Partner]:
    def decide(partner: Partner) -> Decision[Partner]:
        partner.deactivate(reason, now=clock.now(), actor_id=actor_id)
        after = {"status": "deactivated", "reason": reason}
        return Decision(partner, AuditNote("partner.deactivated", "partner", partner_id, {"status": "active"}, after))

    return await write_path.update(repos.partners, partner_id, decide, not_found=NOT_FOUND, expected=expected)
