"""The notifications service's stores: every state change is one insert into a
``VersionedStore`` journal (FerretDB v1 updates are not isolated, docs/architecture.md).

Exactly-once hinges on unique ids, never on conditional updates:

* a delivery's aggregate id is its delivery id, uuid5 of (event id, recipient, channel):
  version 1 of it can be inserted once, so a redelivered event plans nothing twice;
* a reminder's id names its kind, subject, offset and scheduling event; firing it is a
  new version, which only one writer can insert;
* a digest entry's id is the delivery key it stands for, a digest's delivery key names
  the recipient and the local date.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from alliance_notifications.domain.delivery import OPEN_STATES, Delivery
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.preferences import Preferences
from alliance_notifications.domain.recipients import GroupMember, PartnerContact, RecipientDirectory, RoleGroup
from alliance_notifications.domain.reminders import Reminder
from alliance_shared.persistence.mongo import IndexSpec, retry_when_busy
from alliance_shared.persistence.versioned_store import Snapshot
from alliance_shared.runtime import ServiceRuntime

CONTACTS = "contacts"
ROLE_GROUPS = "role_groups"
ENDPOINTS = "webhook_endpoints"
PREFERENCES = "preferences"
DELIVERIES = "deliveries"
INBOX = "inbox"
REMINDERS = "reminders"
DIGEST_ENTRIES = "digest_entries"

#: Not versioned: a hint list of open deliveries and when each is due, so the worker scans
#: a few small documents instead of the whole log. The journal stays the truth: the
#: worker re-checks each delivery it loads, drops stale entries, and the list is rebuilt
#: from the log at start (a crash between a journal insert and the hint loses nothing).
DUE = "delivery_due"

STORES = (CONTACTS, ROLE_GROUPS, ENDPOINTS, PREFERENCES, DELIVERIES, INBOX, REMINDERS, DIGEST_ENTRIES)

#: Query-side indexes (used by MongoDB; FerretDB v1 scans, which is fine at alliance scale).
INDEXES = (
    IndexSpec(DELIVERIES, (("status", ASCENDING), ("next_attempt_at", ASCENDING))),
    IndexSpec(DELIVERIES, (("event_id", ASCENDING),)),
    IndexSpec(INBOX, (("recipient_id", ASCENDING), ("created_at", ASCENDING))),
    IndexSpec(REMINDERS, (("status", ASCENDING), ("fire_at", ASCENDING))),
    IndexSpec(DIGEST_ENTRIES, (("digest_id", ASCENDING),)),
    IndexSpec(DUE, (("next_attempt_at", ASCENDING),)),
)

#: Fields a delivery's stored state carries besides the domain model.
PAYLOAD = "payload"
RESEND_OF = "resend_of"


def delivery_state(delivery: Delivery, payload: Mapping[str, Any], resend_of: str | None = None) -> dict[str, Any]:
    state = delivery.model_dump(mode="python")
    state.pop("version", None)
    state[PAYLOAD] = dict(payload)
    state[RESEND_OF] = resend_of
    return state


def delivery_of(snapshot: Snapshot) -> Delivery:
    fields = {k: v for k, v in snapshot.state.items() if k not in (PAYLOAD, RESEND_OF)}
    fields["version"] = snapshot.version
    return Delivery.model_validate(fields)


def model_state(model: Any) -> dict[str, Any]:
    state: dict[str, Any] = model.model_dump(mode="python")
    state.pop("version", None)
    return state


class Stores:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.contacts = runtime.store(CONTACTS)
        self.groups = runtime.store(ROLE_GROUPS)
        self.endpoints = runtime.store(ENDPOINTS)
        self.preferences = runtime.store(PREFERENCES)
        self.deliveries = runtime.store(DELIVERIES)
        self.inbox = runtime.store(INBOX)
        self.reminders = runtime.store(REMINDERS)
        self.digest_entries = runtime.store(DIGEST_ENTRIES)
        self.due = runtime.db[DUE]

    async def sync_due(self, delivery: Delivery) -> None:
        """Keep the due hint of one delivery in step with its state."""
        if delivery.status in OPEN_STATES and delivery.next_attempt_at is not None:
            hint = {"_id": delivery.delivery_id, "next_attempt_at": delivery.next_attempt_at}
            for _ in range(3):  # two first upserts may race on the local server: the loser looks again
                try:
                    await retry_when_busy(
                        lambda: self.due.replace_one({"_id": delivery.delivery_id}, hint, upsert=True)
                    )
                    return
                except DuplicateKeyError:
                    continue
        else:
            await retry_when_busy(lambda: self.due.delete_one({"_id": delivery.delivery_id}))

    async def due_ids(self, now: datetime, limit: int = 1000) -> list[str]:
        cursor = self.due.find({"next_attempt_at": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def rebuild_due(self) -> None:
        """The due hints of every open delivery in the log (at start)."""
        open_states = [s.value for s in OPEN_STATES]
        for snap in await self.deliveries.find({"status": {"$in": open_states}}):
            await self.sync_due(delivery_of(snap))

    async def directory(self) -> RecipientDirectory:
        """The recipient directory as it stands (contacts, role groups, endpoints)."""
        directory = RecipientDirectory()
        for snap in await self.contacts.find({}):
            directory.upsert_contact(PartnerContact.model_validate(snap.state))
        for snap in await self.groups.find({}):
            members = [GroupMember.model_validate(m) for m in snap.state.get("members", [])]
            directory.set_group_members(RoleGroup(snap.aggregate_id), members)
        for snap in await self.endpoints.find({}):
            directory.add_endpoint(endpoint_of(snap))
        return directory

    async def preferences_of(self, recipient_ids: Sequence[str]) -> dict[str, Preferences]:
        wanted = sorted(set(recipient_ids))
        snaps = await asyncio.gather(*(self.preferences.load(rid) for rid in wanted))
        return {snap.aggregate_id: preferences_of(snap) for snap in snaps if snap is not None}


def endpoint_of(snapshot: Snapshot) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate({**snapshot.state, "version": snapshot.version})


def preferences_of(snapshot: Snapshot) -> Preferences:
    return Preferences.model_validate({**snapshot.state, "version": snapshot.version})


def reminder_of(snapshot: Snapshot) -> Reminder:
    return Reminder.model_validate({**snapshot.state, "version": snapshot.version})
