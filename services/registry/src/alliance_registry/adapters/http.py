"""HTTP API of the registry: partners, membership, council, certification, agreements,
queries and partner matching.

Roles: ``registry_admin`` manages everything; a ``college`` or ``enterprise`` token (bound
to one partner id) may replace its own contacts and sign agreements it is a party to;
every authenticated role reads public fields; contacts (personal data) are shown only
to registry admins, auditors and the partner itself. Updates of a partner's profile,
contacts and an agreement's terms need ``If-Match``; lifecycle actions accept an
optional ``If-Match`` (412 when stale) and otherwise apply to the current version.
Lists use ``cursor`` + ``limit`` and answer ``next_cursor``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.adapters.repositories import COUNCIL_ID, Loaded, Repositories
from alliance_registry.domain.agreement import Agreement, AgreementDraft, AgreementRevision, AgreementTerms, Signature
from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_registry.domain.council import Council, SeatAssignment
from alliance_registry.domain.matching import Suggestion
from alliance_registry.domain.membership import Membership
from alliance_registry.domain.partner import Partner, PartnerDetails
from alliance_registry.service import agreements as agreement_cases
from alliance_registry.service import certification as certification_cases
from alliance_registry.service import membership as membership_cases
from alliance_registry.service import partners as partner_cases
from alliance_registry.service import queries
from alliance_registry.service.common import utcnow
from alliance_shared.auth.dependencies import forbid_unless, require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.registry import (
    AgreementStatus,
    ContactView,
    CouncilPosition,
    MajorCode,
    MembershipStatus,
    PartnerStatus,
)
from alliance_shared.contract.vocabulary import CooperationMode, PartnerKind, Role
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE, paginate
from alliance_shared.web.conditional import expected_version, set_etag
from alliance_shared.web.problems import ProblemError

ADMIN, AUDITOR, COLLEGE, ENTERPRISE = Role.REGISTRY_ADMIN, Role.AUDITOR, Role.COLLEGE, Role.ENTERPRISE

Admin = Annotated[Principal, Depends(require_roles(ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(*Role))]
AdminOrPartner = Annotated[Principal, Depends(require_roles(ADMIN, COLLEGE, ENTERPRISE))]

Id = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
PathId = Annotated[str, Path(min_length=1, max_length=100)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")]

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"description": "no such resource (problem+json)"}}
UPDATE: Responses = {
    404: {"description": "no such resource"},
    412: {"description": "If-Match is stale (problem+json, code aggregate.version_conflict)"},
    428: {"description": "If-Match is missing"},
}
TRANSITION: Responses = {
    404: {"description": "no such resource"},
    409: {"description": "the lifecycle does not allow this action now (code <entity>.illegal_transition)"},
    412: {"description": "If-Match given and stale"},
    422: {"description": "a rule refused the change (problem+json with a code)"},
}

_CONTACT_EXAMPLE: dict[str, Any] = {
    "name": "王芳",
    "email": "wang.fang@pengcheng-precision.example.cn",
    "phone": "+86 755 2601 8899",
    "position": "HR director",
    "locale": "zh-CN",
}
_ENTERPRISE_EXAMPLE: dict[str, Any] = {
    "kind": "enterprise",
    "name_zh": "深圳市鹏城精密制造有限公司",
    "name_en": "Shenzhen Pengcheng Precision Manufacturing Co., Ltd.",
    "credit_code": "91440300MA5G4WNN43",
    "region_code": "440305",
    "sector_code": "C39",
    "address": "深圳市南山区科技园南区高新南七道 18 号",
    "website": "https://www.pengcheng-precision.example.cn",
    "enterprise": {"size": "medium", "headcount": 860},
}
_COLLEGE_EXAMPLE: dict[str, Any] = {
    "kind": "college",
    "name_zh": "深圳职业技术大学",
    "credit_code": "124403004557558903",
    "region_code": "440305",
    "sector_code": "P83",
    "address": "深圳市南山区西丽湖",
    "college": {"level": "higher_vocational", "majors": ["460103", "510201"]},
}
_AGREEMENT_EXAMPLE: dict[str, Any] = {
    "title": "数控技术订单班与实训基地共建协议",
    "parties": [
        {"partner_id": "col-0a1b2c3d4e5f", "role": "lead"},
        {"partner_id": "ent-1a2b3c4d5e6f", "role": "participant"},
        {"partner_id": "gov-2a3b4c5d6e7f", "role": "sponsor"},
    ],
    "modes": ["order_class", "joint_lab_or_training_base"],
    "majors": ["460103", "460104"],
    "start_date": "2026-09-01",
    "end_date": "2029-08-31",
    "declared_depth": "deep",
    "obligations": [
        {
            "party_id": "ent-1a2b3c4d5e6f",
            "metric": "internship_posts",
            "quantity": 40,
            "period": "per_year",
            "description": "CNC machining internship posts",
        },
        {
            "party_id": "ent-1a2b3c4d5e6f",
            "metric": "engineer_teaching_hours",
            "quantity": 64,
            "period": "per_term",
            "description": "2 engineers teaching 64 hours per term",
        },
    ],
}


# --- request models ----------------------------------------------------------------------


class PartnerIn(PartnerDetails):
    """A partner to register: the profile of its kind and its contacts (personal data)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_ENTERPRISE_EXAMPLE, "contacts": [_CONTACT_EXAMPLE]}, {**_COLLEGE_EXAMPLE, "contacts": []}]
        }
    )

    contacts: list[ContactView] = Field(default_factory=list, max_length=20)

    def details(self) -> PartnerDetails:
        return PartnerDetails.model_validate(self.model_dump(exclude={"contacts"}))


class PartnerDetailsIn(PartnerDetails):
    """The whole new profile (the kind cannot change; contacts have their own endpoint)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ENTERPRISE_EXAMPLE]})

    def details(self) -> PartnerDetails:
        return PartnerDetails.model_validate(self.model_dump())


class ContactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"contacts": [_CONTACT_EXAMPLE]}]})

    contacts: list[ContactView] = Field(max_length=20)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "board decision 2026-04"}]})

    reason: Reason


class MembershipApplyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"partner_id": "ent-1a2b3c4d5e6f", "reason": "application letter 2026-03-01"}]},
    )

    partner_id: Id
    reason: Reason


class SeatIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "position": "vice_chair",
                    "representative": "李明",
                    "term_start": "2026-01-01",
                    "term_end": "2028-12-31",
                    "reason": "elected at the general assembly",
                }
            ]
        },
    )

    position: CouncilPosition
    representative: str = Field(min_length=1, max_length=200)
    term_start: date
    term_end: date
    reason: Reason


class ConstituteIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "seats": [
                        {
                            "position": "chair",
                            "partner_id": "col-0a1b2c3d4e5f",
                            "representative": "张伟",
                            "term_start": "2026-01-01",
                            "term_end": "2028-12-31",
                        },
                        {
                            "position": "vice_chair",
                            "partner_id": "ent-1a2b3c4d5e6f",
                            "representative": "王芳",
                            "term_start": "2026-01-01",
                            "term_end": "2028-12-31",
                        },
                        {
                            "position": "director",
                            "partner_id": "ia-3a4b5c6d7e8f",
                            "representative": "赵强",
                            "term_start": "2026-01-01",
                            "term_end": "2028-12-31",
                        },
                    ],
                    "reason": "founding assembly",
                }
            ]
        },
    )

    seats: list[SeatAssignment] = Field(min_length=1, max_length=200)
    reason: Reason


class CertificationApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"partner_id": "ent-1a2b3c4d5e6f"}]})

    partner_id: Id


class GrantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "certificate_number": "粤产教融合〔2026〕018号",
                    "valid_from": "2026-04-01T00:00:00Z",
                    "valid_to": "2029-04-01T00:00:00Z",
                }
            ]
        },
    )

    certificate_number: str = Field(min_length=1, max_length=100)
    valid_from: UtcDateTime
    valid_to: UtcDateTime


class AgreementIn(AgreementDraft):
    """The terms of a new agreement; the parties are partner ids with their roles."""

    model_config = ConfigDict(json_schema_extra={"examples": [_AGREEMENT_EXAMPLE]})

    def draft(self) -> AgreementDraft:
        return AgreementDraft.model_validate(self.model_dump())


class AmendmentIn(AgreementDraft):
    """The complete new terms (the same parties) and what the amendment changes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_AGREEMENT_EXAMPLE, "summary": "internship posts raised from 40 to 50 per year"}]
        }
    )

    summary: Reason

    def draft(self) -> AgreementDraft:
        return AgreementDraft.model_validate(self.model_dump(exclude={"summary"}))


class SignIn(BaseModel):
    """Colleges and enterprises sign for themselves (leave ``party_id`` out); a registry admin
    records the signature of an association, agency or institute party by naming it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, {"party_id": "gov-2a3b4c5d6e7f"}]})

    party_id: Id | None = None


# --- response models ---------------------------------------------------------------------


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
    def of(cls, loaded: Loaded[Partner], *, with_contacts: bool) -> PartnerOut:
        return cls.model_validate(
            {
                **loaded.item.public_view(),
                "version": loaded.version,
                "contacts": [c.model_dump() for c in loaded.item.contacts] if with_contacts else None,
            }
        )


class PartnerPage(BaseModel):
    items: list[PartnerOut]
    next_cursor: str | None


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

    @classmethod
    def of(cls, loaded: Loaded[Agreement]) -> AgreementOut:
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
        )


class AgreementPage(BaseModel):
    items: list[AgreementOut]
    next_cursor: str | None


class AgreementVersionsOut(BaseModel):
    agreement_id: str
    revisions: list[AgreementRevision] = Field(description="every version of the terms, oldest first")


class MembershipPage(BaseModel):
    items: list[Membership]
    next_cursor: str | None


class CertificationPage(BaseModel):
    items: list[Certification]
    next_cursor: str | None


class ProfileOut(BaseModel):
    partner: PartnerOut
    membership: Membership | None
    certifications: list[Certification]
    certified_now: bool
    agreements: list[AgreementOut]


class MatchOut(BaseModel):
    college_id: str
    majors: list[str] = Field(description="the majors asked for; empty means all the college's majors")
    suggestions: list[Suggestion]


# --- helpers -----------------------------------------------------------------------------


def optional_version(request: Request) -> int | None:
    """If-Match when given (412 if stale), else None: act on the current version."""
    return None if request.headers.get("if-match") is None else expected_version(request)


def sees_contacts(principal: Principal, partner_id: str) -> bool:
    return principal.has_any(ADMIN, AUDITOR) or principal.is_partner(partner_id)


def partner_bound(principal: Principal) -> bool:
    return principal.partner_id is not None and principal.has_any(COLLEGE, ENTERPRISE)


def build_router(repos: Repositories) -> APIRouter:
    router = APIRouter()

    # --- partners --------------------------------------------------------------------------

    @router.post(
        "/partners",
        status_code=201,
        tags=["partners"],
        summary="Register a partner organisation",
        responses={409: {"description": "credit code already registered (partner.credit_code_taken)"}},
    )
    async def register_partner(body: PartnerIn, response: Response, principal: Admin) -> PartnerOut:
        loaded = await partner_cases.register(repos, body.details(), body.contacts, principal.subject)
        set_etag(response, loaded.version)
        return PartnerOut.of(loaded, with_contacts=True)

    @router.get("/partners", tags=["partners"], summary="List partners (filters combine; cursor pagination)")
    async def list_partners(
        _: Reader,
        kind: PartnerKind | None = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$", description="region prefix")] = None,
        sector: Annotated[str | None, Query(pattern=r"^[A-T]([0-9]{1,4})?$", description="sector prefix")] = None,
        certified: Annotated[bool | None, Query(description="holds a valid certificate now")] = None,
        membership: Annotated[MembershipStatus | None, Query(description="alliance membership status")] = None,
        status: PartnerStatus | None = None,
        q: Annotated[str | None, Query(min_length=1, max_length=100, description="text in the name")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PartnerPage:
        f = queries.PartnerFilter(
            kind=kind,
            region_prefix=region,
            sector=sector,
            certified=certified,
            membership_status=membership,
            status=status,
            text=q,
        )
        page = await queries.list_partners(repos, f, limit=limit, cursor=cursor)
        return PartnerPage(
            items=[PartnerOut.of(p, with_contacts=False) for p in page.items], next_cursor=page.next_cursor
        )

    @router.get(
        "/partners/{partner_id}",
        tags=["partners"],
        summary="One partner (contacts only for admins, auditors and the partner itself)",
        responses=NOT_FOUND,
    )
    async def get_partner(partner_id: PathId, response: Response, principal: Reader) -> PartnerOut:
        loaded = await repos.partners.read(partner_id, *partner_cases.NOT_FOUND)
        set_etag(response, loaded.version)
        return PartnerOut.of(loaded, with_contacts=sees_contacts(principal, partner_id))

    @router.put("/partners/{partner_id}", tags=["partners"], summary="Replace a partner's profile", responses=UPDATE)
    async def update_partner(
        partner_id: PathId, body: PartnerDetailsIn, request: Request, response: Response, principal: Admin
    ) -> PartnerOut:
        loaded = await partner_cases.update(
            repos, partner_id, body.details(), expected_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return PartnerOut.of(loaded, with_contacts=True)

    @router.put(
        "/partners/{partner_id}/contacts",
        tags=["partners"],
        summary="Replace a partner's contacts (admins, or the partner itself)",
        responses=UPDATE,
    )
    async def update_contacts(
        partner_id: PathId, body: ContactsIn, request: Request, response: Response, principal: AdminOrPartner
    ) -> PartnerOut:
        forbid_unless(
            principal.has_any(ADMIN) or principal.is_partner(partner_id), "you may change only your own contacts"
        )
        loaded = await partner_cases.update_contacts(
            repos, partner_id, body.contacts, expected_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return PartnerOut.of(loaded, with_contacts=True)

    @router.post(
        "/partners/{partner_id}/deactivate", tags=["partners"], summary="Deactivate a partner", responses=TRANSITION
    )
    async def deactivate_partner(
        partner_id: PathId, body: ReasonIn, request: Request, response: Response, principal: Admin
    ) -> PartnerOut:
        loaded = await partner_cases.deactivate(
            repos, partner_id, body.reason, optional_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return PartnerOut.of(loaded, with_contacts=True)

    @router.get(
        "/partners/{partner_id}/profile",
        tags=["partners"],
        summary="A partner with its membership, certifications and agreements",
        responses=NOT_FOUND,
    )
    async def partner_profile(partner_id: PathId, principal: Reader) -> ProfileOut:
        found = await queries.profile(repos, partner_id)
        now = utcnow()
        return ProfileOut(
            partner=PartnerOut.of(found.partner, with_contacts=sees_contacts(principal, partner_id)),
            membership=found.membership,
            certifications=found.certifications,
            certified_now=any(c.is_certified_at(now) for c in found.certifications),
            agreements=[AgreementOut.of(Loaded(a, a.version)) for a in found.agreements],
        )

    # --- membership ------------------------------------------------------------------------

    @router.post(
        "/memberships",
        status_code=201,
        tags=["membership"],
        summary="Record a partner's application to join the alliance",
        responses={404: {"description": "no such partner"}, 409: {"description": "the partner has a membership"}},
    )
    async def apply_membership(body: MembershipApplyIn, response: Response, principal: Admin) -> Membership:
        loaded = await membership_cases.apply(repos, body.partner_id, body.reason, principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/memberships", tags=["membership"], summary="List memberships (cursor pagination)")
    async def list_memberships(
        _: Reader, status: MembershipStatus | None = None, limit: Limit = 50, cursor: Cursor = None
    ) -> MembershipPage:
        query = {} if status is None else {"status": status.value}
        page = await paginate(repos.memberships.store, query, limit=limit, cursor=cursor)
        return MembershipPage(
            items=[repos.memberships.from_snapshot(s).item for s in page.items], next_cursor=page.next_cursor
        )

    @router.get(
        "/memberships/{partner_id}",
        tags=["membership"],
        summary="A partner's membership with its history",
        responses=NOT_FOUND,
    )
    async def get_membership(partner_id: PathId, response: Response, _: Reader) -> Membership:
        loaded = await repos.memberships.read(partner_id, *membership_cases.NOT_FOUND)
        set_etag(response, loaded.version)
        return loaded.item

    def membership_route(action: membership_cases.MembershipAction, summary: str) -> None:
        @router.post(
            f"/memberships/{{partner_id}}/{action}",
            tags=["membership"],
            summary=summary,
            responses=TRANSITION,
            name=f"membership_{action}",
        )
        async def move(
            partner_id: PathId, body: ReasonIn, request: Request, response: Response, principal: Admin
        ) -> Membership:
            loaded = await membership_cases.move(
                repos, partner_id, action, body.reason, optional_version(request), principal.subject
            )
            set_etag(response, loaded.version)
            return loaded.item

    membership_route("admit", "Admit an applicant (applied → admitted)")
    membership_route("suspend", "Suspend a member (admitted → suspended)")
    membership_route("reinstate", "Reinstate a suspended member (suspended → admitted)")
    membership_route("withdraw", "Record a withdrawal (applied, admitted or suspended → withdrawn; final)")
    membership_route("expel", "Expel a member (admitted or suspended → expelled; final)")

    # --- council ---------------------------------------------------------------------------

    @router.get("/council", tags=["council"], summary="The council and its seats", responses=NOT_FOUND)
    async def get_council(response: Response, _: Reader) -> Council:
        loaded = await repos.council.read(COUNCIL_ID, *membership_cases.COUNCIL_NOT_FOUND)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/council",
        status_code=201,
        tags=["council"],
        summary="Constitute the council (at least one college, enterprise and agency/association seat)",
        responses={409: {"description": "already constituted"}, 422: {"description": "composition or membership"}},
    )
    async def constitute(body: ConstituteIn, response: Response, principal: Admin) -> Council:
        loaded = await membership_cases.constitute(repos, body.seats, body.reason, principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.put(
        "/council/seats/{partner_id}",
        tags=["council"],
        summary="Give a member a seat, or change its position, representative or term",
        responses=TRANSITION,
    )
    async def assign_seat(
        partner_id: PathId, body: SeatIn, request: Request, response: Response, principal: Admin
    ) -> Council:
        assignment = SeatAssignment(
            position=body.position,
            partner_id=partner_id,
            representative=body.representative,
            term_start=body.term_start,
            term_end=body.term_end,
        )
        loaded = await membership_cases.assign_seat(
            repos, assignment, body.reason, optional_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/council/seats/{partner_id}/vacate",
        tags=["council"],
        summary="Vacate a member's seat (refused if the composition rule would break)",
        responses=TRANSITION,
    )
    async def vacate_seat(
        partner_id: PathId, body: ReasonIn, request: Request, response: Response, principal: Admin
    ) -> Council:
        loaded = await membership_cases.vacate_seat(
            repos, partner_id, body.reason, optional_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    # --- certification ---------------------------------------------------------------------

    @router.post(
        "/certifications",
        status_code=201,
        tags=["certification"],
        summary="Record an enterprise's application for certification",
        responses={409: {"description": "an open application or certificate exists"}, 422: {"description": "rule"}},
    )
    async def apply_certification(body: CertificationApplyIn, response: Response, principal: Admin) -> Certification:
        loaded = await certification_cases.apply(repos, body.partner_id, principal.subject)
        set_etag(response, loaded.version)
        return loaded.item

    @router.get("/certifications", tags=["certification"], summary="The catalogue (cursor pagination)")
    async def list_certifications(
        _: Reader,
        status: CertificationStatus | None = None,
        partner_id: Annotated[str | None, Query(max_length=100)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> CertificationPage:
        query: dict[str, Any] = {}
        if status is not None:
            query["status"] = status.value
        if partner_id is not None:
            query["partner_id"] = partner_id
        page = await paginate(repos.certifications.store, query, limit=limit, cursor=cursor)
        return CertificationPage(
            items=[repos.certifications.from_snapshot(s).item for s in page.items], next_cursor=page.next_cursor
        )

    @router.get(
        "/certifications/{certification_id}", tags=["certification"], summary="One certification", responses=NOT_FOUND
    )
    async def get_certification(certification_id: PathId, response: Response, _: Reader) -> Certification:
        loaded = await repos.certifications.read(certification_id, *certification_cases.NOT_FOUND)
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/certifications/{certification_id}/grant",
        tags=["certification"],
        summary="Certify: certificate number and validity (expires by itself at valid_to)",
        responses=TRANSITION,
    )
    async def grant(
        certification_id: PathId, body: GrantIn, request: Request, response: Response, principal: Admin
    ) -> Certification:
        loaded = await certification_cases.grant(
            repos,
            certification_id,
            certificate_number=body.certificate_number,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
            expected=optional_version(request),
            actor_id=principal.subject,
        )
        set_etag(response, loaded.version)
        return loaded.item

    @router.post(
        "/certifications/{certification_id}/revoke",
        tags=["certification"],
        summary="Revoke a certificate",
        responses=TRANSITION,
    )
    async def revoke(
        certification_id: PathId, body: ReasonIn, request: Request, response: Response, principal: Admin
    ) -> Certification:
        loaded = await certification_cases.revoke(
            repos, certification_id, body.reason, optional_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return loaded.item

    # --- agreements ------------------------------------------------------------------------

    @router.post(
        "/agreements",
        status_code=201,
        tags=["agreements"],
        summary="Draft a cooperation agreement (at least one college and one enterprise)",
        responses={422: {"description": "unknown or deactivated party, no college, no enterprise, dates…"}},
    )
    async def draft_agreement(body: AgreementIn, response: Response, principal: Admin) -> AgreementOut:
        loaded = await agreement_cases.draft(repos, body.draft(), principal.subject)
        set_etag(response, loaded.version)
        return AgreementOut.of(loaded)

    @router.get("/agreements", tags=["agreements"], summary="List agreements (filters combine; cursor pagination)")
    async def list_agreements(
        _: Reader,
        party: Annotated[str | None, Query(max_length=100, description="a party's partner id")] = None,
        mode: CooperationMode | None = None,
        status: AgreementStatus | None = None,
        region: Annotated[
            str | None, Query(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$", description="region prefix of any party")
        ] = None,
        major: Annotated[str | None, Query(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$")] = None,
        active_from: Annotated[date | None, Query(description="term overlaps the range from this date")] = None,
        active_to: Annotated[date | None, Query(description="term overlaps the range up to this date")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AgreementPage:
        f = queries.AgreementFilter(
            party_id=party,
            mode=mode,
            status=status,
            region_prefix=region,
            major=major,
            active_from=active_from,
            active_to=active_to,
        )
        page = await queries.list_agreements(repos, f, limit=limit, cursor=cursor)
        return AgreementPage(items=[AgreementOut.of(a) for a in page.items], next_cursor=page.next_cursor)

    @router.get("/agreements/{agreement_id}", tags=["agreements"], summary="One agreement", responses=NOT_FOUND)
    async def get_agreement(agreement_id: PathId, response: Response, _: Reader) -> AgreementOut:
        loaded = await repos.agreements.read(agreement_id, *agreement_cases.NOT_FOUND)
        set_etag(response, loaded.version)
        return AgreementOut.of(loaded)

    @router.get(
        "/agreements/{agreement_id}/versions",
        tags=["agreements"],
        summary="Every version of the terms (amendment history)",
        responses=NOT_FOUND,
    )
    async def agreement_versions(agreement_id: PathId, _: Reader) -> AgreementVersionsOut:
        loaded = await repos.agreements.read(agreement_id, *agreement_cases.NOT_FOUND)
        return AgreementVersionsOut(agreement_id=agreement_id, revisions=list(loaded.item.revisions))

    @router.post(
        "/agreements/{agreement_id}/sign",
        tags=["agreements"],
        summary="Sign for your own organisation (colleges, enterprises); admins record other parties' signatures",
        responses={**TRANSITION, 403: {"description": "not your signature to give"}},
    )
    async def sign(
        agreement_id: PathId, body: SignIn, request: Request, response: Response, principal: AdminOrPartner
    ) -> AgreementOut:
        current = await agreement_cases.get(repos, agreement_id)
        parties = {p.partner_id: p.kind for p in current.item.terms.parties}
        if partner_bound(principal):
            own = principal.partner_id
            assert own is not None
            forbid_unless(body.party_id in (None, own), "each party signs for itself")
            forbid_unless(own in parties, f"you are not a party of agreement {agreement_id}")
            party_id = own
        else:
            if body.party_id is None:
                raise ProblemError(422, "agreement.party_required", "name the party whose signature you record")
            party_id = body.party_id
            if parties.get(party_id) in (PartnerKind.COLLEGE, PartnerKind.ENTERPRISE):
                raise ProblemError(
                    403,
                    "agreement.party_signs_itself",
                    f"{party_id} is a college or enterprise: it signs with its own token",
                )
        loaded = await agreement_cases.sign(repos, agreement_id, party_id, optional_version(request), principal.subject)
        set_etag(response, loaded.version)
        return AgreementOut.of(loaded)

    @router.post(
        "/agreements/{agreement_id}/activate",
        tags=["agreements"],
        summary="Bring a signed agreement into force now (normally automatic at its start date)",
        responses=TRANSITION,
    )
    async def activate(agreement_id: PathId, request: Request, response: Response, principal: Admin) -> AgreementOut:
        loaded = await agreement_cases.activate(repos, agreement_id, optional_version(request), principal.subject)
        set_etag(response, loaded.version)
        return AgreementOut.of(loaded)

    @router.post(
        "/agreements/{agreement_id}/amendments",
        tags=["agreements"],
        summary="Amend the terms: a new version (If-Match required); earlier versions stay readable",
        responses={**UPDATE, 409: {"description": "not amendable now"}, 422: {"description": "rule"}},
    )
    async def amend(
        agreement_id: PathId, body: AmendmentIn, request: Request, response: Response, principal: Admin
    ) -> AgreementOut:
        loaded = await agreement_cases.amend(
            repos, agreement_id, body.draft(), body.summary, expected_version(request), principal.subject
        )
        set_etag(response, loaded.version)
        return AgreementOut.of(loaded)

    def agreement_route(action: agreement_cases.AgreementAction, summary: str) -> None:
        @router.post(
            f"/agreements/{{agreement_id}}/{action}",
            tags=["agreements"],
            summary=summary,
            responses=TRANSITION,
            name=f"agreement_{action}",
        )
        async def act(
            agreement_id: PathId, body: ReasonIn, request: Request, response: Response, principal: Admin
        ) -> AgreementOut:
            loaded = await agreement_cases.act(
                repos, agreement_id, action, body.reason, optional_version(request), principal.subject
            )
            set_etag(response, loaded.version)
            return AgreementOut.of(loaded)

    agreement_route("suspend", "Suspend an active agreement")
    agreement_route("resume", "Resume a suspended agreement")
    agreement_route("terminate", "Terminate an agreement early (final)")

    # --- matching --------------------------------------------------------------------------

    @router.get(
        "/matching/{college_id}",
        tags=["matching"],
        summary="Enterprises a college could approach, ranked, each with the reasons for its score",
        responses={**NOT_FOUND, 422: {"description": "not a college"}},
    )
    async def matching(
        college_id: PathId,
        _: Reader,
        majors: Annotated[list[MajorCode] | None, Query(max_length=50, description="default: all its majors")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> MatchOut:
        suggestions = await queries.match(repos, college_id, majors or [], limit)
        return MatchOut(college_id=college_id, majors=sorted(set(majors or [])), suggestions=suggestions)

    return router
