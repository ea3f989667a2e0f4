"""Builders shared by the registry unit tests (not a test module)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from alliance_registry.domain.agreement import Agreement, AgreementDraft, PartyInput
from alliance_registry.domain.credit_code import with_check_character
from alliance_registry.domain.partner import PartnerDetails, PartnerSummary
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.registry import (
    CollegeLevel,
    CollegeProfileView,
    ContactView,
    EnterpriseProfileView,
    EnterpriseSize,
    ObligationView,
    PartyRole,
)
from alliance_shared.contract.vocabulary import (
    CooperationMode,
    Depth,
    ObligationMetric,
    ObligationPeriod,
    PartnerKind,
)

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ADMIN = "admin-chen"
COLLEGE_ID = "col-001"
ENTERPRISE_ID = "ent-042"
AGENCY_ID = "gov-007"
ASSOCIATION_ID = "ia-003"
INSTITUTE_ID = "ri-009"

CREDIT_CODE = with_check_character("91440300MA5G4WNN4")

PARTNERS: dict[str, PartnerSummary] = {
    COLLEGE_ID: PartnerSummary(
        partner_id=COLLEGE_ID, kind=PartnerKind.COLLEGE, region_code="440305", name="深圳职业技术大学", active=True
    ),
    ENTERPRISE_ID: PartnerSummary(
        partner_id=ENTERPRISE_ID, kind=PartnerKind.ENTERPRISE, region_code="440305", name="鹏城精密", active=True
    ),
    AGENCY_ID: PartnerSummary(
        partner_id=AGENCY_ID,
        kind=PartnerKind.GOVERNMENT_AGENCY,
        region_code="440300",
        name="深圳市教育局",
        active=True,
    ),
    ASSOCIATION_ID: PartnerSummary(
        partner_id=ASSOCIATION_ID,
        kind=PartnerKind.INDUSTRY_ASSOCIATION,
        region_code="440300",
        name="深圳市机械行业协会",
        active=True,
    ),
    INSTITUTE_ID: PartnerSummary(
        partner_id=INSTITUTE_ID,
        kind=PartnerKind.RESEARCH_INSTITUTE,
        region_code="110108",
        name="先进制造研究院",
        active=True,
    ),
}

CONTACT = ContactView(name="王芳", email="wang.fang@example.cn", phone="+86 755 2601 8899", position="HR director")


def enterprise_details(**changes: Any) -> PartnerDetails:
    fields: dict[str, Any] = {
        "kind": PartnerKind.ENTERPRISE,
        "name_zh": "深圳市鹏城精密制造有限公司",
        "name_en": "Pengcheng Precision",
        "credit_code": CREDIT_CODE,
        "region_code": "440305",
        "sector_code": "C39",
        "address": "深圳市南山区高新南七道 18 号",
        "website": "https://pengcheng.example.cn",
        "enterprise": EnterpriseProfileView(size=EnterpriseSize.MEDIUM, headcount=860),
    }
    fields.update(changes)
    return PartnerDetails(**fields)


def college_details(**changes: Any) -> PartnerDetails:
    fields: dict[str, Any] = {
        "kind": PartnerKind.COLLEGE,
        "name_zh": "深圳职业技术大学",
        "credit_code": with_check_character("12440300455755890"),
        "region_code": "440305",
        "sector_code": "P83",
        "address": "深圳市南山区西丽湖",
        "college": CollegeProfileView(level=CollegeLevel.HIGHER_VOCATIONAL, majors=("510201", "460103")),
    }
    fields.update(changes)
    return PartnerDetails(**fields)


def agreement_draft(**changes: Any) -> AgreementDraft:
    fields: dict[str, Any] = {
        "title": "数控技术订单班协议",
        "parties": (
            PartyInput(partner_id=COLLEGE_ID, role=PartyRole.LEAD),
            PartyInput(partner_id=ENTERPRISE_ID, role=PartyRole.PARTICIPANT),
            PartyInput(partner_id=AGENCY_ID, role=PartyRole.SPONSOR),
        ),
        "modes": frozenset({CooperationMode.ORDER_CLASS, CooperationMode.INTERNSHIP_BASE}),
        "majors": ("460104", "460103"),
        "start_date": date(2026, 9, 1),
        "end_date": date(2029, 8, 31),
        "declared_depth": Depth.DEEP,
        "obligations": (
            ObligationView(
                party_id=ENTERPRISE_ID,
                metric=ObligationMetric.INTERNSHIP_POSTS,
                quantity=40,
                period=ObligationPeriod.PER_YEAR,
                description="CNC internship posts",
            ),
        ),
    }
    fields.update(changes)
    return AgreementDraft(**fields)


def drafted_agreement(**changes: Any) -> Agreement:
    agreement = Agreement.draft(
        agreement_id="agr-1", draft=agreement_draft(**changes), partners=PARTNERS, now=NOW, actor_id=ADMIN
    )
    agreement.events.clear()
    return agreement


def signed_agreement() -> Agreement:
    agreement = drafted_agreement()
    for party_id in (COLLEGE_ID, ENTERPRISE_ID, AGENCY_ID):
        agreement.sign(party_id, now=NOW, actor_id=f"signer-{party_id}")
    agreement.events.clear()
    return agreement


def active_agreement() -> Agreement:
    agreement = signed_agreement()
    agreement.activate(now=datetime(2026, 9, 1, 1, 0, tzinfo=UTC), actor_id=ADMIN)
    agreement.events.clear()
    return agreement


def only_event(events: list[EventPayload]) -> EventPayload:
    assert len(events) == 1, events
    return events[0]
