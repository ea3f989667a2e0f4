"""Response bodies of the registry's routes (lists are ``alliance_shared.web.pages.Page``)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel, Field

from alliance_registry.domain.agreement import (
    Agreement,
    AgreementRevision,
    AgreementTerms,
    PendingAmendment,
    Signature,
)
from alliance_registry.domain.certification import Certification
from alliance_registry.domain.matching import Suggestion
from alliance_registry.domain.membership import Membership
from alliance_registry.domain.partner import Partner, PartnerDetails
from alliance_registry.service.queries import Profile
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.registry import AgreementStatus, ContactView, PartnerStatus

T = TypeVar("T", covariant=True)


class Versioned(Protocol[T]):
    """An aggregate with the version it is shown at: a ``Loaded`` read or a command's ``Outcome``."""

    @property
    def item(self) -> T: ...

    @property
    def version(self) -> int: ...


class PartnerOut(PartnerDetails):
    partner_id: str
    status: PartnerStatus
    registered_at: UtcDateTime
    updated_at: UtcDateTime
    deactivated_at: UtcDateTime | None = None
    deactivation_reason: str | None = None
    version: int = Field(description="the ETag's version")
    contacts: list[ContactView] | None = Field(
        default=None, description="personal data: only for registry admins, auditors and the partner itself"
    )

    @classmethod
    def of(cls, loaded: Versioned[Partner], *, with_contacts: bool) -> PartnerOut:
        return cls.model_validate(
            {
                **loaded.item.public_view(),
                "version": loaded.version,
                "contacts": [c.model_dump() for c in loaded.item.contacts] if with_contacts else None,
            }
        )


class AgreementOut(BaseModel):
    agreement_id: str
    status: AgreementStatus
    version: int = Field(description="the ETag's version (every change counts)")
    terms_version: int = Field(description="1 when drafted, +1 per amendment")
    terms: AgreementTerms
    signatures: list[Signature]
    pending_party_ids: list[str]
    drafted_at: UtcDateTime
    signed_at: UtcDateTime | None
    activated_at: UtcDateTime | None
    suspension_reason: str | None
    ended_at: UtcDateTime | None
    termination_reason: str | None
    pending_amendment: PendingAmendment | None = Field(
        description="proposed terms awaiting signatures; in force once every party signed them"
    )
    amendment_pending_party_ids: list[str] = Field(description="parties yet to sign the pending amendment")

    @classmethod
    def of(cls, loaded: Versioned[Agreement]) -> AgreementOut:
        a = loaded.item
        return cls(
            agreement_id=a.agreement_id,
            status=a.status,
            version=loaded.version,
            terms_version=a.terms_version,
            terms=a.terms,
            signatures=list(a.signatures),
            pending_party_ids=list(a.pending_party_ids),
            drafted_at=a.drafted_at,
            signed_at=a.signed_at,
            activated_at=a.activated_at,
            suspension_reason=a.suspension_reason,
            ended_at=a.ended_at,
            termination_reason=a.termination_reason,
            pending_amendment=a.pending_amendment,
            amendment_pending_party_ids=list(a.pending_amendment.pending_party_ids()) if a.pending_amendment else [],
        )


class AgreementVersionsOut(BaseModel):
    agreement_id: str
    revisions: list[AgreementRevision] = Field(description="every version of the terms, oldest first")


class ProfileOut(BaseModel):
    partner: PartnerOut
    membership: Membership | None
    certifications: list[Certification]
    certified_now: bool
    agreements: list[AgreementOut]

    @classmethod
    def of(cls, profile: Profile, *, with_contacts: bool) -> ProfileOut:
        return cls(
            partner=PartnerOut.of(profile.partner, with_contacts=with_contacts),
            membership=profile.membership,
            certifications=profile.certifications,
            certified_now=profile.certified_now,
            agreements=[AgreementOut.of(a) for a in profile.agreements],
        )


class MatchOut(BaseModel):
    college_id: str
    majors: list[str] = Field(description="the majors asked for; empty means all the college's majors")
    suggestions: list[Suggestion]
