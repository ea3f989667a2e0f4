"""The service's typed repositories, built on any ``VersionedStore`` (MongoDB in
production, in memory in the use-case tests). Every state change is one insert into a
journal (FerretDB v1 updates are not isolated, docs/architecture.md).

Exactly-once hinges on unique ids, never on conditional updates:

* a delivery's aggregate id is its delivery id, uuid5 of (event id, recipient, channel):
  version 1 of it can be inserted once, so a redelivered event plans nothing twice;
* a reminder's id names its kind, subject, offset and scheduling event; firing it is a
  new version, which only one writer can insert;
* a digest entry's id is the delivery key it stands for, a digest's delivery key names
  the recipient and the local date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.digest import DigestEntry
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.inbox import InboxEntry
from alliance_notifications.domain.preferences import Preferences
from alliance_notifications.domain.recipients import PartnerContact, RoleGroupRoster
from alliance_notifications.domain.reminders import Reminder
from alliance_notifications.domain.rule_set import RuleSet
from alliance_notifications.service.ports import SecretCipher
from alliance_shared.contract.base import EventPayload
from alliance_shared.persistence.repository import Repository
from alliance_shared.persistence.versioned_store import VersionedStore

CONTACTS = "contacts"
ROLE_GROUPS = "role_groups"
ENDPOINTS = "webhook_endpoints"
PREFERENCES = "preferences"
DELIVERIES = "deliveries"
INBOX = "inbox"
REMINDERS = "reminders"
DIGEST_ENTRIES = "digest_entries"
ROUTING_RULES = "routing_rules"

STORE_NAMES = (
    CONTACTS,
    ROLE_GROUPS,
    ENDPOINTS,
    PREFERENCES,
    DELIVERIES,
    INBOX,
    REMINDERS,
    DIGEST_ENTRIES,
    ROUTING_RULES,
)

StoreFactory = Callable[[str], VersionedStore]

#: Fields a delivery's stored state carries besides the domain model.
PAYLOAD = "payload"
RESEND_OF = "resend_of"
DIGEST_ID = "digest_id"


class DeliveryRecord(BaseModel):
    """A delivery as stored: the domain record, the data it carries (a webhook's event
    data, a digest's entry ids) and the delivery it resends, if any."""

    delivery: Delivery
    payload: dict[str, Any] = Field(default_factory=dict)
    resend_of: str | None = None

    @property
    def events(self) -> list[EventPayload]:
        """The delivery's pending events, saved with it."""
        return self.delivery.events


class DeliveryCodec:
    """Stored flat: the delivery's fields next to ``payload`` and ``resend_of``."""

    def to_state(self, item: DeliveryRecord) -> dict[str, Any]:
        state = item.delivery.model_dump(mode="python", exclude={"version"})
        state[PAYLOAD] = dict(item.payload)
        state[RESEND_OF] = item.resend_of
        return state

    def from_state(self, state: Mapping[str, Any], version: int) -> DeliveryRecord:
        fields = {k: v for k, v in state.items() if k not in (PAYLOAD, RESEND_OF)}
        delivery = Delivery.model_validate({**fields, "version": version})
        return DeliveryRecord(delivery=delivery, payload=state.get(PAYLOAD) or {}, resend_of=state.get(RESEND_OF))


#: The endpoint fields encrypted at rest.
SECRET_FIELDS = ("secret", "previous_secret")


class EndpointCodec:
    """An endpoint as stored: its secrets encrypted by the cipher, everything else plain
    (the URL and status are queried and shown)."""

    def __init__(self, cipher: SecretCipher) -> None:
        self._cipher = cipher

    def to_state(self, item: WebhookEndpoint) -> dict[str, Any]:
        state = item.model_dump(mode="python", exclude={"version"})
        for name in SECRET_FIELDS:
            if state.get(name) is not None:
                state[name] = self._cipher.encrypt(state[name])
        return state

    def from_state(self, state: Mapping[str, Any], version: int) -> WebhookEndpoint:
        fields = {**state, "version": version}
        for name in SECRET_FIELDS:
            if fields.get(name) is not None:
                fields[name] = self._cipher.decrypt(fields[name])
        return WebhookEndpoint.model_validate(fields)


class CollectedEntry(BaseModel):
    """A digest entry waiting for its digest (``digest_id`` None) or settled by one."""

    entry: DigestEntry
    digest_id: str | None = None


class CollectedEntryCodec:
    """Stored flat: the entry's fields next to ``digest_id`` (the worker's query)."""

    def to_state(self, item: CollectedEntry) -> dict[str, Any]:
        return {**item.entry.model_dump(mode="python"), DIGEST_ID: item.digest_id}

    def from_state(self, state: Mapping[str, Any], version: int) -> CollectedEntry:
        entry = DigestEntry.model_validate({k: v for k, v in state.items() if k != DIGEST_ID})
        return CollectedEntry(entry=entry, digest_id=state.get(DIGEST_ID))


@dataclass(frozen=True)
class Repositories:
    contacts: Repository[PartnerContact]
    groups: Repository[RoleGroupRoster]
    endpoints: Repository[WebhookEndpoint]
    preferences: Repository[Preferences]
    deliveries: Repository[DeliveryRecord]
    inbox: Repository[InboxEntry]
    reminders: Repository[Reminder]
    digest_entries: Repository[CollectedEntry]
    rule_sets: Repository[RuleSet]

    @classmethod
    def on(cls, store: StoreFactory, cipher: SecretCipher) -> Repositories:
        """The repositories on the stores ``store(name)`` gives (``runtime.store`` or a twin);
        ``cipher`` encrypts webhook secrets at rest."""
        return cls(
            contacts=Repository(store(CONTACTS), PartnerContact, version_field=None),
            groups=Repository(store(ROLE_GROUPS), RoleGroupRoster, version_field=None),
            endpoints=Repository(store(ENDPOINTS), codec=EndpointCodec(cipher)),
            preferences=Repository(store(PREFERENCES), Preferences),
            deliveries=Repository(store(DELIVERIES), codec=DeliveryCodec()),
            inbox=Repository(store(INBOX), InboxEntry, version_field=None),
            reminders=Repository(store(REMINDERS), Reminder),
            digest_entries=Repository(store(DIGEST_ENTRIES), codec=CollectedEntryCodec()),
            rule_sets=Repository(store(ROUTING_RULES), RuleSet, version_field=None, mode="json"),
        )
