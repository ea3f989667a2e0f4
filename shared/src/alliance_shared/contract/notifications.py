"""Events of the notifications context (topic ``alliance.notifications.events``).

The notifications service announces the final outcome of every notice it tried to
deliver: ``delivery.delivered`` once an e-mail was accepted by the SMTP relay, a webhook
answered 2xx or an inbox entry was stored; ``delivery.failed`` once it gave up (retries
exhausted, a permanent refusal, or a template that could not be rendered). College
systems read this topic to learn whether the platform reached them.

Key (``aggregate_field``): ``delivery_id``, a UUID derived from the delivery key
(notified event id, recipient id, channel), so the same notice always has the same id.

The id and type of the event that caused the notice are ``source_event_id`` and
``source_event_type`` (``event_type`` is the name every payload model uses for its own
CloudEvents type).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field

from alliance_shared.contract.base import EventPayload, UtcDateTime

Id = Annotated[str, Field(min_length=1, max_length=200)]


class Channel(StrEnum):
    """How a notice reaches its recipient."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    INBOX = "inbox"


class _DeliveryOutcome(EventPayload):
    aggregate_field: ClassVar[str] = "delivery_id"

    delivery_id: Id = Field(description="stable id of the delivery (UUID derived from the delivery key)")
    source_event_id: Id = Field(description="id of the event (or reminder, digest) the notice was about")
    source_event_type: str = Field(min_length=1, max_length=200, description="type of that event")
    channel: Channel
    recipient_id: Id = Field(
        description="'partner:<id>' (a partner's contact or inbox), 'member:<id>' (a role-group member) "
        "or 'webhook:<endpoint id>'"
    )
    partner_id: Id | None = Field(default=None, description="the partner reached, when the recipient is one")
    attempts: int = Field(ge=0, le=1000, description="delivery attempts made")
    occurred_at: UtcDateTime


class DeliveryDelivered(_DeliveryOutcome):
    """A notice reached its recipient: accepted by the mail relay, answered 2xx by the
    webhook endpoint, or stored in the in-app inbox."""

    event_type: ClassVar[str] = "org.coopalliance.notifications.delivery.delivered.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "delivery_id": "5f0c1a52-8c1e-5d55-9a53-6c1c1f0f4b2e",
                    "source_event_id": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10",
                    "source_event_type": "org.coopalliance.evaluation.rectification.ordered.v1",
                    "channel": "webhook",
                    "recipient_id": "webhook:wh-col-001-main",
                    "partner_id": "col-001",
                    "attempts": 2,
                    "occurred_at": "2026-05-06T02:15:00Z",
                }
            ]
        }
    )


class DeliveryFailed(_DeliveryOutcome):
    """The platform gave up on a notice: retries exhausted, a permanent refusal (for
    example an unknown mailbox or a 410 from the webhook), or a template that could not
    be rendered. ``final_error_code`` is machine-readable, ``final_error_detail`` is for
    people."""

    event_type: ClassVar[str] = "org.coopalliance.notifications.delivery.failed.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "delivery_id": "0d7f7a9e-4c52-5b8b-8f0e-2a4c5e6d7f80",
                    "source_event_id": "9a1d6b7e-3c2f-4a51-8e0d-7b6c5a4f3e21",
                    "source_event_type": "org.coopalliance.funding.tranche.withheld.v1",
                    "channel": "webhook",
                    "recipient_id": "webhook:wh-ent-042",
                    "partner_id": "ent-042",
                    "attempts": 12,
                    "final_error_code": "webhook.http_503",
                    "final_error_detail": "endpoint answered 503 Service Unavailable",
                    "occurred_at": "2026-05-06T09:41:00Z",
                }
            ]
        }
    )

    final_error_code: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    final_error_detail: str = Field(min_length=1, max_length=2000)


NOTIFICATIONS_EVENTS: tuple[type[EventPayload], ...] = (DeliveryDelivered, DeliveryFailed)
