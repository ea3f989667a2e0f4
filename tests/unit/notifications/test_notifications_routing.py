from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.egress import EgressPolicy
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.recipients import Locale, PartnerContact, RecipientDirectory
from alliance_notifications.domain.routing import Disposition, PlannedDelivery, RoutingRule, plan_deliveries
from alliance_shared.contract.notifications import Channel
from alliance_shared.contract.platform import PLATFORM_CATALOG
from tests.unit.notifications.notifications_support import (
    COLLEGE,
    ENTERPRISE,
    EXAMPLE_PAYLOADS,
    NOW,
    directory,
    example,
)

EVENT_ID = "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10"


def plan(short_name: str, *, prefs: dict[str, Preferences] | None = None, now: datetime = NOW) -> list[PlannedDelivery]:
    event_type, payload = example(short_name)
    return plan_deliveries(event_type, EVENT_ID, payload, directory(), DEFAULT_RULES, prefs or {}, now)


def by_recipient_channel(plans: list[PlannedDelivery]) -> dict[tuple[str, Channel], PlannedDelivery]:
    return {(p.recipient_id, p.channel): p for p in plans}


def test_rectification_order_reaches_the_responsible_party_as_regulatory_and_the_others_as_operational() -> None:
    plans = by_recipient_channel(plan("evaluation.rectification.ordered"))

    assert set(plans) == {
        ("partner:ent-042", Channel.EMAIL),
        ("partner:ent-042", Channel.INBOX),
        ("partner:col-001", Channel.EMAIL),
        ("partner:col-001", Channel.INBOX),
        ("webhook:wh-col-001", Channel.WEBHOOK),
    }
    enterprise_mail = plans[("partner:ent-042", Channel.EMAIL)]
    assert enterprise_mail.category is Category.REGULATORY
    assert enterprise_mail.locale is Locale.EN
    assert enterprise_mail.address == "anna.schmidt@example.de"
    assert enterprise_mail.time_zone == "Europe/Berlin"
    college_mail = plans[("partner:col-001", Channel.EMAIL)]
    assert college_mail.category is Category.OPERATIONAL
    assert college_mail.locale is Locale.ZH_CN
    webhook = plans[("webhook:wh-col-001", Channel.WEBHOOK)]
    assert webhook.address == "https://hooks.example.cn/wh-col-001"
    assert webhook.partner_id == COLLEGE
    assert webhook.audience_id == "partner:col-001"
    assert all(p.disposition is Disposition.SEND and p.not_before == NOW for p in plans.values())
    assert all(p.template == "evaluation.rectification.ordered" for p in plans.values())


def test_role_groups_get_email_and_inbox_but_no_webhook() -> None:
    plans = plan("funding.tranche.requested")

    approver = [p for p in plans if p.recipient_id == "member:approver-li"]
    assert {p.channel for p in approver} == {Channel.EMAIL, Channel.INBOX}
    assert all(p.partner_id is None and p.address in (None, "approver-li@gov.cn") for p in approver)
    # The award recipient only hears of the request in the digest (and inbox, webhook at once).
    recipient = by_recipient_channel([p for p in plans if p.partner_id == COLLEGE])
    assert recipient[("partner:col-001", Channel.EMAIL)].disposition is Disposition.DIGEST
    assert recipient[("partner:col-001", Channel.INBOX)].disposition is Disposition.SEND
    assert recipient[("webhook:wh-col-001", Channel.WEBHOOK)].disposition is Disposition.SEND


def test_a_partner_selected_twice_is_notified_once_per_channel_with_the_first_rules_category() -> None:
    plans = plan("funding.application.approved")  # applicant col-001 is also an agreement party

    keys = [p.delivery_key for p in plans]
    assert len(keys) == len(set(keys))
    college = [p for p in plans if p.recipient_id == "partner:col-001"]
    assert sorted(p.channel for p in college) == [Channel.EMAIL, Channel.INBOX]
    assert all(p.category is Category.REGULATORY for p in plans)


def test_delivery_keys_and_ids_are_stable_across_runs() -> None:
    first = plan("evaluation.result.completed")
    second = plan("evaluation.result.completed")

    assert [p.delivery_key for p in first] == [p.delivery_key for p in second]
    assert [p.delivery_id for p in first] == [p.delivery_id for p in second]
    assert f"{EVENT_ID}|partner:col-001|email" in {p.delivery_key for p in first}


@given(st.sampled_from(sorted(EXAMPLE_PAYLOADS)))
def test_delivery_keys_and_ids_are_unique_within_an_event(short_name: str) -> None:
    plans = plan(short_name)

    assert len({p.delivery_key for p in plans}) == len(plans)
    assert len({p.delivery_id for p in plans}) == len(plans)
    assert all(p.delivery_key.startswith(EVENT_ID + "|") for p in plans)


def test_different_events_never_share_a_delivery_key() -> None:
    event_type, payload = example("evaluation.result.completed")
    one = plan_deliveries(event_type, "event-1", payload, directory(), DEFAULT_RULES, {}, NOW)
    two = plan_deliveries(event_type, "event-2", payload, directory(), DEFAULT_RULES, {}, NOW)

    assert not {p.delivery_key for p in one} & {p.delivery_key for p in two}


def test_muted_operational_email_is_skipped_but_inbox_still_goes() -> None:
    prefs = Preferences.defaults("partner:col-001")
    prefs.set_channel(Category.OPERATIONAL, Channel.EMAIL, False, NOW, "wang")

    plans = by_recipient_channel(plan("funding.tranche.approved", prefs={"partner:col-001": prefs}))

    mail = plans[("partner:col-001", Channel.EMAIL)]
    assert mail.disposition is Disposition.SKIP
    assert mail.reason_code == "preferences.muted"
    assert plans[("partner:col-001", Channel.INBOX)].disposition is Disposition.SEND


def test_muted_operational_webhooks_are_skipped_per_endpoint() -> None:
    prefs = Preferences.defaults("partner:col-001")
    prefs.set_channel(Category.OPERATIONAL, Channel.WEBHOOK, False, NOW, "wang")

    plans = by_recipient_channel(plan("funding.tranche.approved", prefs={"partner:col-001": prefs}))

    assert plans[("webhook:wh-col-001", Channel.WEBHOOK)].disposition is Disposition.SKIP


def test_email_inside_quiet_hours_is_delayed_to_their_end_while_inbox_and_webhook_go_now() -> None:
    late_evening_in_shanghai = datetime(2026, 5, 6, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, 17:30 in Berlin

    plans = by_recipient_channel(plan("evaluation.result.completed", now=late_evening_in_shanghai))

    college_mail = plans[("partner:col-001", Channel.EMAIL)]
    assert college_mail.disposition is Disposition.DELAY
    assert college_mail.not_before == datetime(2026, 5, 6, 23, 0, tzinfo=UTC)  # 07:00 next morning in Shanghai
    assert college_mail.category is Category.REGULATORY  # regulatory mail waits too, it is not dropped
    assert plans[("partner:col-001", Channel.INBOX)].disposition is Disposition.SEND
    assert plans[("webhook:wh-col-001", Channel.WEBHOOK)].not_before == late_evening_in_shanghai
    # The same instant is daytime in Berlin: the enterprise's e-mail goes now.
    assert plans[("partner:ent-042", Channel.EMAIL)].disposition is Disposition.SEND


def test_a_partner_without_contact_gets_an_inbox_entry_and_an_unroutable_email() -> None:
    event_type, payload = example("funding.recovery.ordered")
    payload["recipient_partner_id"] = "col-999"

    plans = by_recipient_channel(plan_deliveries(event_type, EVENT_ID, payload, directory(), DEFAULT_RULES, {}, NOW))

    assert plans[("partner:col-999", Channel.INBOX)].disposition is Disposition.SEND
    mail = plans[("partner:col-999", Channel.EMAIL)]
    assert mail.disposition is Disposition.UNROUTABLE
    assert mail.reason_code == "recipient.no_email"


def test_a_payload_missing_the_selected_field_is_recorded_as_unroutable() -> None:
    event_type, payload = example("evaluation.rectification.overdue")
    del payload["responsible_party_id"]

    plans = plan_deliveries(event_type, EVENT_ID, payload, directory(), DEFAULT_RULES, {}, NOW)

    unresolved = [p for p in plans if p.recipient_id == "unresolved:responsible_party"]
    assert {p.channel for p in unresolved} == {Channel.EMAIL, Channel.WEBHOOK, Channel.INBOX}
    assert all(p.reason_code == "routing.missing_field.responsible_party_id" for p in unresolved)
    # The supervisors' rule does not depend on the field and still routes.
    assert any(p.recipient_id == "member:supervisor-chen" for p in plans)


def test_broadcasts_go_to_active_partners_only() -> None:
    built = directory()
    built.apply_registry_event("org.coopalliance.registry.partner.deactivated.v1", {"partner_id": ENTERPRISE})
    event_type, payload = example("funding.programme.opened")

    plans = plan_deliveries(event_type, EVENT_ID, payload, built, DEFAULT_RULES, {}, NOW)

    assert {p.partner_id for p in plans if p.partner_id is not None} == {COLLEGE}
    # The rest are the funding officers' digest and inbox entries.
    assert {p.recipient_id for p in plans if p.partner_id is None} == {"member:officer-zhang"}
    assert {p.disposition for p in plans if p.channel is Channel.EMAIL} == {Disposition.DIGEST}


def test_unverified_webhooks_receive_nothing() -> None:
    built = RecipientDirectory()
    built.upsert_contact(PartnerContact(partner_id=COLLEGE, contact_name="王老师", email="wang@college.edu.cn"))
    built.add_endpoint(
        WebhookEndpoint.register(
            endpoint_id="wh-new", partner_id=COLLEGE, url="https://hooks.example.cn/new", secret="s" * 32,
            now=NOW, actor_id="it", policy=EgressPolicy(),
        )
    )  # fmt: skip
    event_type, payload = example("funding.tranche.paid")

    plans = plan_deliveries(event_type, EVENT_ID, payload, built, DEFAULT_RULES, {}, NOW)

    assert Channel.WEBHOOK not in {p.channel for p in plans}


def test_events_without_rules_plan_nothing() -> None:
    assert (
        plan_deliveries(
            "org.coopalliance.evaluation.cycle.closed.v1", EVENT_ID, {}, directory(), DEFAULT_RULES, {}, NOW
        )
        == []
    )


def test_rules_refuse_unknown_selectors() -> None:
    with pytest.raises(ValueError, match="unknown recipient selector"):
        RoutingRule(
            event_type="x", selectors=("role_group:janitors",), category=Category.OPERATIONAL,
            channels=(Channel.EMAIL,), template="x",
        )  # fmt: skip


def test_default_rules_cover_the_events_people_must_hear_about() -> None:
    routed = {rule.event_type for rule in DEFAULT_RULES}
    required = {
        f"org.coopalliance.{name}.v1"
        for name in (
            "registry.certification.granted", "registry.certification.revoked", "registry.certification.expired",
            "registry.agreement.activated", "registry.agreement.suspended", "registry.agreement.terminated",
            "registry.agreement.completed", "funding.application.submitted", "funding.application.approved",
            "funding.application.rejected", "funding.application.returned", "funding.award.granted",
            "funding.award.terminated", "funding.tranche.eligible", "funding.tranche.withheld",
            "funding.tranche.requested", "funding.tranche.approved", "funding.tranche.paid",
            "funding.recovery.ordered", "funding.recovery.settled", "evaluation.result.completed",
            "funding.recovery.overdue", "funding.recovery.escalated", "funding.recovery.written_off",
            "evaluation.rectification.ordered", "evaluation.rectification.returned",
            "evaluation.rectification.overdue", "evaluation.rectification.escalated", "evaluation.rectification.closed",
            "evaluation.formality_risk.flagged", "evaluation.appeal.decided", "evaluation.college_report.rejected",
            "funding.programme.opened", "funding.programme.closed",
        )
    }  # fmt: skip
    assert required <= routed


@pytest.mark.parametrize("short_name", sorted(n for n in EXAMPLE_PAYLOADS if not n.startswith("reminder.")))
def test_example_payloads_of_published_event_types_match_the_models(short_name: str) -> None:
    event_type, payload = example(short_name)
    if event_type not in PLATFORM_CATALOG:
        pytest.skip(f"{event_type} has no published model yet")
    PLATFORM_CATALOG.parse(event_type, payload)  # the routing fields are the models' fields


@pytest.mark.parametrize("rule", DEFAULT_RULES, ids=lambda r: f"{r.event_type}:{r.selectors[0]}")
def test_every_default_rule_routes_its_example_to_someone(rule: RoutingRule) -> None:
    short_name = rule.template
    event_type, payload = example(short_name)

    plans = plan_deliveries(event_type, EVENT_ID, payload, directory(), [rule], {}, NOW)

    assert plans
    assert all(p.disposition is not Disposition.UNROUTABLE for p in plans)
