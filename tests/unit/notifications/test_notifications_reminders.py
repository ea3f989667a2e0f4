from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alliance_notifications.domain.default_rules import (
    DEFAULT_RULES,
    REMINDER_PROGRAMME_CLOSING,
    REMINDER_RECTIFICATION_DUE,
    REMINDER_TRANCHE_AWAITING_APPROVAL,
)
from alliance_notifications.domain.reminders import (
    Reminder,
    ReminderStatus,
    cancellation_scopes,
    schedule_reminders,
)
from alliance_notifications.domain.routing import Disposition, plan_deliveries
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import DomainError, InvalidTransition
from tests.unit.notifications.notifications_support import ENTERPRISE, NOW, directory, example

DUE = datetime(2026, 6, 30, 15, 59, 59, tzinfo=UTC)


def test_a_rectification_order_schedules_reminders_seven_days_and_one_day_before_the_deadline() -> None:
    event_type, payload = example("evaluation.rectification.ordered")

    reminders = schedule_reminders(event_type, "evt-order", payload, NOW)

    assert [(r.routing_type, r.fire_at) for r in reminders] == [
        (REMINDER_RECTIFICATION_DUE, DUE - timedelta(days=7)),
        (REMINDER_RECTIFICATION_DUE, DUE - timedelta(days=1)),
    ]
    assert [r.payload["days_before"] for r in reminders] == [7, 1]
    assert all(r.scope == "rectification:rect-0009" for r in reminders)
    assert all(r.payload["responsible_party_id"] == ENTERPRISE for r in reminders)


def test_reminder_ids_are_deterministic_per_event() -> None:
    event_type, payload = example("evaluation.rectification.ordered")

    first = schedule_reminders(event_type, "evt-order", payload, NOW)
    replayed = schedule_reminders(event_type, "evt-order", payload, NOW + timedelta(hours=5))
    returned = schedule_reminders("org.coopalliance.evaluation.rectification.returned.v1", "evt-returned", payload, NOW)

    assert [r.reminder_id for r in first] == [r.reminder_id for r in replayed]
    assert first[0].reminder_id == "reminder.rectification_due:rect-0009:7d:evt-order"
    assert not {r.reminder_id for r in first} & {r.reminder_id for r in returned}


def test_deadline_reminders_already_in_the_past_are_not_scheduled() -> None:
    event_type, payload = example("evaluation.rectification.ordered")

    three_days_before = schedule_reminders(event_type, "evt-order", payload, DUE - timedelta(days=3))
    after_the_deadline = schedule_reminders(event_type, "evt-order", payload, DUE + timedelta(minutes=1))

    assert [r.payload["days_before"] for r in three_days_before] == [1]
    assert after_the_deadline == []


def test_a_programme_opening_schedules_the_closing_reminder() -> None:
    event_type, payload = example("funding.programme.opened")

    [reminder] = schedule_reminders(event_type, "evt-prg", payload, NOW)

    assert reminder.routing_type == REMINDER_PROGRAMME_CLOSING
    assert reminder.fire_at == DUE - timedelta(days=3)
    assert reminder.scope == "programme:prg-2026-sz"


def test_a_tranche_request_schedules_the_waiting_for_approval_reminder_even_when_processed_late() -> None:
    event_type, payload = example("funding.tranche.requested")
    requested_at = datetime.fromisoformat(payload["occurred_at"])

    [reminder] = schedule_reminders(event_type, "evt-req", payload, requested_at + timedelta(days=10))

    assert reminder.routing_type == REMINDER_TRANCHE_AWAITING_APPROVAL
    assert reminder.fire_at == requested_at + timedelta(days=3)
    assert reminder.is_due(requested_at + timedelta(days=10))


@pytest.mark.parametrize(
    ("short_name", "scopes"),
    [
        ("evaluation.rectification.closed", ["rectification:rect-0009"]),
        ("funding.programme.closed", ["programme:prg-2026-sz"]),
        ("funding.tranche.approved", ["tranche:awd-2026-0007-t2"]),
        ("funding.tranche.withheld", ["tranche:awd-2026-0007-t2"]),
        ("funding.award.terminated", ["tranche:awd-2026-0007-t2"]),
        ("evaluation.result.completed", []),
    ],
)
def test_cancellation_scopes(short_name: str, scopes: list[str]) -> None:
    event_type, payload = example(short_name)

    assert cancellation_scopes(event_type, payload) == scopes


def test_a_closed_rectification_cancels_exactly_its_own_reminders() -> None:
    ordered_type, ordered = example("evaluation.rectification.ordered")
    other = {**ordered, "order_id": "rect-0010"}
    reminders = schedule_reminders(ordered_type, "e1", ordered, NOW) + schedule_reminders(
        ordered_type, "e2", other, NOW
    )
    closed_type, closed = example("evaluation.rectification.closed")

    scopes = cancellation_scopes(closed_type, closed)
    for reminder in reminders:
        if reminder.scope in scopes:
            reminder.cancel(NOW, closed_type)

    assert [r.status for r in reminders] == [ReminderStatus.CANCELLED] * 2 + [ReminderStatus.SCHEDULED] * 2


def test_a_reminder_fires_once_and_then_cannot_be_cancelled() -> None:
    event_type, payload = example("evaluation.rectification.ordered")
    reminder = schedule_reminders(event_type, "evt", payload, NOW)[0]

    with pytest.raises(InvalidTransition):
        reminder.fire(reminder.fire_at - timedelta(seconds=1))
    reminder.fire(reminder.fire_at)
    with pytest.raises(InvalidTransition):
        reminder.fire(reminder.fire_at)
    with pytest.raises(InvalidTransition):
        reminder.cancel(reminder.fire_at, "closed")
    assert Reminder.from_document(reminder.to_document()) == reminder


def test_a_fired_reminder_routes_like_an_event_to_the_responsible_party() -> None:
    event_type, payload = example("evaluation.rectification.ordered")
    reminder = schedule_reminders(event_type, "evt", payload, NOW)[1]
    reminder.fire(reminder.fire_at)

    plans = plan_deliveries(
        reminder.routing_type, reminder.reminder_id, reminder.payload, directory(), DEFAULT_RULES, {}, reminder.fire_at
    )

    assert {(p.recipient_id, p.channel) for p in plans} == {
        ("partner:ent-042", Channel.EMAIL),
        ("partner:ent-042", Channel.INBOX),
    }
    assert all(p.disposition in (Disposition.SEND, Disposition.DELAY) for p in plans)


def test_an_event_without_its_deadline_is_refused() -> None:
    event_type, payload = example("evaluation.rectification.ordered")
    payload["due_at"] = "2026-06-30T15:59:59"  # no offset

    with pytest.raises(DomainError) as refused:
        schedule_reminders(event_type, "evt", payload, NOW)
    assert refused.value.code == "reminder.missing_field"
