from __future__ import annotations

import pytest
from pydantic import ValidationError

from alliance_notifications.domain.recipients import (
    GroupMember,
    Locale,
    PartnerContact,
    RecipientDirectory,
    RoleGroup,
    zone,
)
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.errors import DomainError
from tests.unit.notifications.notifications_support import partner_registered_example

REGISTERED = "org.coopalliance.registry.partner.registered.v1"
UPDATED = "org.coopalliance.registry.partner.updated.v1"
DEACTIVATED = "org.coopalliance.registry.partner.deactivated.v1"


def _on_the_wire(event_type: str, payload: dict[str, object]) -> dict[str, object]:
    """The payload as the registry publishes it (validated and dumped by the real model)."""
    return PLATFORM_CATALOG.parse(event_type, payload).model_dump(mode="json")


def test_partner_registered_makes_the_first_contact_the_recipient() -> None:
    built = RecipientDirectory()

    applied = built.apply_registry_event(REGISTERED, _on_the_wire(REGISTERED, partner_registered_example()))

    assert applied
    contact = built.contacts["ent-042"]
    assert (contact.contact_name, contact.email, contact.phone, contact.locale, contact.time_zone) == (
        "王芳",
        "wang.fang@pengcheng-precision.example.cn",
        "+86 755 2601 8899",
        Locale.ZH_CN,
        "Asia/Shanghai",
    )
    assert contact.active


def test_a_partner_without_contacts_is_named_by_its_chinese_name_and_has_no_email() -> None:
    built = RecipientDirectory()
    payload = {**partner_registered_example(), "contacts": []}

    built.apply_registry_event(REGISTERED, _on_the_wire(REGISTERED, payload))

    contact = built.contacts["ent-042"]
    assert (contact.contact_name, contact.email) == ("深圳市鹏城精密制造有限公司", None)


def test_updates_replace_the_contacts_keep_the_time_zone_and_deactivation_keeps_the_contact() -> None:
    built = RecipientDirectory()
    built.apply_registry_event(REGISTERED, _on_the_wire(REGISTERED, partner_registered_example()))
    built.upsert_contact(built.contacts["ent-042"].model_copy(update={"time_zone": "Europe/Berlin"}))
    updated = {
        **partner_registered_example(),
        "contacts": [
            {
                "name": "Anna Schmidt",
                "email": "a@example.de",
                "phone": "+49 30 1234567",
                "position": "Head of training",
                "locale": "en",
            }
        ],
        "changed_fields": ["contacts"],
    }

    built.apply_registry_event(UPDATED, _on_the_wire(UPDATED, updated))
    deactivated = {**partner_registered_example(), "status": "deactivated", "reason": "dissolved"}
    del deactivated["contacts"]
    built.apply_registry_event(DEACTIVATED, _on_the_wire(DEACTIVATED, deactivated))

    contact = built.contacts["ent-042"]
    assert (contact.contact_name, contact.email, contact.locale, contact.time_zone) == (
        "Anna Schmidt",
        "a@example.de",
        Locale.EN,
        "Europe/Berlin",
    )
    assert not contact.active
    assert built.active_partner_ids() == []
    audience = built.partner_audience("ent-042")
    assert audience is not None
    assert audience.recipient_id == "partner:ent-042"


def test_other_events_are_ignored() -> None:
    built = RecipientDirectory()

    assert not built.apply_registry_event("org.coopalliance.registry.agreement.signed.v1", {"partner_id": "x"})
    assert not built.apply_registry_event(REGISTERED, {"name_zh": "no id"})
    assert built.contacts == {}


def test_group_members_are_unique_and_become_audiences() -> None:
    built = RecipientDirectory()
    member = GroupMember(member_id="officer-zhang", name="张科长", email="zhang@gov.cn")

    built.set_group_members(RoleGroup.FUNDING_OFFICERS, [member, member])

    [audience] = built.group_audiences(RoleGroup.FUNDING_OFFICERS)
    assert (audience.recipient_id, audience.partner_id, audience.email) == (
        "member:officer-zhang",
        None,
        "zhang@gov.cn",
    )
    assert built.group_audiences(RoleGroup.SUPERVISORS) == []


@pytest.mark.parametrize(
    "fields",
    [{"time_zone": "Mars/Olympus"}, {"email": "not-an-address"}, {"locale": "fr"}],
)
def test_invalid_contacts_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        PartnerContact.model_validate({"partner_id": "p", "contact_name": "n", **fields})


def test_unknown_zones_are_a_domain_error() -> None:
    with pytest.raises(DomainError) as refused:
        zone("Mars/Olympus")
    assert refused.value.code == "recipient.unknown_time_zone"
