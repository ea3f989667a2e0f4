"""Use case of the delivery log: resend a final delivery as a new one."""

from __future__ import annotations

from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.planning import create_delivery
from alliance_notifications.service.repositories import DeliveryRecord
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote


async def resend_delivery(
    notifier: Notifier, delivery_id: str, operation_id: str, actor_id: str
) -> Loaded[DeliveryRecord]:
    """A new delivery of the same notice to the same address, attempted at once (see
    ``Delivery.resend_copy``); ``operation_id`` (the Idempotency-Key) makes a retried
    request resend once."""
    original = await notifier.repos.deliveries.require(delivery_id, "delivery.not_found", "delivery")
    copy = original.item.delivery.resend_copy(operation_id, notifier.clock.now())
    record = DeliveryRecord(delivery=copy, payload=original.item.payload, resend_of=delivery_id)
    audit = AuditNote(
        "delivery.resent", "delivery", copy.delivery_id, before={"resend_of": delivery_id}, after={"actor_id": actor_id}
    )
    version = await create_delivery(notifier, record, audit)
    return Loaded(record, version)
