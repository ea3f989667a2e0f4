"""Events of the registry context (topic ``alliance.registry.events``).

Keys (``aggregate_field``): partner, membership and certification events by
``partner_id`` (so everything about one organisation reaches consumers in order);
council events by ``council_id``; agreement events by ``agreement_id``.

Every event carries the full current state its consumers need (event-carried state
transfer): partner events the public profile, agreement events the whole agreement
(parties with kind, role and region; modes; majors; term; declared depth;
obligations). Agreement events carry ``version``, the agreement's terms version (1 when
drafted, +1 per amendment), so a reader can ignore a structure older than the one it has.

Personal data: partner contacts travel only in ``partner.registered`` and
``partner.updated`` (the notifications service builds its recipient directory from
them); no other registry event carries a person's e-mail address or phone number.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from alliance_shared.contract.base import EventPayload, MinorUnits, UtcDateTime
from alliance_shared.contract.vocabulary import (
    CooperationMode,
    Depth,
    ObligationMetric,
    ObligationPeriod,
    PartnerKind,
    Reason,
)

Id = Annotated[str, Field(min_length=1, max_length=100)]
Name = Annotated[str, Field(min_length=1, max_length=200)]

#: Unified social credit code (GB 32100-2015): 18 characters of the code's alphabet. The
#: registry also checks the check character before a code is ever published.
CreditCode = Annotated[str, Field(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$", examples=["91440300MA5G4WNN43"])]
#: Administrative division code (GB/T 2260): six digits, the first two the province.
RegionCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["440305"])]
#: Industry classification (GB/T 4754): a section letter, optionally 2–4 digits.
SectorCode = Annotated[str, Field(pattern=r"^[A-T]([0-9]{2,4})?$", examples=["C39"])]
#: Vocational major catalogue code: 2-digit category, 4-digit class or 6-digit major.
MajorCode = Annotated[str, Field(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$", examples=["510201"])]
MajorCodes = Annotated[tuple[MajorCode, ...], Field(max_length=500)]
PartyIds = Annotated[tuple[Id, ...], Field(max_length=200)]

_ACTOR = Field(description="who made the change; 'system' for automatic transitions")


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class CollegeLevel(StrEnum):
    HIGHER_VOCATIONAL = "higher_vocational"
    SECONDARY_VOCATIONAL = "secondary_vocational"
    TECHNICIAN_COLLEGE = "technician_college"
    VOCATIONAL_UNDERGRADUATE = "vocational_undergraduate"


class EnterpriseSize(StrEnum):
    LARGE = "large"
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"


class ContactLocale(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


class MembershipStatus(StrEnum):
    APPLIED = "applied"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    EXPELLED = "expelled"


class MembershipAction(StrEnum):
    APPLY = "apply"
    ADMIT = "admit"
    REJECT = "reject"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    WITHDRAW = "withdraw"
    EXPEL = "expel"


class CouncilPosition(StrEnum):
    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    DIRECTOR = "director"
    SUPERVISOR = "supervisor"


class CouncilChange(StrEnum):
    CONSTITUTED = "constituted"
    SEAT_ASSIGNED = "seat_assigned"
    SEAT_VACATED = "seat_vacated"


class AgreementStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    COMPLETED = "completed"


class PartyRole(StrEnum):
    """A party's role in an agreement.

    ``lead``: the college or enterprise that leads the cooperation (exactly one);
    ``participant``: any other college, enterprise or research institute;
    ``coordinator``: an industry association; ``sponsor``: a sponsoring government agency.
    """

    LEAD = "lead"
    PARTICIPANT = "participant"
    COORDINATOR = "coordinator"
    SPONSOR = "sponsor"


# --- value views ----------------------------------------------------------------------


class ContactView(BaseModel):
    """A person a partner names to deal with the alliance (personal data)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    phone: str = Field(pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    position: str = Field(min_length=1, max_length=100)
    locale: ContactLocale = ContactLocale.ZH_CN


class CollegeProfileView(BaseModel):
    """What only a college has: its level and the majors it offers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: CollegeLevel
    majors: MajorCodes = ()


class EnterpriseProfileView(BaseModel):
    """What only an enterprise has: its size class and headcount."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: EnterpriseSize
    headcount: int = Field(strict=True, ge=0, le=10_000_000)


class CouncilSeatView(BaseModel):
    """One council seat: the member organisation, the person representing it and the term."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: CouncilPosition
    partner_id: Id
    partner_kind: PartnerKind
    representative: Name
    term_start: date
    term_end: date


class AgreementPartyView(BaseModel):
    """A party of an agreement as the registry knew it when the agreement was last drafted or amended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: Id
    kind: PartnerKind
    role: PartyRole
    region_code: RegionCode
    name: Name


class ObligationView(BaseModel):
    """A measurable commitment of one party, e.g. 30 internship posts per year."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    party_id: Id
    metric: ObligationMetric
    quantity: int = Field(strict=True, ge=0, le=10**15)
    period: ObligationPeriod
    description: str = Field(default="", max_length=1000)


class AmendmentProposalView(BaseModel):
    """The terms an amendment proposes (the parties cannot change, so they are not repeated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Name
    modes: tuple[CooperationMode, ...] = Field(min_length=1, max_length=len(CooperationMode))
    majors: MajorCodes
    start_date: date
    end_date: date
    declared_depth: Depth
    obligations: tuple[ObligationView, ...] = Field(max_length=500)


# --- partners -------------------------------------------------------------------------


class _PartnerEvent(EventPayload):
    """The public profile of a partner (no contacts)."""

    aggregate_field: ClassVar[str] = "partner_id"

    partner_id: Id
    kind: PartnerKind
    name_zh: Name
    name_en: Name | None = None
    credit_code: CreditCode
    region_code: RegionCode
    sector_code: SectorCode
    address: str = Field(min_length=1, max_length=500)
    website: str | None = Field(default=None, max_length=500)
    status: PartnerStatus
    college: CollegeProfileView | None = Field(default=None, description="set for colleges only")
    enterprise: EnterpriseProfileView | None = Field(default=None, description="set for enterprises only")
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


_PARTNER_EXAMPLE: JsonDict = {
    "partner_id": "ent-042",
    "kind": "enterprise",
    "name_zh": "深圳市鹏城精密制造有限公司",
    "name_en": "Shenzhen Pengcheng Precision Manufacturing Co., Ltd.",
    "credit_code": "91440300MA5G4WNN43",
    "region_code": "440305",
    "sector_code": "C39",
    "address": "深圳市南山区科技园南区高新南七道 18 号",
    "website": "https://www.pengcheng-precision.example.cn",
    "status": "active",
    "college": None,
    "enterprise": {"size": "medium", "headcount": 860},
    "contacts": [
        {
            "name": "王芳",
            "email": "wang.fang@pengcheng-precision.example.cn",
            "phone": "+86 755 2601 8899",
            "position": "HR director",
            "locale": "zh-CN",
        }
    ],
    "occurred_at": "2026-03-02T08:00:00Z",
    "actor_id": "admin-chen",
}


class PartnerRegistered(_PartnerEvent):
    """A partner organisation was registered with the alliance.

    ``contacts`` is personal data. It travels only in ``partner.registered`` and
    ``partner.updated`` because the notifications service builds its recipient
    directory from it; consumers that do not send notices must not store it.
    """

    event_type: ClassVar[str] = "org.coopalliance.registry.partner.registered.v1"
    model_config = ConfigDict(json_schema_extra={"examples": [_PARTNER_EXAMPLE]})

    contacts: tuple[ContactView, ...] = Field(default=(), max_length=20)


class PartnerUpdated(_PartnerEvent):
    """A partner's profile or contacts changed; the payload is the whole new profile.

    ``contacts`` is the complete new contact list (personal data: only here and in
    ``partner.registered``, for the notifications service's recipient directory).
    ``changed_fields`` names the top-level fields that changed.
    """

    event_type: ClassVar[str] = "org.coopalliance.registry.partner.updated.v1"

    contacts: tuple[ContactView, ...] = Field(default=(), max_length=20)
    changed_fields: tuple[str, ...] = Field(min_length=1, max_length=20)


class PartnerDeactivated(_PartnerEvent):
    """A partner was deactivated: it can no longer join agreements or apply for certification."""

    event_type: ClassVar[str] = "org.coopalliance.registry.partner.deactivated.v1"

    reason: Reason


# --- membership and council -----------------------------------------------------------


class MembershipChanged(EventPayload):
    """A partner's alliance membership moved from one status to another (``from_status`` is
    None when the partner applied)."""

    event_type: ClassVar[str] = "org.coopalliance.registry.membership.changed.v1"
    aggregate_field: ClassVar[str] = "partner_id"

    partner_id: Id
    partner_kind: PartnerKind
    action: MembershipAction
    from_status: MembershipStatus | None
    to_status: MembershipStatus
    reason: Reason
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class CouncilChanged(EventPayload):
    """The alliance council was constituted or a seat changed; ``seats`` is the whole council after the change.

    ``partner_id`` is the organisation whose seat was assigned or vacated (None when constituted).
    """

    event_type: ClassVar[str] = "org.coopalliance.registry.council.changed.v1"
    aggregate_field: ClassVar[str] = "council_id"

    council_id: Id
    change: CouncilChange
    partner_id: Id | None = None
    seats: tuple[CouncilSeatView, ...] = Field(max_length=200)
    reason: Reason
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


# --- certification --------------------------------------------------------------------


class CertificationApplied(EventPayload):
    """An enterprise applied to be certified as an industry-education integration enterprise."""

    event_type: ClassVar[str] = "org.coopalliance.registry.certification.applied.v1"
    aggregate_field: ClassVar[str] = "partner_id"

    certification_id: Id
    partner_id: Id
    partner_name: Name
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class CertificationRejected(EventPayload):
    """The admin refused an enterprise's application for certification, with the reason."""

    event_type: ClassVar[str] = "org.coopalliance.registry.certification.rejected.v1"
    aggregate_field: ClassVar[str] = "partner_id"

    certification_id: Id
    partner_id: Id
    partner_name: Name
    reason: Reason
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class _CertificateEvent(EventPayload):
    """A certificate: valid from ``valid_from`` (inclusive) until ``valid_to`` (exclusive)."""

    aggregate_field: ClassVar[str] = "partner_id"

    certification_id: Id
    partner_id: Id
    partner_name: Name
    certificate_number: str = Field(min_length=1, max_length=100)
    valid_from: UtcDateTime
    valid_to: UtcDateTime
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class CertificationGranted(_CertificateEvent):
    """The enterprise was certified as an industry-education integration enterprise for the validity window."""

    event_type: ClassVar[str] = "org.coopalliance.registry.certification.granted.v1"


class CertificationRevoked(_CertificateEvent):
    """The certificate was revoked before the end of its validity; the enterprise is no longer certified."""

    event_type: ClassVar[str] = "org.coopalliance.registry.certification.revoked.v1"

    reason: Reason


class CertificationExpired(_CertificateEvent):
    """The certificate reached ``valid_to``; the enterprise is no longer certified."""

    event_type: ClassVar[str] = "org.coopalliance.registry.certification.expired.v1"


# --- incentive register ---------------------------------------------------------------


class IncentiveKind(StrEnum):
    """The policy's "finance + fiscal + land + credit" support for catalogue enterprises."""

    FISCAL = "fiscal"  # special-fund awards (from funding's award events)
    TAX = "tax"  # education-surcharge credit
    FINANCIAL = "financial"  # loan interest subsidies, credit lines of a partner bank
    LAND = "land"  # priority land-use approvals
    CREDIT = "credit"  # a credit-rating bonus


class _IncentiveEvent(EventPayload):
    """An entry of a certified enterprise's incentive register, keyed by the enterprise."""

    aggregate_field: ClassVar[str] = "partner_id"

    entry_id: Id
    partner_id: Id = Field(description="the certified enterprise")
    partner_name: Name
    certification_id: Id
    kind: IncentiveKind
    agency_id: Id | None = Field(description="the granting agency partner; none for special-fund awards")
    agency_name: Name | None = None
    reference: str = Field(min_length=1, max_length=200)
    amount_minor: MinorUnits | None = Field(description="fiscal, tax and financial entries: money, CNY fen")
    valid_from: UtcDateTime
    valid_to: UtcDateTime | None
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class IncentiveRecorded(_IncentiveEvent):
    """An incentive was entered in the enterprise's register (the enterprise is told)."""

    event_type: ClassVar[str] = "org.coopalliance.registry.incentive.recorded.v1"


class IncentiveSuspended(_IncentiveEvent):
    """The enterprise's certification was revoked: this open entry is suspended (the
    granting agency and the enterprise are told)."""

    event_type: ClassVar[str] = "org.coopalliance.registry.incentive.suspended.v1"

    reason: Reason


# --- agreements -----------------------------------------------------------------------


class _AgreementEvent(EventPayload):
    """The whole agreement as it stands after the change."""

    aggregate_field: ClassVar[str] = "agreement_id"

    agreement_id: Id
    version: int = Field(ge=1, description="terms version: 1 when drafted, +1 per amendment")
    status: AgreementStatus
    title: Name
    party_ids: PartyIds
    college_ids: PartyIds
    enterprise_ids: PartyIds
    parties: tuple[AgreementPartyView, ...] = Field(min_length=2, max_length=200)
    modes: tuple[CooperationMode, ...] = Field(min_length=1, max_length=len(CooperationMode))
    majors: MajorCodes
    start_date: date
    end_date: date
    declared_depth: Depth
    obligations: tuple[ObligationView, ...] = Field(max_length=500)
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class AgreementDrafted(_AgreementEvent):
    """A cooperation agreement was drafted; it awaits every party's signature."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.drafted.v1"


class AgreementPartySigned(_AgreementEvent):
    """One party signed the agreement; ``pending_party_ids`` have not signed yet."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.party_signed.v1"

    party_id: Id
    signed_party_ids: PartyIds
    pending_party_ids: PartyIds


class AgreementSigned(_AgreementEvent):
    """Every party has signed; the agreement becomes active at its start date."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.signed.v1"


_AGREEMENT_EXAMPLE: JsonDict = {
    "agreement_id": "agr-7f3c",
    "version": 1,
    "status": "active",
    "title": "数控技术订单班与实训基地共建协议",
    "party_ids": ["col-001", "ent-042", "gov-007"],
    "college_ids": ["col-001"],
    "enterprise_ids": ["ent-042"],
    "parties": [
        {
            "partner_id": "col-001",
            "kind": "college",
            "role": "lead",
            "region_code": "440305",
            "name": "深圳职业技术大学",
        },
        {
            "partner_id": "ent-042",
            "kind": "enterprise",
            "role": "participant",
            "region_code": "440305",
            "name": "深圳市鹏城精密制造有限公司",
        },
        {
            "partner_id": "gov-007",
            "kind": "government_agency",
            "role": "sponsor",
            "region_code": "440300",
            "name": "深圳市教育局",
        },
    ],
    "modes": ["order_class", "joint_lab_or_training_base"],
    "majors": ["460103", "460104"],
    "start_date": "2026-09-01",
    "end_date": "2029-08-31",
    "declared_depth": "deep",
    "obligations": [
        {
            "party_id": "ent-042",
            "metric": "internship_posts",
            "quantity": 40,
            "period": "per_year",
            "description": "CNC machining internship posts",
        },
        {
            "party_id": "ent-042",
            "metric": "order_class_students",
            "quantity": 30,
            "period": "per_year",
            "description": "",
        },
        {
            "party_id": "col-001",
            "metric": "teacher_practice_persons",
            "quantity": 4,
            "period": "per_year",
            "description": "teachers on placement in the workshop",
        },
    ],
    "occurred_at": "2026-09-01T00:00:00Z",
    "actor_id": "system",
}


class AgreementActivated(_AgreementEvent):
    """The signed agreement came into force (at its start date, or when activated after it)."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.activated.v1"
    model_config = ConfigDict(json_schema_extra={"examples": [_AGREEMENT_EXAMPLE]})


class AgreementAmended(_AgreementEvent):
    """An amendment took effect (every party signed it); ``version`` is the new terms version."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.amended.v1"

    previous_version: int = Field(ge=1)
    summary: Reason


class AgreementAmendmentProposed(_AgreementEvent):
    """New terms were proposed; every party is asked to sign them (``pending_party_ids``).

    The agreement's fields are the terms still in force (``version``); ``proposal`` is what
    takes effect as ``proposed_version`` once every party has signed (then ``agreement.amended``).
    """

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.amendment_proposed.v1"

    proposed_version: int = Field(ge=2)
    summary: Reason
    proposal: AmendmentProposalView
    pending_party_ids: PartyIds


class AgreementAmendmentSigned(_AgreementEvent):
    """One party signed the pending amendment; ``pending_party_ids`` have not signed it yet."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.amendment_signed.v1"

    proposed_version: int = Field(ge=2)
    party_id: Id
    signed_party_ids: PartyIds
    pending_party_ids: PartyIds


class AgreementAmendmentWithdrawn(_AgreementEvent):
    """The admin withdrew the pending amendment before every party signed it; the terms in force stay."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.amendment_withdrawn.v1"

    proposed_version: int = Field(ge=2)
    reason: Reason


class AgreementSuspended(_AgreementEvent):
    """The agreement was suspended; cooperation and payments under it should pause."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.suspended.v1"

    reason: Reason


class AgreementResumed(_AgreementEvent):
    """A suspended agreement is active again."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.resumed.v1"

    reason: Reason


class AgreementTerminated(_AgreementEvent):
    """The agreement ended early; final."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.terminated.v1"

    reason: Reason


class AgreementCompleted(_AgreementEvent):
    """The agreement ran to its end date; final."""

    event_type: ClassVar[str] = "org.coopalliance.registry.agreement.completed.v1"


REGISTRY_EVENTS: tuple[type[EventPayload], ...] = (
    PartnerRegistered,
    PartnerUpdated,
    PartnerDeactivated,
    MembershipChanged,
    CouncilChanged,
    CertificationApplied,
    CertificationRejected,
    CertificationGranted,
    CertificationRevoked,
    CertificationExpired,
    IncentiveRecorded,
    IncentiveSuspended,
    AgreementDrafted,
    AgreementPartySigned,
    AgreementSigned,
    AgreementActivated,
    AgreementAmendmentProposed,
    AgreementAmendmentSigned,
    AgreementAmendmentWithdrawn,
    AgreementAmended,
    AgreementSuspended,
    AgreementResumed,
    AgreementTerminated,
    AgreementCompleted,
)
