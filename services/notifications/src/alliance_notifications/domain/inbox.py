"""The in-app inbox: an entry per inbox delivery, stored when planned, read or unread.

The inbox belongs to a recipient (``partner:<id>``, shared by the partner's users, or
``member:<id>``); an entry is marked read once, marking it again changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.preferences import Category
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.errors import NotFound


class InboxEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    inbox_id: str
    recipient_id: str
    partner_id: str | None
    event_id: str
    event_type: str
    category: Category
    subject: str | None
    body: str | None
    locale: str
    created_at: UtcDateTime
    read_at: UtcDateTime | None = None

    @classmethod
    def of_delivery(cls, delivery: Delivery, now: datetime) -> InboxEntry:
        """The entry an inbox delivery stands for (its id is the delivery id)."""
        return cls(
            inbox_id=delivery.delivery_id,
            recipient_id=delivery.audience_id,
            partner_id=delivery.partner_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            category=delivery.category,
            subject=delivery.subject,
            body=delivery.body,
            locale=delivery.locale.value,
            created_at=now,
        )

    def check_owner(self, recipient_id: str) -> None:
        """Another recipient's entry is not found, as if it did not exist."""
        if self.recipient_id != recipient_id:
            raise NotFound("inbox.not_found", f"no inbox entry {self.inbox_id} for you")

    def mark_read(self, now: datetime) -> bool:
        """Mark read; False if it was read already (nothing changes)."""
        if self.read_at is not None:
            return False
        self.read_at = now
        return True
