"""The Agreement aggregate: a cooperation agreement between colleges and enterprises.

    draft ──each party signs──▶ signed ──activate──▶ active ◀──resume── suspended
                                                       │ └──suspend──────▶ │
                                                       └─complete_if_due─▶ completed
    draft, signed, active, suspended ──terminate──▶ terminated

Parties: at least one college and one enterprise, exactly one lead (a college or an
enterprise), optionally industry associations (coordinator) and government agencies
(sponsor); research institutes may participate. The use case looks the partners up and
passes their summaries; the agreement refuses ids it was not given and deactivated
partners.

Terms are versioned: drafting records version 1. An amendment (proposed while signed,
active or suspended) is a pending revision that takes effect only when every party has
signed it; then it becomes the next version. ``revisions`` keeps every version in force
so far; the last is in force. A new proposal replaces a pending one (its signatures are
discarded); the admin may withdraw it with a reason; terminating or completing the
agreement drops it. Amendments cannot change
who the parties are (their signatures are for that set): a different set of parties
needs a new agreement.

Dates are calendar dates in China; the due checks compare them with the date in China
at ``now``. The term runs from ``start_date`` to ``end_date``, both inclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.domain.codes import validate_major_codes
from alliance_registry.domain.common import SYSTEM_ACTOR, alliance_date, require_reason, storable
from alliance_registry.domain.partner import PartnerSummary
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementAmended,
    AgreementAmendmentProposed,
    AgreementAmendmentSigned,
    AgreementAmendmentWithdrawn,
    AgreementCompleted,
    AgreementDrafted,
    AgreementPartySigned,
    AgreementPartyView,
    AgreementResumed,
    AgreementSigned,
    AgreementStatus,
    AgreementSuspended,
    AgreementTerminated,
    AmendmentProposalView,
    ObligationView,
    PartyRole,
)
from alliance_shared.contract.vocabulary import CooperationMode, Depth, PartnerKind
from alliance_shared.errors import Conflict, DomainError, InvalidTransition

#: The roles each kind of partner may take in an agreement.
ROLES_BY_KIND: Mapping[PartnerKind, frozenset[PartyRole]] = {
    PartnerKind.COLLEGE: frozenset({PartyRole.LEAD, PartyRole.PARTICIPANT}),
    PartnerKind.ENTERPRISE: frozenset({PartyRole.LEAD, PartyRole.PARTICIPANT}),
    PartnerKind.RESEARCH_INSTITUTE: frozenset({PartyRole.PARTICIPANT}),
    PartnerKind.INDUSTRY_ASSOCIATION: frozenset({PartyRole.COORDINATOR}),
    PartnerKind.GOVERNMENT_AGENCY: frozenset({PartyRole.SPONSOR}),
}

AMENDABLE = frozenset({AgreementStatus.SIGNED, AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED})
TERMINABLE = frozenset({AgreementStatus.DRAFT, *AMENDABLE})


class PartyInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str = Field(min_length=1, max_length=100)
    role: PartyRole


class AgreementDraft(BaseModel):
    """The terms as a use case receives them: parties by id, to be resolved and checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    parties: tuple[PartyInput, ...] = Field(max_length=200)
    modes: frozenset[CooperationMode]
    majors: tuple[str, ...] = Field(default=(), max_length=500)
    start_date: date
    end_date: date
    declared_depth: Depth
    obligations: tuple[ObligationView, ...] = Field(default=(), max_length=500)


class AgreementTerms(BaseModel):
    """Checked terms, with each party's kind, region and name as the registry knew them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    parties: tuple[AgreementPartyView, ...]
    modes: tuple[CooperationMode, ...]
    majors: tuple[str, ...]
    start_date: date
    end_date: date
    declared_depth: Depth
    obligations: tuple[ObligationView, ...]

    @property
    def party_ids(self) -> tuple[str, ...]:
        return tuple(p.partner_id for p in self.parties)

    def ids_of(self, kind: PartnerKind) -> tuple[str, ...]:
        return tuple(p.partner_id for p in self.parties if p.kind is kind)


class AgreementRevision(BaseModel):
    """One version of the terms: who recorded it, when and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    terms: AgreementTerms
    recorded_at: UtcDateTime
    recorded_by: str
    summary: str


class Signature(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    party_id: str
    signed_at: UtcDateTime
    signed_by: str


class PendingAmendment(BaseModel):
    """Proposed terms awaiting the parties' signatures; in force once every party signed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    revision: AgreementRevision
    signatures: tuple[Signature, ...] = ()

    @property
    def signed_party_ids(self) -> tuple[str, ...]:
        return tuple(s.party_id for s in self.signatures)

    def pending_party_ids(self) -> tuple[str, ...]:
        signed = set(self.signed_party_ids)
        return tuple(i for i in self.revision.terms.party_ids if i not in signed)


def resolve_terms(draft: AgreementDraft, partners: Mapping[str, PartnerSummary]) -> AgreementTerms:
    """Check ``draft`` against the rules and the partners the use case found; DomainError on the first failure."""
    ids = [p.partner_id for p in draft.parties]
    unknown = sorted({i for i in ids if i not in partners})
    if unknown:
        raise DomainError("agreement.unknown_party", f"unknown partners: {', '.join(unknown)}", partner_ids=unknown)
    inactive = sorted({i for i in ids if not partners[i].active})
    if inactive:
        raise DomainError(
            "agreement.inactive_party", f"deactivated partners: {', '.join(inactive)}", partner_ids=inactive
        )
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DomainError("agreement.duplicate_party", "a partner is a party once", partner_ids=duplicates)
    parties = tuple(
        AgreementPartyView(
            partner_id=p.partner_id,
            kind=partners[p.partner_id].kind,
            role=p.role,
            region_code=partners[p.partner_id].region_code,
            name=partners[p.partner_id].name,
        )
        for p in draft.parties
    )
    kinds = {p.kind for p in parties}
    if PartnerKind.COLLEGE not in kinds:
        raise DomainError("agreement.no_college", "an agreement needs at least one college")
    if PartnerKind.ENTERPRISE not in kinds:
        raise DomainError("agreement.no_enterprise", "an agreement needs at least one enterprise")
    for party in parties:
        if party.role not in ROLES_BY_KIND[party.kind]:
            raise DomainError(
                "agreement.role_mismatch",
                f"a {party.kind.value} cannot be {party.role.value} of an agreement",
                partner_id=party.partner_id,
            )
    if sum(1 for p in parties if p.role is PartyRole.LEAD) != 1:
        raise DomainError("agreement.lead", "exactly one college or enterprise leads the agreement")
    if not draft.modes:
        raise DomainError("agreement.no_modes", "name at least one cooperation mode", field="modes")
    if draft.end_date <= draft.start_date:
        raise DomainError("agreement.dates", "the end date must be after the start date", field="end_date")
    party_set = set(ids)
    for obligation in draft.obligations:
        if obligation.party_id not in party_set:
            raise DomainError(
                "agreement.obligation_party",
                f"obligation of {obligation.party_id}, who is not a party",
                partner_id=obligation.party_id,
            )
    return AgreementTerms(
        title=draft.title,
        parties=parties,
        modes=tuple(sorted(draft.modes)),
        majors=validate_major_codes(draft.majors, "majors"),
        start_date=draft.start_date,
        end_date=draft.end_date,
        declared_depth=draft.declared_depth,
        obligations=draft.obligations,
    )


class Agreement(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    agreement_id: str = Field(min_length=1, max_length=100)
    status: AgreementStatus = AgreementStatus.DRAFT
    revisions: list[AgreementRevision] = Field(min_length=1)
    signatures: list[Signature] = Field(default_factory=list)
    drafted_at: UtcDateTime
    signed_at: UtcDateTime | None = None
    activated_at: UtcDateTime | None = None
    suspension_reason: str | None = None
    ended_at: UtcDateTime | None = Field(default=None, description="when it was terminated or completed")
    termination_reason: str | None = None
    pending_amendment: PendingAmendment | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    # --- lifecycle -------------------------------------------------------------------

    @classmethod
    def draft(
        cls,
        *,
        agreement_id: str,
        draft: AgreementDraft,
        partners: Mapping[str, PartnerSummary],
        now: datetime,
        actor_id: str,
    ) -> Agreement:
        """A new draft awaiting signatures. ``partners``: summaries of the partners the use case found."""
        terms = resolve_terms(draft, partners)
        agreement = cls(
            agreement_id=agreement_id,
            revisions=[
                AgreementRevision(version=1, terms=terms, recorded_at=now, recorded_by=actor_id, summary="drafted")
            ],
            drafted_at=now,
        )
        agreement.events.append(AgreementDrafted(**agreement._state(), occurred_at=now, actor_id=actor_id))
        return agreement

    def sign(self, party_id: str, *, now: datetime, actor_id: str) -> None:
        """``party_id`` signs for itself; the last signature makes the agreement signed."""
        if self.status is not AgreementStatus.DRAFT:
            raise InvalidTransition("agreement", self.status, "sign")
        if party_id not in self.terms.party_ids:
            raise DomainError(
                "agreement.not_a_party", f"{party_id} is not a party of this agreement", party_id=party_id
            )
        if party_id in self.signed_party_ids:
            raise Conflict("agreement.already_signed", f"{party_id} has already signed", party_id=party_id)
        self.signatures.append(Signature(party_id=party_id, signed_at=now, signed_by=actor_id))
        pending = self.pending_party_ids
        if not pending:
            self.status = AgreementStatus.SIGNED
            self.signed_at = now
        self.events.append(
            AgreementPartySigned(
                **self._state(),
                party_id=party_id,
                signed_party_ids=self.signed_party_ids,
                pending_party_ids=pending,
                occurred_at=now,
                actor_id=actor_id,
            )
        )
        if not pending:
            self.events.append(AgreementSigned(**self._state(), occurred_at=now, actor_id=actor_id))

    def activate(self, *, now: datetime, actor_id: str) -> None:
        """Bring a signed agreement into force; only within its term."""
        if self.status is not AgreementStatus.SIGNED:
            raise InvalidTransition("agreement", self.status, "activate")
        today = alliance_date(now)
        if today < self.terms.start_date:
            raise DomainError("agreement.not_started", f"the agreement starts on {self.terms.start_date}")
        if today > self.terms.end_date:
            raise DomainError("agreement.term_over", f"the agreement's term ended on {self.terms.end_date}")
        self.status = AgreementStatus.ACTIVE
        self.activated_at = now
        self.events.append(AgreementActivated(**self._state(), occurred_at=now, actor_id=actor_id))

    def activate_if_due(self, now: datetime) -> bool:
        """Activate a signed agreement whose term has begun (and not yet ended); True if it did."""
        today = alliance_date(now)
        if self.status is not AgreementStatus.SIGNED or not self.terms.start_date <= today <= self.terms.end_date:
            return False
        self.activate(now=now, actor_id=SYSTEM_ACTOR)
        return True

    def suspend(self, reason: str, *, now: datetime, actor_id: str) -> None:
        if self.status is not AgreementStatus.ACTIVE:
            raise InvalidTransition("agreement", self.status, "suspend")
        reason = require_reason(reason)
        self.status = AgreementStatus.SUSPENDED
        self.suspension_reason = reason
        self.events.append(AgreementSuspended(**self._state(), reason=reason, occurred_at=now, actor_id=actor_id))

    def resume(self, reason: str, *, now: datetime, actor_id: str) -> None:
        if self.status is not AgreementStatus.SUSPENDED:
            raise InvalidTransition("agreement", self.status, "resume")
        reason = require_reason(reason)
        self.status = AgreementStatus.ACTIVE
        self.suspension_reason = None
        self.events.append(AgreementResumed(**self._state(), reason=reason, occurred_at=now, actor_id=actor_id))

    def terminate(self, reason: str, *, now: datetime, actor_id: str) -> None:
        """End the agreement early (a draft may be abandoned this way too); final."""
        if self.status not in TERMINABLE:
            raise InvalidTransition("agreement", self.status, "terminate")
        reason = require_reason(reason)
        self.status = AgreementStatus.TERMINATED
        self.ended_at = now
        self.pending_amendment = None
        self.termination_reason = reason
        self.events.append(AgreementTerminated(**self._state(), reason=reason, occurred_at=now, actor_id=actor_id))

    def complete_if_due(self, now: datetime) -> bool:
        """Complete an active agreement the day after its end date; True if it did (emits once)."""
        if self.status is not AgreementStatus.ACTIVE or alliance_date(now) <= self.terms.end_date:
            return False
        self.status = AgreementStatus.COMPLETED
        self.ended_at = now
        self.pending_amendment = None
        self.events.append(AgreementCompleted(**self._state(), occurred_at=now, actor_id=SYSTEM_ACTOR))
        return True

    def amend(
        self,
        draft: AgreementDraft,
        *,
        summary: str,
        partners: Mapping[str, PartnerSummary],
        now: datetime,
        actor_id: str,
    ) -> None:
        """Propose new terms (the parties stay the same); they take effect when every party signed them."""
        if self.status not in AMENDABLE:
            raise InvalidTransition("agreement", self.status, "amend")
        summary = require_reason(summary)
        terms = resolve_terms(draft, partners)
        if set(terms.party_ids) != set(self.terms.party_ids):
            raise DomainError(
                "agreement.parties_fixed", "an amendment cannot add or remove parties; draft a new agreement"
            )
        if terms == self.terms:
            raise DomainError("agreement.amendment_empty", "the amendment changes nothing")
        revision = AgreementRevision(
            version=self.terms_version + 1, terms=terms, recorded_at=now, recorded_by=actor_id, summary=summary
        )
        self.pending_amendment = PendingAmendment(revision=revision)
        self.events.append(
            AgreementAmendmentProposed(
                **self._state(),
                proposed_version=revision.version,
                summary=summary,
                proposal=_proposal(terms),
                pending_party_ids=self.pending_amendment.pending_party_ids(),
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def sign_amendment(self, party_id: str, *, now: datetime, actor_id: str) -> None:
        """``party_id`` signs the pending amendment; the last signature puts it in force."""
        if self.status not in AMENDABLE:
            raise InvalidTransition("agreement", self.status, "sign_amendment")
        pending = self.pending_amendment
        if pending is None:
            raise Conflict("agreement.no_pending_amendment", "there is no amendment awaiting signatures")
        if party_id not in self.terms.party_ids:
            raise DomainError(
                "agreement.not_a_party", f"{party_id} is not a party of this agreement", party_id=party_id
            )
        if party_id in pending.signed_party_ids:
            raise Conflict(
                "agreement.already_signed", f"{party_id} has already signed this amendment", party_id=party_id
            )
        pending = pending.model_copy(
            update={
                "signatures": (*pending.signatures, Signature(party_id=party_id, signed_at=now, signed_by=actor_id))
            }
        )
        waiting = pending.pending_party_ids()
        self.pending_amendment = pending
        self.events.append(
            AgreementAmendmentSigned(
                **self._state(),
                proposed_version=pending.revision.version,
                party_id=party_id,
                signed_party_ids=pending.signed_party_ids,
                pending_party_ids=waiting,
                occurred_at=now,
                actor_id=actor_id,
            )
        )
        if waiting:
            return
        previous = self.terms_version
        self.revisions.append(pending.revision)
        self.pending_amendment = None
        self.events.append(
            AgreementAmended(
                **self._state(),
                previous_version=previous,
                summary=pending.revision.summary,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def withdraw_amendment(self, reason: str, *, now: datetime, actor_id: str) -> None:
        """Drop the pending amendment before it took effect; the terms in force stay."""
        pending = self.pending_amendment
        if pending is None:
            raise Conflict("agreement.no_pending_amendment", "there is no amendment awaiting signatures")
        reason = require_reason(reason)
        self.pending_amendment = None
        self.events.append(
            AgreementAmendmentWithdrawn(
                **self._state(),
                proposed_version=pending.revision.version,
                reason=reason,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    # --- reading ---------------------------------------------------------------------

    @property
    def terms(self) -> AgreementTerms:
        """The terms in force (the last revision)."""
        return self.revisions[-1].terms

    @property
    def terms_version(self) -> int:
        return self.revisions[-1].version

    @property
    def previous_revisions(self) -> list[AgreementRevision]:
        """Earlier versions of the terms, oldest first."""
        return self.revisions[:-1]

    @property
    def signed_party_ids(self) -> tuple[str, ...]:
        return tuple(s.party_id for s in self.signatures)

    @property
    def pending_party_ids(self) -> tuple[str, ...]:
        signed = set(self.signed_party_ids)
        return tuple(i for i in self.terms.party_ids if i not in signed)

    def to_document(self) -> dict[str, Any]:
        return storable(self.model_dump(mode="python"))

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Agreement:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})

    def _state(self) -> dict[str, Any]:
        terms = self.terms
        return {
            "agreement_id": self.agreement_id,
            "version": self.terms_version,
            "status": self.status,
            "title": terms.title,
            "party_ids": terms.party_ids,
            "college_ids": terms.ids_of(PartnerKind.COLLEGE),
            "enterprise_ids": terms.ids_of(PartnerKind.ENTERPRISE),
            "parties": terms.parties,
            "modes": terms.modes,
            "majors": terms.majors,
            "start_date": terms.start_date,
            "end_date": terms.end_date,
            "declared_depth": terms.declared_depth,
            "obligations": terms.obligations,
        }


def _proposal(terms: AgreementTerms) -> AmendmentProposalView:
    return AmendmentProposalView(
        title=terms.title,
        modes=terms.modes,
        majors=terms.majors,
        start_date=terms.start_date,
        end_date=terms.end_date,
        declared_depth=terms.declared_depth,
        obligations=terms.obligations,
    )
