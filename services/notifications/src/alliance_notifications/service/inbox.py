"""Use cases of the in-app inbox: mark one entry read, mark all read."""

from __future__ import annotations

from alliance_notifications.domain.inbox import InboxEntry
from alliance_notifications.service.notifier import Notifier
from alliance_shared.errors import NotFound
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.write_path import Decision, Outcome, execute


async def mark_read(notifier: Notifier, recipient_id: str, inbox_id: str) -> Outcome[InboxEntry]:
    """Mark one of the recipient's entries read (another recipient's is not found)."""
    now = notifier.clock.now()

    def decide(current: Loaded[InboxEntry] | None) -> Decision[InboxEntry] | None:
        if current is None:
            raise NotFound("inbox.not_found", f"no inbox entry {inbox_id} for you")
        current.item.check_owner(recipient_id)
        return Decision(current.item, None) if current.item.mark_read(now) else None

    return await execute(notifier.repos.inbox, inbox_id, decide)


async def mark_all_read(notifier: Notifier, recipient_id: str) -> int:
    """Mark every unread entry of the recipient read; returns how many were unread."""
    unread = await notifier.repos.inbox.find({"recipient_id": recipient_id, "read_at": None})
    for found in unread:
        await mark_read(notifier, recipient_id, found.item.inbox_id)
    return len(unread)
