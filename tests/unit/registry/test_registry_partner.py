"""Partners: registration, updates with version checks, contacts, deactivation, public view."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alliance_registry.domain.credit_code import with_check_character
from alliance_registry.domain.partner import Partner
from alliance_shared.contract.registry import (
    CollegeLevel,
    CollegeProfileView,
    ContactView,
    EnterpriseProfileView,
    EnterpriseSize,
    PartnerDeactivated,
    PartnerRegistered,
    PartnerStatus,
    PartnerUpdated,
)
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError, InvalidTransition, PreconditionFailed
from tests.unit.registry.registry_support import (
    ADMIN,
    CONTACT,
    CREDIT_CODE,
    NOW,
    college_details,
    enterprise_details,
    only_event,
)

LATER = NOW + timedelta(days=3)


def registered(**changes: object) -> Partner:
    partner = Partner.register(
        partner_id="ent-042", details=enterprise_details(**changes), contacts=[CONTACT], now=NOW, actor_id=ADMIN
    )
    partner.events.clear()
    return partner


def test_register_emits_the_profile_with_contacts() -> None:
    partner = Partner.register(
        partner_id="ent-042", details=enterprise_details(), contacts=[CONTACT], now=NOW, actor_id=ADMIN
    )
    assert partner.status is PartnerStatus.ACTIVE
    event = only_event(partner.events)
    assert isinstance(event, PartnerRegistered)
    assert event.partner_id == "ent-042"
    assert event.kind is PartnerKind.ENTERPRISE
    assert event.credit_code == CREDIT_CODE
    assert event.region_code == "440305"
    assert event.sector_code == "C39"
    assert event.enterprise == EnterpriseProfileView(size=EnterpriseSize.MEDIUM, headcount=860)
    assert event.college is None
    assert event.contacts == (CONTACT,)
    assert event.contacts[0].locale == "zh-CN"
    assert event.status is PartnerStatus.ACTIVE
    assert (event.occurred_at, event.actor_id) == (NOW, ADMIN)


def test_a_college_carries_level_and_sorted_majors() -> None:
    details = college_details(
        college=CollegeProfileView(level=CollegeLevel.HIGHER_VOCATIONAL, majors=("510201", "460103", "510201"))
    )
    partner = Partner.register(partner_id="col-001", details=details, contacts=[], now=NOW, actor_id=ADMIN)
    assert partner.college is not None
    assert partner.college.majors == ("460103", "510201")
    event = only_event(partner.events)
    assert isinstance(event, PartnerRegistered)
    assert event.college == partner.college
    assert event.enterprise is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"credit_code": CREDIT_CODE[:-1] + ("0" if CREDIT_CODE[-1] != "0" else "1")}, "partner.credit_code_invalid"),
        ({"credit_code": "91440300MA5G4WNN"}, "partner.credit_code_invalid"),
        ({"region_code": "990305"}, "partner.region_code_invalid"),
        ({"sector_code": "c39"}, "partner.sector_code_invalid"),
        ({"enterprise": None}, "partner.profile_mismatch"),
        (
            {"college": CollegeProfileView(level=CollegeLevel.SECONDARY_VOCATIONAL)},
            "partner.profile_mismatch",
        ),
    ],
)
def test_register_refuses_invalid_details(changes: dict[str, object], code: str) -> None:
    with pytest.raises(DomainError) as raised:
        Partner.register(
            partner_id="ent-042", details=enterprise_details(**changes), contacts=[], now=NOW, actor_id=ADMIN
        )
    assert raised.value.code == code


def test_an_association_has_no_kind_profile() -> None:
    details = enterprise_details(kind=PartnerKind.INDUSTRY_ASSOCIATION, enterprise=None, sector_code="S95")
    partner = Partner.register(partner_id="ia-003", details=details, contacts=[], now=NOW, actor_id=ADMIN)
    assert partner.college is None
    assert partner.enterprise is None


def test_update_emits_the_new_profile_and_the_changed_fields() -> None:
    partner = registered()
    partner.update(
        enterprise_details(address="深圳市宝安区", sector_code="C3911"), expected_version=0, now=LATER, actor_id=ADMIN
    )
    event = only_event(partner.events)
    assert isinstance(event, PartnerUpdated)
    assert event.changed_fields == ("sector_code", "address")
    assert event.address == "深圳市宝安区"
    assert event.sector_code == "C3911"
    assert event.contacts == (CONTACT,)
    assert partner.updated_at == LATER


def test_update_without_change_emits_nothing() -> None:
    partner = registered()
    partner.update(enterprise_details(), expected_version=0, now=LATER, actor_id=ADMIN)
    assert partner.events == []


def test_update_with_a_stale_version_is_refused() -> None:
    partner = registered()
    partner.version = 3
    with pytest.raises(PreconditionFailed) as raised:
        partner.update(enterprise_details(address="x"), expected_version=2, now=LATER, actor_id=ADMIN)
    assert raised.value.code == "partner.version_mismatch"
    assert partner.address != "x"


def test_the_kind_cannot_change() -> None:
    partner = registered()
    with pytest.raises(DomainError) as raised:
        partner.update(college_details(credit_code=CREDIT_CODE), expected_version=0, now=LATER, actor_id=ADMIN)
    assert raised.value.code == "partner.kind_fixed"


def test_update_contacts_announces_the_whole_list() -> None:
    partner = registered()
    second = ContactView(
        name="Li Lei", email="li.lei@example.cn", phone="13800138000", position="engineer", locale="en"
    )
    partner.update_contacts([CONTACT, second], expected_version=0, now=LATER, actor_id=ADMIN)
    event = only_event(partner.events)
    assert isinstance(event, PartnerUpdated)
    assert event.changed_fields == ("contacts",)
    assert event.contacts == (CONTACT, second)


def test_public_view_has_no_personal_data() -> None:
    partner = registered()
    view = partner.public_view()
    assert "contacts" not in view
    assert view["credit_code"] == CREDIT_CODE
    assert view["enterprise"] == {"size": "medium", "headcount": 860}
    assert CONTACT.email not in str(view)


def test_deactivate_then_nothing_changes() -> None:
    partner = registered()
    partner.deactivate("merged into another company", now=LATER, actor_id=ADMIN)
    event = only_event(partner.events)
    assert isinstance(event, PartnerDeactivated)
    assert event.status is PartnerStatus.DEACTIVATED
    assert event.reason == "merged into another company"
    assert not hasattr(event, "contacts")
    assert not partner.summary().active
    with pytest.raises(InvalidTransition):
        partner.deactivate("again", now=LATER, actor_id=ADMIN)
    with pytest.raises(InvalidTransition):
        partner.update(enterprise_details(address="y"), expected_version=0, now=LATER, actor_id=ADMIN)
    with pytest.raises(InvalidTransition):
        partner.update_contacts([], expected_version=0, now=LATER, actor_id=ADMIN)


def test_deactivation_needs_a_reason() -> None:
    partner = registered()
    with pytest.raises(DomainError) as raised:
        partner.deactivate("  ", now=LATER, actor_id=ADMIN)
    assert raised.value.code == "reason_required"
    assert partner.status is PartnerStatus.ACTIVE


def test_document_round_trip() -> None:
    partner = registered()
    document = partner.to_document()
    assert "events" not in document
    assert Partner.from_document({"_id": "ent-042", **document}) == partner


def test_summary_names_the_partner_in_chinese() -> None:
    summary = registered(credit_code=with_check_character("91440300MA5G4WNN5")).summary()
    assert (summary.partner_id, summary.kind, summary.region_code, summary.active) == (
        "ent-042",
        PartnerKind.ENTERPRISE,
        "440305",
        True,
    )
    assert summary.name == "深圳市鹏城精密制造有限公司"
