"""Issue #14 item 17: every workflow step that asks someone to act reaches them — who is
selected for each step, people by id (evaluators, the order's issuer), a rule narrowed
to one action, and people left out (the panel, for an appeal)."""

from __future__ import annotations

from typing import Any

import pytest

from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.routing import Disposition, PlannedDelivery, plan_deliveries
from alliance_shared.contract.notifications import Channel
from tests.unit.notifications.notifications_support import COLLEGE, ENTERPRISE, NOW, directory, example

EVENT_ID = "evt-workflow-1"


def plan(short_name: str, **overrides: Any) -> list[PlannedDelivery]:
    event_type, payload = example(short_name)
    return plan_deliveries(event_type, EVENT_ID, {**payload, **overrides}, directory(), DEFAULT_RULES, {}, NOW)


def recipients(plans: list[PlannedDelivery]) -> set[str]:
    return {p.audience_id for p in plans}


WORKFLOW_STEPS = {
    # step → (event, who is told)
    "agreement drafted: every party is asked to sign": (
        "registry.agreement.drafted",
        {f"partner:{COLLEGE}", f"partner:{ENTERPRISE}"},
    ),
    "a party signed: those still to sign are asked": ("registry.agreement.party_signed", {f"partner:{ENTERPRISE}"}),
    "amendment signed by one: the others are asked": (
        "registry.agreement.amendment_signed",
        {f"partner:{ENTERPRISE}"},
    ),
    "every party signed: every party": (
        "registry.agreement.signed",
        {f"partner:{COLLEGE}", f"partner:{ENTERPRISE}"},
    ),
    "agreement resumed: every party and the funding officers (held tranches go on)": (
        "registry.agreement.resumed",
        {f"partner:{COLLEGE}", f"partner:{ENTERPRISE}", "member:officer-zhang"},
    ),
    "amendment in force: every party": ("registry.agreement.amended", {f"partner:{COLLEGE}", f"partner:{ENTERPRISE}"}),
    "membership application: the partner and the registry admins": (
        "registry.membership.changed",
        {f"partner:{ENTERPRISE}", "member:admin-zhao"},
    ),
    "certification application: the registry admins decide": (
        "registry.certification.applied",
        {"member:admin-zhao"},
    ),
    "certification refused: the enterprise": ("registry.certification.rejected", {f"partner:{ENTERPRISE}"}),
    "cycle opened: the parties of its agreements": (
        "evaluation.cycle.opened",
        {f"partner:{COLLEGE}", f"partner:{ENTERPRISE}"},
    ),
    "panel seat: the evaluator": ("evaluation.panel.member_seated", {"member:supervisor-chen"}),
    "rectification responded: the supervisor who issued the order": (
        "evaluation.rectification.responded",
        {"member:supervisor-chen"},
    ),
    "appeal lodged: supervisors not on the panel": ("evaluation.appeal.lodged", {"member:supervisor-chen"}),
}


@pytest.mark.parametrize("step", sorted(WORKFLOW_STEPS))
def test_each_workflow_step_reaches_whoever_must_act(step: str) -> None:
    short_name, expected = WORKFLOW_STEPS[step]

    plans = plan(short_name)

    assert recipients(plans) == expected
    assert all(p.disposition is Disposition.SEND for p in plans)


def test_a_membership_decision_goes_to_the_partner_only_not_to_the_admins() -> None:
    plans = plan("registry.membership.changed", action="admit", from_status="applied", to_status="admitted")

    assert recipients(plans) == {f"partner:{ENTERPRISE}"}


def test_a_supervisor_who_sat_on_the_panel_is_not_asked_to_decide_the_appeal() -> None:
    plans = plan("evaluation.appeal.lodged", panel_evaluator_ids=["supervisor-chen", "expert-chen"])

    assert plans == []


def test_an_evaluator_in_no_role_group_gets_the_inbox_and_an_unroutable_mail() -> None:
    plans = plan("evaluation.panel.member_seated", evaluator_id="expert-liu", role="industry_expert")

    by_channel = {p.channel: p for p in plans}
    assert set(by_channel) == {Channel.EMAIL, Channel.INBOX}
    assert by_channel[Channel.INBOX].recipient_id == "member:expert-liu"
    assert by_channel[Channel.INBOX].disposition is Disposition.SEND
    assert by_channel[Channel.EMAIL].disposition is Disposition.UNROUTABLE
    assert by_channel[Channel.EMAIL].reason_code == "recipient.no_email"


def test_a_response_to_an_order_without_its_issuer_is_logged_unresolved() -> None:
    event_type, payload = example("evaluation.rectification.responded")
    del payload["ordered_by"]  # an event from before the field existed

    plans = plan_deliveries(event_type, EVENT_ID, payload, directory(), DEFAULT_RULES, {}, NOW)

    assert {p.reason_code for p in plans} == {"routing.missing_field.ordered_by"}
