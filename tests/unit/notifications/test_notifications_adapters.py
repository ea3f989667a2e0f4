"""Pure parts of the adapters: settings, the e-mail message, the webhook body (no I/O)."""

from __future__ import annotations

import json
from datetime import time

import pytest
from pydantic import ValidationError

from alliance_notifications.adapters.channels import EmailSender, webhook_body
from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.routing import plan_deliveries
from alliance_notifications.domain.templates import TemplateRenderer
from alliance_notifications.settings import Settings
from alliance_shared.contract.notifications import Channel
from tests.unit.notifications.notifications_support import NOW, directory, example


def test_default_quiet_hours_are_a_setting_and_can_be_switched_off() -> None:
    assert Settings().default_preferences("partner:x").quiet_hours is not None
    assert Settings(default_quiet_hours="21:30-06:45").quiet_hours is not None
    assert Settings(default_quiet_hours="21:30-06:45").quiet_hours.start == time(21, 30)  # type: ignore[union-attr]
    assert Settings(default_quiet_hours="").default_preferences("partner:x").quiet_hours is None
    with pytest.raises(ValidationError):
        Settings(default_quiet_hours="late")


def test_the_retry_policy_comes_from_the_settings() -> None:
    policy = Settings(retry_base_seconds=2, retry_cap_seconds=8, retry_max_attempts=4).retry_policy
    assert (policy.base_seconds, policy.cap_seconds, policy.max_attempts) == (2, 8, 4)


def _delivery(channel: Channel) -> Delivery:
    event_type, payload = example("evaluation.rectification.ordered")
    [plan] = [
        p for p in plan_deliveries(event_type, "evt-1", payload, directory(), DEFAULT_RULES, {}, NOW)
        if p.channel is channel and p.partner_id == "ent-042"
    ] or [p for p in plan_deliveries(event_type, "evt-1", payload, directory(), DEFAULT_RULES, {}, NOW)
          if p.channel is channel][:1]  # fmt: skip
    rendered = None if channel is Channel.WEBHOOK else TemplateRenderer().render(
        plan.template, plan.locale, payload=payload, recipient_name=plan.recipient_name, time_zone=plan.time_zone,
        event_id=plan.event_id, event_type=plan.event_type,
    )  # fmt: skip
    return Delivery.from_plan(plan, NOW, rendered)


def test_the_email_names_the_delivery_and_speaks_the_recipients_language() -> None:
    delivery = _delivery(Channel.EMAIL)

    message = EmailSender(Settings(smtp_from="Alliance <noreply@coopalliance.local>")).message(delivery)

    assert message["To"] == "anna.schmidt@example.de"
    assert message["X-Alliance-Delivery-Id"] == delivery.delivery_id
    assert message["Content-Language"] == "en"
    assert message["Subject"] == delivery.subject
    assert message.get_content().startswith("Dear Anna Schmidt,")


def test_the_webhook_body_carries_the_event_data_and_ids() -> None:
    delivery = _delivery(Channel.WEBHOOK)
    _, payload = example("evaluation.rectification.ordered")

    body = json.loads(webhook_body(delivery, payload))

    assert body["delivery_id"] == delivery.delivery_id
    assert body["event_id"] == "evt-1"
    assert body["data"]["order_id"] == payload["order_id"]
    assert body["category"] in ("regulatory", "operational")
