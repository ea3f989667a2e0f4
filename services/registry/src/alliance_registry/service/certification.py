"""Certified industry-education integration enterprises: apply, grant or reject, revoke (expiry is
the periodic check's, ``service.schedule``)."""

from __future__ import annotations

from datetime import datetime

from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_registry.service.repositories import Repositories
from alliance_shared.clock import Clock
from alliance_shared.errors import Conflict
from alliance_shared.persistence import write_path
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome

NOT_FOUND = ("certification.not_found", "certification")
OPEN = (CertificationStatus.APPLIED.value, CertificationStatus.CERTIFIED.value)


def certification_key(partner_id: str, number: int) -> str:
    return f"cert-{partner_id}-{number:03d}"


async def of_partner(repos: Repositories, partner_id: str) -> list[Loaded[Certification]]:
    found = await repos.certifications.find({"partner_id": partner_id})
    return sorted(found, key=lambda c: c.item.certification_id)


async def apply(repos: Repositories, clock: Clock, partner_id: str, actor_id: str) -> Outcome[Certification]:
    """An enterprise applies; one open application or certificate at a time (409 otherwise).

    Ids are ``cert-<partner>-<n>``: two concurrent applications want the same id and the
    second is refused by the store's unique key.
    """
    partner = await repos.partners.require(partner_id, "partner.not_found", "partner")
    existing = await of_partner(repos, partner_id)
    open_ones = [c.item for c in existing if c.item.status.value in OPEN]
    if open_ones:
        raise Conflict(
            "certification.open_exists",
            f"partner {partner_id} already has certification {open_ones[0].certification_id} "
            f"({open_ones[0].status.value})",
            certification_id=open_ones[0].certification_id,
        )
    certification_id = certification_key(partner_id, len(existing) + 1)
    certification = Certification.apply(
        certification_id=certification_id, partner=partner.item.summary(), now=clock.now(), actor_id=actor_id
    )
    audit = AuditNote("certification.applied", "certification", certification_id, None, {"partner_id": partner_id})
    return await write_path.create(repos.certifications, certification_id, certification, audit)


async def grant(
    repos: Repositories,
    clock: Clock,
    certification_id: str,
    *,
    certificate_number: str,
    valid_from: datetime,
    valid_to: datetime,
    expected: int | None,
    actor_id: str,
    reason: str | None = None,
) -> Outcome[Certification]:
    """Certify with a certificate number, valid from ``valid_from`` (incl.) to ``valid_to`` (excl.)."""

    def decide(c: Certification) -> Decision[Certification]:
        c.grant(
            certificate_number=certificate_number,
            valid_from=valid_from,
            valid_to=valid_to,
            now=clock.now(),
            actor_id=actor_id,
            reason=reason,
        )
        after = {
            "status": "certified",
            "reason": c.decision_reason,
            "certificate_number": certificate_number,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat(),
        }
        return Decision(
            c, AuditNote("certification.granted", "certification", certification_id, {"status": "applied"}, after)
        )

    return await write_path.update(
        repos.certifications, certification_id, decide, not_found=NOT_FOUND, expected=expected
    )


async def reject(
    repos: Repositories, clock: Clock, certification_id: str, reason: str, expected: int | None, actor_id: str
) -> Outcome[Certification]:
    """Refuse an application with the reason (``certification.rejected``)."""

    def decide(c: Certification) -> Decision[Certification]:
        c.reject(reason, now=clock.now(), actor_id=actor_id)
        after = {"status": "rejected", "reason": reason}
        return Decision(
            c, AuditNote("certification.rejected", "certification", certification_id, {"status": "applied"}, after)
        )

    return await write_path.update(
        repos.certifications, certification_id, decide, not_found=NOT_FOUND, expected=expected
    )


async def revoke(
    repos: Repositories, clock: Clock, certification_id: str, reason: str, expected: int | None, actor_id: str
) -> Outcome[Certification]:
    def decide(c: Certification) -> Decision[Certification]:
        c.revoke(reason, now=clock.now(), actor_id=actor_id)
        after = {"status": "revoked", "reason": reason}
        return Decision(
            c, AuditNote("certification.revoked", "certification", certification_id, {"status": "certified"}, after)
        )

    return await write_path.update(
        repos.certifications, certification_id, decide, not_found=NOT_FOUND, expected=expected
    )


async def certified_partner_ids(repos: Repositories, at: datetime) -> set[str]:
    """Enterprises holding a valid certificate at ``at``."""
    found = await repos.certifications.find({"status": CertificationStatus.CERTIFIED.value})
    return {c.item.partner_id for c in found if c.item.is_certified_at(at)}
