"""Reminders before deadlines, scheduled from events and cancelled by later events.

- ``reminder.rectification_due``: scheduled by rectification.ordered and .returned, fires
  7 days and 1 day before ``due_at``; cancelled by rectification.responded and .closed.
- ``reminder.programme_closing``: scheduled by programme.opened, fires 3 days before
  ``closes_at``; cancelled by programme.closed.
- ``reminder.tranche_awaiting_approval``: scheduled by tranche.requested, fires 3 days
  after the request; cancelled by tranche.approved, tranche.withheld (a withheld request
  must be prepared again) and award.terminated (for its cancelled tranches).

Reminder ids are derived from the kind, the subject, the offset and the scheduling
event's id: processing the same event again yields the same ids, so the store's
unique aggregate ids make each reminder fire once, even across restarts. A deadline reminder
whose time has already passed is not scheduled (a "7 days left" notice two days before
the deadline would be wrong); the waiting-for-approval reminder fires late rather than
never. When a reminder fires it is routed like an event: ``routing_type`` selects the
rules, ``reminder_id`` is the event id of its deliveries and ``payload`` the fields
its template and selectors read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.domain.default_rules import (
    REMINDER_PROGRAMME_CLOSING,
    REMINDER_RECTIFICATION_DUE,
    REMINDER_TRANCHE_AWAITING_APPROVAL,
    event_type_of,
)
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.errors import DomainError, InvalidTransition

RECTIFICATION_REMINDER_DAYS = (7, 1)
PROGRAMME_CLOSING_REMINDER_DAYS = 3
TRANCHE_APPROVAL_WAIT_DAYS = 3

RECTIFICATION_ORDERED = event_type_of("evaluation.rectification.ordered")
RECTIFICATION_RETURNED = event_type_of("evaluation.rectification.returned")
RECTIFICATION_RESPONDED = event_type_of("evaluation.rectification.responded")
RECTIFICATION_CLOSED = event_type_of("evaluation.rectification.closed")
PROGRAMME_OPENED = event_type_of("funding.programme.opened")
PROGRAMME_CLOSED = event_type_of("funding.programme.closed")
TRANCHE_REQUESTED = event_type_of("funding.tranche.requested")
TRANCHE_APPROVED = event_type_of("funding.tranche.approved")
TRANCHE_WITHHELD = event_type_of("funding.tranche.withheld")
AWARD_TERMINATED = event_type_of("funding.award.terminated")


class ReminderStatus(StrEnum):
    SCHEDULED = "scheduled"
    FIRED = "fired"
    CANCELLED = "cancelled"


class Reminder(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    reminder_id: str
    routing_type: str
    scope: str = Field(description="what a cancelling event names: 'rectification:<order id>' ...")
    fire_at: UtcDateTime
    payload: dict[str, Any]
    source_event_id: str
    status: ReminderStatus = ReminderStatus.SCHEDULED
    fired_at: UtcDateTime | None = None
    cancelled_at: UtcDateTime | None = None
    cancel_reason: str | None = None
    version: int = 0

    def is_due(self, now: datetime) -> bool:
        return self.status is ReminderStatus.SCHEDULED and self.fire_at <= now

    def fire(self, now: datetime) -> None:
        """Mark fired; the caller then plans its deliveries with ``routing_type`` and ``reminder_id``."""
        if not self.is_due(now):
            raise InvalidTransition("reminder", self.status, "fire")
        self.status = ReminderStatus.FIRED
        self.fired_at = now

    def cancel(self, now: datetime, reason: str) -> None:
        if self.status is not ReminderStatus.SCHEDULED:
            raise InvalidTransition("reminder", self.status, "cancel")
        self.status = ReminderStatus.CANCELLED
        self.cancelled_at = now
        self.cancel_reason = reason

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Reminder:
        return cls.model_validate(dict(document))


def rectification_scope(order_id: str) -> str:
    return f"rectification:{order_id}"


def programme_scope(programme_id: str) -> str:
    return f"programme:{programme_id}"


def tranche_scope(tranche_id: str) -> str:
    return f"tranche:{tranche_id}"


def schedule_reminders(event_type: str, event_id: str, payload: Mapping[str, Any], now: datetime) -> list[Reminder]:
    """The reminders an event starts; empty for events that start none."""
    if event_type in (RECTIFICATION_ORDERED, RECTIFICATION_RETURNED):
        due_at = _instant(payload, "due_at")
        order_id = _text(payload, "order_id")
        return [
            _reminder(
                REMINDER_RECTIFICATION_DUE,
                order_id,
                f"{days}d",
                rectification_scope(order_id),
                due_at - timedelta(days=days),
                event_id,
                {
                    **_pick(payload, "order_id", "agreement_id", "responsible_party_id", "party_ids", "due_at"),
                    "days_before": days,
                },
            )
            for days in RECTIFICATION_REMINDER_DAYS
            if due_at - timedelta(days=days) > now
        ]
    if event_type == PROGRAMME_OPENED:
        closes_at = _instant(payload, "closes_at")
        fire_at = closes_at - timedelta(days=PROGRAMME_CLOSING_REMINDER_DAYS)
        if fire_at <= now:
            return []
        programme_id = _text(payload, "programme_id")
        return [
            _reminder(
                REMINDER_PROGRAMME_CLOSING,
                programme_id,
                f"{PROGRAMME_CLOSING_REMINDER_DAYS}d",
                programme_scope(programme_id),
                fire_at,
                event_id,
                {**_pick(payload, "programme_id", "name", "closes_at"), "days_before": PROGRAMME_CLOSING_REMINDER_DAYS},
            )
        ]
    if event_type == TRANCHE_REQUESTED:
        requested_at = _instant(payload, "occurred_at")
        tranche_id = _text(payload, "tranche_id")
        fields = ("award_id", "tranche_id", "sequence", "scheduled_minor", "currency", "recipient_partner_id",
                  "agreement_id", "prepared_by")  # fmt: skip
        return [
            _reminder(
                REMINDER_TRANCHE_AWAITING_APPROVAL,
                tranche_id,
                f"{TRANCHE_APPROVAL_WAIT_DAYS}d",
                tranche_scope(tranche_id),
                requested_at + timedelta(days=TRANCHE_APPROVAL_WAIT_DAYS),
                event_id,
                {
                    **_pick(payload, *fields),
                    "requested_at": payload["occurred_at"],
                    "waiting_days": TRANCHE_APPROVAL_WAIT_DAYS,
                },
            )
        ]
    return []


def cancellation_scopes(event_type: str, payload: Mapping[str, Any]) -> list[str]:
    """The reminder scopes an event cancels; the use case cancels every scheduled reminder in them."""
    if event_type in (RECTIFICATION_RESPONDED, RECTIFICATION_CLOSED):
        return [rectification_scope(_text(payload, "order_id"))]
    if event_type == PROGRAMME_CLOSED:
        return [programme_scope(_text(payload, "programme_id"))]
    if event_type in (TRANCHE_APPROVED, TRANCHE_WITHHELD):
        return [tranche_scope(_text(payload, "tranche_id"))]
    if event_type == AWARD_TERMINATED:
        return [tranche_scope(str(tranche_id)) for tranche_id in payload.get("cancelled_tranche_ids") or ()]
    return []


def reminder_id_of(routing_type: str, subject_id: str, offset: str, source_event_id: str) -> str:
    return f"{routing_type}:{subject_id}:{offset}:{source_event_id}"


def _reminder(
    routing_type: str,
    subject_id: str,
    offset: str,
    scope: str,
    fire_at: datetime,
    source_event_id: str,
    payload: dict[str, Any],
) -> Reminder:
    return Reminder(
        reminder_id=reminder_id_of(routing_type, subject_id, offset, source_event_id),
        routing_type=routing_type,
        scope=scope,
        fire_at=fire_at,
        payload=payload,
        source_event_id=source_event_id,
    )


def _pick(payload: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    return {field: payload[field] for field in fields if field in payload}


def _text(payload: Mapping[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise DomainError("reminder.missing_field", f"the event has no {field}", field=field)
    return value


def _instant(payload: Mapping[str, Any], field: str) -> datetime:
    value = payload.get(field)
    try:
        instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        instant = None
    if not isinstance(instant, datetime) or instant.tzinfo is None:
        raise DomainError("reminder.missing_field", f"the event has no timezone-aware {field}", field=field)
    return instant
