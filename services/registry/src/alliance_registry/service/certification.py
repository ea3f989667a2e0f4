"""Certified industry-education integration enterprises: apply, grant, revoke, expire."""

from __future__ import annotations

from datetime import datetime

from alliance_registry.adapters.repositories import Loaded, Repositories
from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_registry.service.common import transition, utcnow
from alliance_shared.errors import Conflict
from alliance_shared.persistence.versioned_store import AuditNote

NOT_FOUND = ("certification.not_found", "certification")
OPEN = (CertificationStatus.APPLIED.value, CertificationStatus.CERTIFIED.value)


def certification_key(partner_id: str, number: int) -> str:
    return f"cert-{partner_id}-{number:03d}"


async def of_partner(repos: Repositories, partner_id: str) -> list[Loaded[Certification]]:
    found = await repos.certifications.find({"partner_id": partner_id})
    return sorted(found, key=lambda c: c.item.certification_id)


async def apply(repos: Repositories, partner_id: str, actor_id: str) -> Loaded[Certification]:
    """An enterprise applies; one open application or certificate at a time (409 otherwise).

    Ids are ``cert-<partner>-<n>``: two concurrent applications want the same id and the
    second is refused by the store's unique key.
    """
    partner = await repos.partners.require(partner_id, "partner.not_found", "partner")
    existing = await of_partner(repos, partner_id)
    open_ones = [c for c in existing if c.item.status.value in OPEN]
    if open_ones:
        raise Conflict(
            "certification.open_exists",
            f"partner {partner_id} already has certification {open_ones[0].item.certification_id} "
            f"({open_ones[0].item.status.value})",
            certification_id=open_ones[0].item.certification_id,
        )
    certification_id = certification_key(partner_id, len(existing) + 1)
    certification = Certification.apply(
        certification_id=certification_id, partner=partner.item.summary(), now=utcnow(), actor_id=actor_id
    )
    await repos.certifications.store.create(
        certification_id,
        repos.certifications.state_of(certification),
        list(certification.events),
        AuditNote("certification.applied", "certification", certification_id, None, {"partner_id": partner_id}),
    )
    certification.version = 1
    certification.events.clear()
    return Loaded(certification, 1)


async def get(repos: Repositories, certification_id: str) -> Loaded[Certification]:
    return await repos.certifications.require(certification_id, *NOT_FOUND)


async def grant(
    repos: Repositories,
    certification_id: str,
    *,
    certificate_number: str,
    valid_from: datetime,
    valid_to: datetime,
    expected: int | None,
    actor_id: str,
) -> Loaded[Certification]:
    def decide(c: Certification) -> AuditNote:
        c.grant(
            certificate_number=certificate_number,
            valid_from=valid_from,
            valid_to=valid_to,
            now=utcnow(),
            actor_id=actor_id,
        )
        return AuditNote(
            "certification.granted",
            "certification",
            certification_id,
            {"status": "applied"},
            {
                "status": "certified",
                "certificate_number": certificate_number,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat(),
            },
        )

    return await transition(
        repos.certifications, certification_id, not_found=NOT_FOUND, expected=expected, decide=decide
    )


async def revoke(
    repos: Repositories, certification_id: str, reason: str, expected: int | None, actor_id: str
) -> Loaded[Certification]:
    def decide(c: Certification) -> AuditNote:
        c.revoke(reason, now=utcnow(), actor_id=actor_id)
        return AuditNote(
            "certification.revoked",
            "certification",
            certification_id,
            {"status": "certified"},
            {"status": "revoked", "reason": reason},
        )

    return await transition(
        repos.certifications, certification_id, not_found=NOT_FOUND, expected=expected, decide=decide
    )


async def certified_partner_ids(repos: Repositories, at: datetime) -> set[str]:
    """Enterprises holding a valid certificate at ``at``."""
    found = await repos.certifications.find({"status": CertificationStatus.CERTIFIED.value})
    return {c.item.partner_id for c in found if c.item.is_certified_at(at)}
