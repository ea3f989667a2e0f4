from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.delivery import Delivery, DeliveryStatus
from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.retry_policy import RetryPolicy
from alliance_notifications.domain.routing import Disposition, PlannedDelivery, plan_deliveries
from alliance_notifications.domain.templates import RenderedMessage, RenderFailure, TemplateRenderer
from alliance_shared.contract.notifications import Channel, DeliveryDelivered, DeliveryFailed
from alliance_shared.errors import DomainError, InvalidTransition
from tests.unit.notifications.notifications_support import NOW, directory, example

RENDERER = TemplateRenderer()
POLICY = RetryPolicy(max_attempts=3)


def status_of(subject: Delivery) -> DeliveryStatus:
    """Read afresh: mypy keeps an attribute narrowed by an earlier assert across method calls."""
    return subject.status


def planned(
    short_name: str,
    channel: Channel,
    recipient_id: str,
    *,
    now: datetime = NOW,
    prefs: dict[str, Preferences] | None = None,
) -> tuple[PlannedDelivery, dict[str, object]]:
    event_type, payload = example(short_name)
    plans = plan_deliveries(event_type, "evt-1", payload, directory(), DEFAULT_RULES, prefs or {}, now)
    [match] = [p for p in plans if p.channel is channel and p.recipient_id == recipient_id]
    return match, payload


def email_delivery(now: datetime = NOW) -> Delivery:
    plan, payload = planned("funding.tranche.paid", Channel.EMAIL, "partner:col-001", now=now)
    rendered = RENDERER.render(
        plan.template, plan.locale, payload=payload, recipient_name=plan.recipient_name, time_zone=plan.time_zone,
        event_id=plan.event_id,
    )  # fmt: skip
    return Delivery.from_plan(plan, now, rendered)


def test_a_planned_email_becomes_a_pending_delivery_with_its_message() -> None:
    delivery = email_delivery()

    assert status_of(delivery) is DeliveryStatus.PENDING
    assert delivery.is_due(NOW)
    assert delivery.subject == "拨款已支付（awd-2026-0007 第 2 期）"
    assert delivery.rendered == RenderedMessage(subject=delivery.subject, body=delivery.body or "")
    assert delivery.events == []


def test_an_email_in_quiet_hours_is_scheduled_for_the_morning() -> None:
    night = datetime(2026, 5, 6, 16, 0, tzinfo=UTC)  # midnight in Shanghai

    delivery = email_delivery(now=night)

    assert status_of(delivery) is DeliveryStatus.SCHEDULED
    assert not delivery.is_due(night)
    assert delivery.is_due(datetime(2026, 5, 6, 23, 0, tzinfo=UTC))


def test_success_marks_sent_and_announces_delivery() -> None:
    delivery = email_delivery()

    delivery.record_success(NOW + timedelta(seconds=2))

    assert status_of(delivery) is DeliveryStatus.SENT
    assert [a.succeeded for a in delivery.attempts] == [True]
    [event] = delivery.events
    assert isinstance(event, DeliveryDelivered)
    assert event.delivery_id == delivery.delivery_id
    assert (event.source_event_id, event.channel, event.recipient_id, event.partner_id, event.attempts) == (
        "evt-1",
        Channel.EMAIL,
        "partner:col-001",
        "col-001",
        1,
    )
    with pytest.raises(InvalidTransition):
        delivery.record_success(NOW)


def test_failures_are_retried_with_backoff_then_the_delivery_is_dead() -> None:
    delivery = email_delivery()
    rng = random.Random(3)

    delivery.record_failure(NOW, "smtp.421", "service not available", retryable=True, policy=POLICY, rng=rng)
    assert status_of(delivery) is DeliveryStatus.FAILED
    assert delivery.next_attempt_at is not None
    assert NOW <= delivery.next_attempt_at <= NOW + timedelta(seconds=30)
    second = delivery.next_attempt_at
    delivery.record_failure(second, "smtp.421", "again", retryable=True, policy=POLICY, rng=rng)
    assert status_of(delivery) is DeliveryStatus.FAILED
    delivery.record_failure(second, "smtp.421", "and again", retryable=True, policy=POLICY, rng=rng)

    assert status_of(delivery) is DeliveryStatus.DEAD
    assert [a.number for a in delivery.attempts] == [1, 2, 3]
    [event] = delivery.events
    assert isinstance(event, DeliveryFailed)
    assert (event.attempts, event.final_error_code, event.final_error_detail) == (3, "smtp.421", "and again")


def test_a_permanent_failure_is_dead_at_once() -> None:
    delivery = email_delivery()

    delivery.record_failure(NOW, "smtp.550", "mailbox unknown", retryable=False, policy=POLICY, rng=random.Random(1))

    assert status_of(delivery) is DeliveryStatus.DEAD
    assert delivery.final_error_code == "smtp.550"
    with pytest.raises(InvalidTransition):
        delivery.record_failure(NOW, "x.y", "z", retryable=True, policy=POLICY, rng=random.Random(1))


def test_a_render_failure_is_recorded_on_the_delivery_not_raised() -> None:
    plan, _ = planned("funding.tranche.paid", Channel.INBOX, "partner:col-001")
    failure = RENDERER.render("funding.no_such.thing", plan.locale, payload={}, recipient_name="x")
    assert isinstance(failure, RenderFailure)

    delivery = Delivery.from_plan(plan, NOW, failure)

    assert status_of(delivery) is DeliveryStatus.DEAD
    assert (delivery.final_error_code, delivery.attempts) == ("template.missing", [])
    [event] = delivery.events
    assert isinstance(event, DeliveryFailed)
    assert event.final_error_code == "template.missing"


def test_webhook_deliveries_need_no_template_and_can_be_postponed_by_the_breaker() -> None:
    plan, _ = planned("funding.tranche.paid", Channel.WEBHOOK, "webhook:wh-col-001")

    delivery = Delivery.from_plan(plan, NOW)
    delivery.postpone(NOW + timedelta(minutes=5), NOW)

    assert status_of(delivery) is DeliveryStatus.SCHEDULED
    assert delivery.attempts == []
    assert delivery.endpoint_id == "wh-col-001"
    assert delivery.address == "https://hooks.example.cn/wh-col-001"
    assert delivery.is_due(NOW + timedelta(minutes=5))


def test_skipped_and_unroutable_plans_are_logged_but_never_attempted() -> None:
    prefs = Preferences.defaults("partner:col-001")
    prefs.set_channel(Category.OPERATIONAL, Channel.INBOX, False, NOW, "wang")
    skipped_plan, _ = planned(
        "funding.tranche.paid", Channel.INBOX, "partner:col-001", prefs={"partner:col-001": prefs}
    )
    event_type, payload = example("funding.tranche.paid")
    payload["recipient_partner_id"] = "col-999"
    [unroutable_plan] = [
        p
        for p in plan_deliveries(event_type, "evt-1", payload, directory(), DEFAULT_RULES, {}, NOW)
        if p.disposition is Disposition.UNROUTABLE
    ]

    skipped = Delivery.from_plan(skipped_plan, NOW)
    unroutable = Delivery.from_plan(unroutable_plan, NOW)

    assert skipped.status is DeliveryStatus.SKIPPED_BY_PREFERENCE
    assert unroutable.status is DeliveryStatus.UNROUTABLE
    assert unroutable.final_error_code == "recipient.no_email"
    assert not skipped.is_due(NOW)
    assert not unroutable.is_due(NOW)
    with pytest.raises(InvalidTransition):
        skipped.record_success(NOW)


def test_email_and_inbox_deliveries_require_a_rendered_message() -> None:
    plan, _ = planned("funding.tranche.paid", Channel.EMAIL, "partner:col-001")

    with pytest.raises(DomainError) as refused:
        Delivery.from_plan(plan, NOW)
    assert refused.value.code == "delivery.not_rendered"


def test_deliveries_round_trip_through_a_document_without_their_events() -> None:
    delivery = email_delivery()
    delivery.record_failure(NOW, "smtp.421", "busy", retryable=True, policy=POLICY, rng=random.Random(2))

    document = delivery.to_document()

    assert "events" not in document
    assert Delivery.from_document(document) == delivery.model_copy(update={"events": []})
