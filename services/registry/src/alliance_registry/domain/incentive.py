"""The incentive register of a certified enterprise: the policy's "finance + fiscal + land
+ credit" support for enterprises in the industry-education integration catalogue.

    open ──suspend (its certification was revoked)──▶ suspended

Fiscal entries are the enterprise's special-fund awards (from funding's award events);
one tax entry a year is its education-surcharge credit (from funding's statement events;
a recomputed statement restates its amount); tax, financial, land and credit entries are
also recorded by the agency partner that grants them. Every entry is tied to the
certification's validity: it must start while the certificate is valid and end (when it
ends) before the certificate does; an entitlement dated at or after the certificate's
expiry or revocation is refused, and an enterprise that was never certified gets none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.domain.certification import Certification
from alliance_registry.domain.common import require_reason
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.registry import IncentiveKind, IncentiveRecorded, IncentiveSuspended
from alliance_shared.errors import DomainError

#: Kinds whose entries are money (amount in minor units); land and credit entries are not.
MONEY_KINDS = frozenset({IncentiveKind.FISCAL, IncentiveKind.TAX, IncentiveKind.FINANCIAL})
#: Kinds an agency records through the API; fiscal entries come from funding's awards.
AGENCY_KINDS = frozenset(IncentiveKind) - {IncentiveKind.FISCAL}


class IncentiveStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"


class Grant(BaseModel):
    """What the granting side states about one entitlement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: IncentiveKind
    agency_id: str | None = Field(default=None, max_length=100)
    agency_name: str | None = Field(default=None, max_length=200)
    reference: str = Field(min_length=1, max_length=200)
    amount_minor: int | None = Field(default=None, ge=0, le=10**15)
    valid_from: UtcDateTime
    valid_to: UtcDateTime | None = None


class IncentiveEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    entry_id: str = Field(min_length=1, max_length=100)
    partner_id: str = Field(min_length=1, max_length=100)
    partner_name: str = Field(min_length=1, max_length=200)
    region_code: str = Field(min_length=6, max_length=6)
    certification_id: str = Field(min_length=1, max_length=100)
    kind: IncentiveKind
    agency_id: str | None = None
    agency_name: str | None = None
    reference: str = Field(min_length=1, max_length=200)
    amount_minor: int | None = None
    valid_from: UtcDateTime
    valid_to: UtcDateTime | None = None
    status: IncentiveStatus = IncentiveStatus.OPEN
    recorded_at: UtcDateTime
    recorded_by: str
    suspended_at: UtcDateTime | None = None
    suspension_reason: str | None = None
    source_version: int | None = Field(
        default=None, description="the version of the funding statement the amount is from (tax entries from funding)"
    )
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def record(
        cls,
        *,
        entry_id: str,
        region_code: str,
        certification: Certification | None,
        grant: Grant,
        now: datetime,
        actor_id: str,
    ) -> IncentiveEntry:
        certification = _catalogue_certification(certification)
        _check_amount(grant)
        _check_within_certificate(certification, grant)
        entry = cls(
            entry_id=entry_id,
            partner_id=certification.partner_id,
            partner_name=certification.partner_name,
            region_code=region_code,
            certification_id=certification.certification_id,
            **grant.model_dump(),
            recorded_at=now,
            recorded_by=actor_id,
        )
        entry.events.append(IncentiveRecorded(**entry._event_fields(), occurred_at=now, actor_id=actor_id))
        return entry

    def restate_amount(self, amount_minor: int, *, source_version: int) -> bool:
        """Take the amount of a newer version of the source statement; False (nothing changes)
        for a version seen before or older, as a late redelivery is."""
        if self.source_version is not None and source_version <= self.source_version:
            return False
        self.amount_minor = amount_minor
        self.source_version = source_version
        return True

    def suspend(self, reason: str, *, now: datetime, actor_id: str) -> bool:
        """Suspend an open entry; True if it was open (and emits once)."""
        if self.status is not IncentiveStatus.OPEN:
            return False
        reason = require_reason(reason)
        self.status = IncentiveStatus.SUSPENDED
        self.suspended_at = now
        self.suspension_reason = reason
        self.events.append(
            IncentiveSuspended(**self._event_fields(), reason=reason, occurred_at=now, actor_id=actor_id)
        )
        return True

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> IncentiveEntry:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})

    def _event_fields(self) -> dict[str, Any]:
        return self.model_dump(
            include={
                "entry_id",
                "partner_id",
                "partner_name",
                "certification_id",
                "kind",
                "agency_id",
                "agency_name",
                "reference",
                "amount_minor",
                "valid_from",
                "valid_to",
            }
        )


def _catalogue_certification(certification: Certification | None) -> Certification:
    if certification is None or certification.certificate is None:
        raise DomainError(
            "incentive.not_in_catalogue",
            "the enterprise is not in the catalogue of certified enterprises",
        )
    return certification


def _check_amount(grant: Grant) -> None:
    if grant.kind in MONEY_KINDS and grant.amount_minor is None:
        raise DomainError(
            "incentive.amount_required", f"a {grant.kind.value} entry states its amount", field="amount_minor"
        )
    if grant.kind not in MONEY_KINDS and grant.amount_minor is not None:
        raise DomainError(
            "incentive.amount_not_money", f"a {grant.kind.value} entry has no amount", field="amount_minor"
        )


def _check_within_certificate(certification: Certification, grant: Grant) -> None:
    assert certification.certificate is not None  # checked by _catalogue_certification
    if grant.valid_to is not None and grant.valid_to <= grant.valid_from:
        raise DomainError("incentive.validity_invalid", "an entitlement's validity ends after it starts")
    if grant.valid_from < certification.certificate.valid_from:
        raise DomainError(
            "incentive.before_certification",
            f"the entitlement starts before certificate {certification.certificate.certificate_number} is valid",
        )
    # The certificate stops counting when it is revoked or expires, even if its printed validity runs on.
    ends = certification.certificate.valid_to
    if certification.ended_at is not None:
        ends = min(ends, certification.ended_at)
    last = grant.valid_to or grant.valid_from
    if grant.valid_from >= ends or last > ends:
        raise DomainError(
            "incentive.after_certification",
            f"certification {certification.certification_id} ({certification.status.value}) "
            f"ends {ends.isoformat()}: an entitlement dated after it is refused",
            certification_id=certification.certification_id,
        )
