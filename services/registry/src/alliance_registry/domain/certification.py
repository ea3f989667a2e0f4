"""The Certification aggregate: an enterprise's certification as an industry-education
integration enterprise (产教融合型企业).

    applied ──grant──▶ certified ──revoke──▶ revoked
       │                   └──expire_if_due──▶ expired
       └──reject──▶ rejected

Only active enterprises may apply (the enterprise itself or an admin on its behalf); the
admin decides with a reason (required to reject, recorded when granting). A certificate is valid from ``valid_from``
(inclusive) until ``valid_to`` (exclusive); ``is_certified_at`` answers for any instant
(funding checks eligibility with it). ``expire_if_due`` is safe to call repeatedly: it
expires a due certificate once and does nothing after that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.domain.common import SYSTEM_ACTOR, require_reason
from alliance_registry.domain.partner import PartnerSummary
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.registry import (
    CertificationApplied,
    CertificationExpired,
    CertificationGranted,
    CertificationRejected,
    CertificationRevoked,
)
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError, InvalidTransition


class CertificationStatus(StrEnum):
    APPLIED = "applied"
    CERTIFIED = "certified"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Certificate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    certificate_number: str = Field(min_length=1, max_length=100)
    valid_from: UtcDateTime
    valid_to: UtcDateTime


class Certification(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    certification_id: str = Field(min_length=1, max_length=100)
    partner_id: str = Field(min_length=1, max_length=100)
    partner_name: str = Field(min_length=1, max_length=200)
    status: CertificationStatus = CertificationStatus.APPLIED
    applied_at: UtcDateTime
    certificate: Certificate | None = None
    granted_at: UtcDateTime | None = None
    ended_at: UtcDateTime | None = Field(default=None, description="when it was revoked or expired")
    revocation_reason: str | None = None
    decision_reason: str | None = Field(default=None, description="why the admin granted or rejected the application")
    decided_at: UtcDateTime | None = None
    decided_by: str | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def apply(cls, *, certification_id: str, partner: PartnerSummary, now: datetime, actor_id: str) -> Certification:
        if partner.kind is not PartnerKind.ENTERPRISE:
            raise DomainError(
                "certification.not_enterprise",
                f"only enterprises can be certified; {partner.partner_id} is a {partner.kind.value}",
            )
        if not partner.active:
            raise DomainError("certification.inactive_partner", f"partner {partner.partner_id} is deactivated")
        certification = cls(
            certification_id=certification_id,
            partner_id=partner.partner_id,
            partner_name=partner.name,
            applied_at=now,
        )
        certification.events.append(
            CertificationApplied(
                certification_id=certification_id,
                partner_id=partner.partner_id,
                partner_name=partner.name,
                occurred_at=now,
                actor_id=actor_id,
            )
        )
        return certification

    def grant(
        self,
        *,
        certificate_number: str,
        valid_from: datetime,
        valid_to: datetime,
        now: datetime,
        actor_id: str,
        reason: str | None = None,
    ) -> None:
        if self.status is not CertificationStatus.APPLIED:
            raise InvalidTransition("certification", self.status, "grant")
        certificate = Certificate(certificate_number=certificate_number, valid_from=valid_from, valid_to=valid_to)
        if certificate.valid_to <= certificate.valid_from:
            raise DomainError("certification.validity_invalid", "a certificate's validity ends after it starts")
        if certificate.valid_to <= now:
            raise DomainError("certification.validity_passed", "the certificate's validity has already ended")
        self.certificate = certificate
        self.status = CertificationStatus.CERTIFIED
        self.granted_at = now
        self._decided(reason.strip() if reason and reason.strip() else None, now, actor_id)
        self.events.append(CertificationGranted(**self._certificate_fields(), occurred_at=now, actor_id=actor_id))

    def reject(self, reason: str, *, now: datetime, actor_id: str) -> None:
        """Refuse the application with the reason; the enterprise may apply again later."""
        if self.status is not CertificationStatus.APPLIED:
            raise InvalidTransition("certification", self.status, "reject")
        reason = require_reason(reason)
        self.status = CertificationStatus.REJECTED
        self.ended_at = now
        self._decided(reason, now, actor_id)
        self.events.append(
            CertificationRejected(
                certification_id=self.certification_id,
                partner_id=self.partner_id,
                partner_name=self.partner_name,
                reason=reason,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def _decided(self, reason: str | None, now: datetime, actor_id: str) -> None:
        self.decision_reason = reason
        self.decided_at = now
        self.decided_by = actor_id

    def revoke(self, reason: str, *, now: datetime, actor_id: str) -> None:
        if self.status is not CertificationStatus.CERTIFIED:
            raise InvalidTransition("certification", self.status, "revoke")
        reason = require_reason(reason)
        self.status = CertificationStatus.REVOKED
        self.ended_at = now
        self.revocation_reason = reason
        self.events.append(
            CertificationRevoked(**self._certificate_fields(), reason=reason, occurred_at=now, actor_id=actor_id)
        )

    def expire_if_due(self, now: datetime) -> bool:
        """Expire a certificate whose validity has ended; True if it expired now (emits once)."""
        if self.status is not CertificationStatus.CERTIFIED or self.certificate is None:
            return False
        if now < self.certificate.valid_to:
            return False
        self.status = CertificationStatus.EXPIRED
        self.ended_at = now
        self.events.append(CertificationExpired(**self._certificate_fields(), occurred_at=now, actor_id=SYSTEM_ACTOR))
        return True

    def is_certified_at(self, instant: datetime) -> bool:
        """Whether the enterprise held a valid certificate at ``instant``.

        A revoked or expired certificate stops counting from the moment it ended, even
        if its printed validity runs on.
        """
        if self.certificate is None or not self.certificate.valid_from <= instant < self.certificate.valid_to:
            return False
        return self.ended_at is None or instant < self.ended_at

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Certification:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})

    def _certificate_fields(self) -> dict[str, Any]:
        assert self.certificate is not None  # granted certifications always have one
        return {
            "certification_id": self.certification_id,
            "partner_id": self.partner_id,
            "partner_name": self.partner_name,
            **self.certificate.model_dump(),
        }
