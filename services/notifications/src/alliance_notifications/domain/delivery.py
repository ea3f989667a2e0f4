"""The delivery record: one notice to one recipient on one channel, and its attempts.

Lifecycle::

    pending ─────────────┬─ success ─────────────────────▶ sent
    scheduled ──(due)────┤
       ▲                 ├─ failure, retries left ───────▶ failed ──(due)──▶ …
       └── postpone ─────┤                                   (same transitions as pending)
     (breaker open)      └─ failure, permanent or last ──▶ dead
    skipped_by_preference, unroutable: decided at planning, never attempted

``dead`` (and a template that cannot be rendered, which is dead from the start) emits
``delivery.failed``; ``sent`` emits ``delivery.delivered``. The delivery id and key come
from the plan, so a re-planned event maps onto the same record.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.domain.preferences import Category
from alliance_notifications.domain.recipients import Locale
from alliance_notifications.domain.retry_policy import RetryPolicy
from alliance_notifications.domain.routing import Disposition, PlannedDelivery, delivery_id_of
from alliance_notifications.domain.templates import RenderedMessage, RenderFailure, RenderResult
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.notifications import Channel, DeliveryDelivered, DeliveryFailed
from alliance_shared.errors import Conflict, DomainError, InvalidTransition


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    SKIPPED_BY_PREFERENCE = "skipped_by_preference"
    UNROUTABLE = "unroutable"


#: States in which the delivery still waits for an attempt.
OPEN_STATES = (DeliveryStatus.PENDING, DeliveryStatus.SCHEDULED, DeliveryStatus.FAILED)


class Attempt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(ge=1)
    at: UtcDateTime
    succeeded: bool
    error_code: str | None = None
    error_detail: str | None = None


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    delivery_id: str
    delivery_key: str
    event_id: str
    event_type: str
    channel: Channel
    recipient_id: str
    audience_id: str
    partner_id: str | None
    endpoint_id: str | None
    address: str | None
    category: Category
    template: str
    locale: Locale
    time_zone: str
    subject: str | None = None
    body: str | None = None
    status: DeliveryStatus
    next_attempt_at: UtcDateTime | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    final_error_code: str | None = None
    final_error_detail: str | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def from_plan(cls, plan: PlannedDelivery, now: datetime, rendered: RenderResult | None = None) -> Delivery:
        """The record of a plan. E-mail and inbox need the ``rendered`` message; a webhook
        carries the event itself, so it needs none. A render failure makes the delivery
        dead at once, with the failure's code and detail as its final error."""
        if plan.disposition is Disposition.DIGEST:
            raise DomainError("delivery.digest_entry", f"{plan.delivery_key} belongs in the digest, not the log")
        delivery = cls(
            delivery_id=plan.delivery_id,
            delivery_key=plan.delivery_key,
            event_id=plan.event_id,
            event_type=plan.event_type,
            channel=plan.channel,
            recipient_id=plan.recipient_id,
            audience_id=plan.audience_id,
            partner_id=plan.partner_id,
            endpoint_id=plan.endpoint_id,
            address=plan.address,
            category=plan.category,
            template=plan.template,
            locale=plan.locale,
            time_zone=plan.time_zone,
            status=DeliveryStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        if plan.disposition is Disposition.SKIP:
            delivery.status = DeliveryStatus.SKIPPED_BY_PREFERENCE
            return delivery
        if plan.disposition is Disposition.UNROUTABLE:
            delivery.status = DeliveryStatus.UNROUTABLE
            delivery.final_error_code = plan.reason_code
            delivery.final_error_detail = f"no address for {plan.recipient_id} on {plan.channel.value}"
            return delivery
        if plan.channel is not Channel.WEBHOOK:
            if rendered is None:
                raise DomainError("delivery.not_rendered", f"{plan.channel.value} deliveries need a rendered message")
            if isinstance(rendered, RenderFailure):
                delivery._die(rendered.code, rendered.detail, now)
                return delivery
            delivery.subject = rendered.subject
            delivery.body = rendered.body
        delivery.next_attempt_at = plan.not_before
        if plan.not_before > now:
            delivery.status = DeliveryStatus.SCHEDULED
        return delivery

    def resend_copy(self, operation_id: str, now: datetime) -> Delivery:
        """A new delivery of the same notice to the same address, due at once; ``operation_id``
        makes its key (and id) unique per resend request. E-mail and webhooks only (an inbox
        entry stays in the inbox); a delivery still open, or an e-mail never rendered, is refused."""
        if self.channel is Channel.INBOX:
            raise DomainError("delivery.resend_inbox", "inbox entries are not resent; they stay in the inbox")
        if self.status not in (DeliveryStatus.SENT, DeliveryStatus.DEAD):
            raise Conflict(
                "delivery.not_final", f"delivery {self.delivery_id} is {self.status.value}; resend a final one"
            )
        if self.channel is Channel.EMAIL and self.rendered is None:
            raise DomainError("delivery.not_rendered", "the notice could not be rendered; fix the template first")
        key = f"{self.delivery_key}|resend:{operation_id}"
        return Delivery.model_validate(
            {
                **self.model_dump(mode="python", exclude={"events"}),
                "delivery_id": delivery_id_of(key),
                "delivery_key": key,
                "status": DeliveryStatus.PENDING,
                "next_attempt_at": now,
                "attempts": [],
                "final_error_code": None,
                "final_error_detail": None,
                "created_at": now,
                "updated_at": now,
                "version": 0,
            }
        )

    @property
    def rendered(self) -> RenderedMessage | None:
        if self.subject is None or self.body is None:
            return None
        return RenderedMessage(subject=self.subject, body=self.body)

    def is_due(self, now: datetime) -> bool:
        return self.status in OPEN_STATES and self.next_attempt_at is not None and self.next_attempt_at <= now

    def record_success(self, now: datetime) -> None:
        self._require_open("record a success for")
        self.attempts = [*self.attempts, Attempt(number=len(self.attempts) + 1, at=now, succeeded=True)]
        self.status = DeliveryStatus.SENT
        self.next_attempt_at = None
        self.updated_at = now
        self.events.append(
            DeliveryDelivered(
                delivery_id=self.delivery_id,
                source_event_id=self.event_id,
                source_event_type=self.event_type,
                channel=self.channel,
                recipient_id=self.recipient_id,
                partner_id=self.partner_id,
                attempts=len(self.attempts),
                occurred_at=now,
            )
        )

    def record_failure(
        self,
        now: datetime,
        error_code: str,
        error_detail: str,
        *,
        retryable: bool,
        policy: RetryPolicy,
        rng: random.Random,
    ) -> None:
        """A failed attempt; retried after the policy's backoff unless ``retryable`` is False
        (an unknown mailbox, a 4xx other than 408/429) or the attempts are used up."""
        self._require_open("record a failure for")
        attempt = Attempt(
            number=len(self.attempts) + 1, at=now, succeeded=False, error_code=error_code, error_detail=error_detail
        )
        self.attempts = [*self.attempts, attempt]
        delay = policy.delay_after(len(self.attempts), rng) if retryable else None
        if delay is None:
            self._die(error_code, error_detail, now)
            return
        self.status = DeliveryStatus.FAILED
        self.next_attempt_at = now + delay
        self.updated_at = now

    def postpone(self, until: datetime, now: datetime) -> None:
        """Not attempted now (the endpoint's circuit breaker is open); no attempt is counted."""
        self._require_open("postpone")
        self.status = DeliveryStatus.SCHEDULED
        self.next_attempt_at = until
        self.updated_at = now

    def _require_open(self, action: str) -> None:
        if self.status not in OPEN_STATES:
            raise InvalidTransition("delivery", self.status, action)

    def _die(self, error_code: str, error_detail: str, now: datetime) -> None:
        self.status = DeliveryStatus.DEAD
        self.next_attempt_at = None
        self.final_error_code = error_code
        self.final_error_detail = error_detail
        self.updated_at = now
        self.events.append(
            DeliveryFailed(
                delivery_id=self.delivery_id,
                source_event_id=self.event_id,
                source_event_type=self.event_type,
                channel=self.channel,
                recipient_id=self.recipient_id,
                partner_id=self.partner_id,
                attempts=len(self.attempts),
                final_error_code=error_code,
                final_error_detail=error_detail[:2000],
                occurred_at=now,
            )
        )

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Delivery:
        return cls.model_validate(dict(document))
