"""What the API shows: reads and list filters (no state changes here)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from alliance_notifications.domain.delivery import DeliveryStatus
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.inbox import InboxEntry
from alliance_notifications.domain.preferences import Preferences
from alliance_notifications.domain.recipients import RoleGroup, RoleGroupRoster
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.repositories import DeliveryRecord
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import InvalidInput
from alliance_shared.persistence.pagination import paginate
from alliance_shared.persistence.repository import Loaded

NEWEST_FIRST = [("created_at", -1), ("_id", -1)]
OLDEST_FIRST = [("created_at", 1), ("_id", 1)]


async def inbox_page(
    notifier: Notifier, recipient_id: str, *, unread_only: bool, before: datetime | None, limit: int
) -> list[InboxEntry]:
    """Up to ``limit`` entries, newest first, created before ``before`` when given."""
    query: dict[str, Any] = {"recipient_id": recipient_id}
    if unread_only:
        query["read_at"] = None
    if before is not None:
        query["created_at"] = {"$lt": before}
    return [found.item for found in await notifier.repos.inbox.find(query, sort=NEWEST_FIRST, limit=limit)]


async def inbox_since(notifier: Notifier, recipient_id: str, since: datetime) -> list[InboxEntry]:
    """Entries created at or after ``since``, oldest first (the live stream)."""
    query = {"recipient_id": recipient_id, "created_at": {"$gte": since}}
    return [found.item for found in await notifier.repos.inbox.find(query, sort=OLDEST_FIRST)]


async def unread_count(notifier: Notifier, recipient_id: str) -> int:
    return len(await notifier.repos.inbox.find({"recipient_id": recipient_id, "read_at": None}))


async def preferences(notifier: Notifier, recipient_id: str) -> Preferences:
    """A recipient's preferences; the settings' defaults (version 0) until changed."""
    return (await notifier.preferences_of([recipient_id]))[recipient_id]


async def role_group(notifier: Notifier, group: RoleGroup) -> Loaded[RoleGroupRoster]:
    """A role group's members; no members at version 0 until first set."""
    found = await notifier.repos.groups.get(group.value)
    return found if found is not None else Loaded(RoleGroupRoster(group=group), 0)


async def webhook(notifier: Notifier, endpoint_id: str) -> WebhookEndpoint:
    return (await notifier.repos.endpoints.require(endpoint_id, "webhook.not_found", "webhook endpoint")).item


async def webhooks_of(notifier: Notifier, partner_id: str) -> list[WebhookEndpoint]:
    return [found.item for found in await notifier.repos.endpoints.find({"partner_id": partner_id})]


async def delivery(notifier: Notifier, delivery_id: str) -> Loaded[DeliveryRecord]:
    return await notifier.repos.deliveries.require(delivery_id, "delivery.not_found", "delivery")


async def deliveries_page(
    notifier: Notifier,
    *,
    event_id: str | None,
    recipient_id: str | None,
    partner_id: str | None,
    channel: Channel | None,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
    newest_first: bool = False,
) -> tuple[list[Loaded[DeliveryRecord]], str | None]:
    """Deliveries matching every filter given, by id (or newest first), and the cursor of the next page."""
    filters = {
        "event_id": event_id,
        "recipient_id": recipient_id,
        "partner_id": partner_id,
        "channel": channel.value if channel else None,
        "status": status.value if status else None,
    }
    query: dict[str, Any] = {field: value for field, value in filters.items() if value is not None}
    repo = notifier.repos.deliveries
    if not newest_first:
        page = await paginate(repo.store, query, limit=limit, cursor=cursor)
        return [repo.from_snapshot(s) for s in page.items], page.next_cursor
    if cursor:
        # Keyset: strictly older, or as old with a smaller id (created_at is not unique).
        at, after_id = _decode_time_cursor(cursor)
        query["$or"] = [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": after_id}}]
    found = await repo.find(query, sort=NEWEST_FIRST, limit=limit + 1)
    items = found[:limit]
    last = items[-1] if len(found) > limit and items else None
    return items, _encode_time_cursor(last.item.delivery.created_at, last.item.delivery.delivery_id) if last else None


def _encode_time_cursor(at: datetime, item_id: str) -> str:
    raw = json.dumps({"before": at.isoformat(), "id": item_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_time_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        at, item_id = datetime.fromisoformat(decoded["before"]), decoded["id"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("pagination.bad_cursor", "the cursor is not one this API issued") from exc
    if not isinstance(item_id, str) or at.tzinfo is None:
        raise InvalidInput("pagination.bad_cursor", "the cursor is not one this API issued")
    return at, item_id


async def watch_inbox(
    notifier: Notifier, recipient_id: str, disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[int | InboxEntry]:
    """The live inbox: the unread count at once, then each new entry as it is stored,
    read every ``inbox_stream_poll_seconds`` until ``disconnected()``."""
    since = notifier.clock.now()
    seen: set[str] = set()
    yield await unread_count(notifier, recipient_id)
    while not await disconnected():
        for entry in await inbox_since(notifier, recipient_id, since):
            if entry.inbox_id in seen:
                continue
            seen.add(entry.inbox_id)
            since = max(since, entry.created_at)
            yield entry
        await asyncio.sleep(notifier.settings.inbox_stream_poll_seconds)
