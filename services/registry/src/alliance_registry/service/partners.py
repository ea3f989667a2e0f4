"""Partners: register, update the profile (If-Match), update contacts, deactivate."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_registry.adapters.repositories import Loaded, Repositories
from alliance_registry.domain.credit_code import validate_credit_code
from alliance_registry.domain.partner import Partner, PartnerDetails
from alliance_registry.service.common import new_id, transition, utcnow
from alliance_shared.contract.registry import ContactView
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.persistence.versioned_store import AuditNote

ID_PREFIX = {
    PartnerKind.COLLEGE: "col",
    PartnerKind.ENTERPRISE: "ent",
    PartnerKind.INDUSTRY_ASSOCIATION: "ia",
    PartnerKind.GOVERNMENT_AGENCY: "gov",
    PartnerKind.RESEARCH_INSTITUTE: "ri",
}
NOT_FOUND = ("partner.not_found", "partner")


def _audit_profile(partner: Partner) -> dict[str, object]:
    return partner.public_view()


async def register(
    repos: Repositories, details: PartnerDetails, contacts: Sequence[ContactView], actor_id: str
) -> Loaded[Partner]:
    """A new partner; 409 ``partner.credit_code_taken`` when its credit code is registered already."""
    partner_id = new_id(ID_PREFIX[details.kind])
    partner = Partner.register(
        partner_id=partner_id, details=details, contacts=contacts, now=utcnow(), actor_id=actor_id
    )
    await repos.credit_codes.claim(partner.credit_code, partner_id)
    try:
        await repos.partners.store.create(
            partner_id,
            repos.partners.state_of(partner),
            list(partner.events),
            AuditNote("partner.registered", "partner", partner_id, None, _audit_profile(partner)),
        )
    except BaseException:
        await repos.credit_codes.release(partner.credit_code, partner_id)
        raise
    partner.version = 1
    partner.events.clear()
    return Loaded(partner, 1)


async def get(repos: Repositories, partner_id: str) -> Loaded[Partner]:
    return await repos.partners.require(partner_id, *NOT_FOUND)


async def update(
    repos: Repositories, partner_id: str, details: PartnerDetails, expected: int, actor_id: str
) -> Loaded[Partner]:
    """Replace the profile (not the contacts); 412 when ``expected`` is stale."""
    current = await get(repos, partner_id)
    old_code = current.item.credit_code
    new_code = details.credit_code
    validate_credit_code(new_code)  # before claiming it

    def decide(partner: Partner) -> AuditNote | None:
        before = _audit_profile(partner)
        partner.update(details, expected_version=expected, now=utcnow(), actor_id=actor_id)
        if not partner.events:
            return None
        return AuditNote("partner.updated", "partner", partner_id, before, _audit_profile(partner))

    if new_code != old_code:
        await repos.credit_codes.claim(new_code, partner_id)
    try:
        saved = await transition(repos.partners, partner_id, not_found=NOT_FOUND, expected=expected, decide=decide)
    except BaseException:
        if new_code != old_code:
            await repos.credit_codes.release(new_code, partner_id)
        raise
    if new_code != old_code:
        await repos.credit_codes.release(old_code, partner_id)
    return saved


async def update_contacts(
    repos: Repositories, partner_id: str, contacts: Sequence[ContactView], expected: int, actor_id: str
) -> Loaded[Partner]:
    def decide(partner: Partner) -> AuditNote | None:
        before = len(partner.contacts)
        partner.update_contacts(contacts, expected_version=expected, now=utcnow(), actor_id=actor_id)
        if not partner.events:
            return None
        # Personal data stays out of the audit trail: it records that, not what, changed.
        return AuditNote(
            "partner.contacts_updated", "partner", partner_id, {"contacts": before}, {"contacts": len(contacts)}
        )

    return await transition(repos.partners, partner_id, not_found=NOT_FOUND, expected=expected, decide=decide)


async def deactivate(
    repos: Repositories, partner_id: str, reason: str, expected: int | None, actor_id: str
) -> Loaded[Partner]:
    def decide(partner: Partner) -> AuditNote:
        partner.deactivate(reason, now=utcnow(), actor_id=actor_id)
        return AuditNote(
            "partner.deactivated",
            "partner",
            partner_id,
            {"status": "active"},
            {"status": "deactivated", "reason": reason},
        )

    return await transition(repos.partners, partner_id, not_found=NOT_FOUND, expected=expected, decide=decide)
