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
from alliance_shared.errors import DomainError

REGISTERED = "org.coopalliance.registry.partner.registered.v1"
UPDATED = "org.coopalliance.registry.partner.updated.v1"
DEACTIVATED = "org.coopalliance.registry.partner.deactivated.v1"


def test_partner_events_build_the_contact_with_defaults() -> None:
    built = RecipientDirectory()

    applied = built.apply_registry_event(
        REGISTERED, {"partner_id": "col-001", "name": "深圳职业技术大学", "contact": {"email": "office@szpu.edu.cn"}}
    )

    assert applied
    contact = built.contacts["col-001"]
    assert (contact.contact_name, contact.email, contact.locale, contact.time_zone) == (
        "深圳职业技术大学",
        "office@szpu.edu.cn",
        Locale.ZH_CN,
        "Asia/Shanghai",
    )


def test_updates_keep_what_they_do_not_mention_and_deactivation_keeps_the_contact() -> None:
    built = RecipientDirectory()
    built.apply_registry_event(
        REGISTERED,
        {"partner_id": "ent-042", "name": "Siemens", "contact": {"name": "Anna Schmidt", "email": "a@example.de"}},
    )

    built.apply_registry_event(
        UPDATED, {"partner_id": "ent-042", "contact": {"locale": "en", "time_zone": "Europe/Berlin"}}
    )
    built.apply_registry_event(DEACTIVATED, {"partner_id": "ent-042"})

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
    assert not built.apply_registry_event(REGISTERED, {"name": "no id"})
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
