"""In-memory twins of the notifications service's ports, for the fast use-case tests.

``InMemoryDueList`` passes the same contract test as ``MongoDueList`` on the real server
(tests/integration/notifications/test_notifications_due_list.py); the channels record what
they were given and answer what the test told them to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alliance_notifications.adapters.secret_cipher import FernetCipher
from alliance_notifications.domain.delivery import OPEN_STATES, Delivery
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.ports import ChallengeReply, EndpointUnreachable, SendOutcome
from alliance_notifications.service.repositories import STORE_NAMES, Repositories
from alliance_notifications.settings import Settings
from alliance_shared.testing import InMemoryVersionedStore, ManualClock


class InMemoryDueList:
    def __init__(self) -> None:
        self.hints: dict[str, datetime] = {}

    async def sync(self, delivery: Delivery) -> None:
        if delivery.status in OPEN_STATES and delivery.next_attempt_at is not None:
            self.hints[delivery.delivery_id] = delivery.next_attempt_at
        else:
            self.hints.pop(delivery.delivery_id, None)

    async def due_ids(self, now: datetime, limit: int = 1000) -> list[str]:
        return [delivery_id for delivery_id, at in sorted(self.hints.items()) if at <= now][:limit]


class RecordingEmail:
    def __init__(self) -> None:
        self.sent: list[Delivery] = []
        self.answer = SendOutcome.ok()

    async def send(self, delivery: Delivery) -> SendOutcome:
        self.sent.append(delivery)
        return self.answer

    async def close(self) -> None:
        return None


class RecordingWebhooks:
    """Answers notices with ``answer``; echoes a challenge unless told otherwise."""

    def __init__(self) -> None:
        self.sent: list[tuple[Delivery, Mapping[str, Any]]] = []
        self.answer = SendOutcome.ok()
        self.echo: str | None = None  # None: echo the challenge given
        self.reachable = True

    async def send(
        self, delivery: Delivery, endpoint: WebhookEndpoint, payload: Mapping[str, Any], now: datetime
    ) -> SendOutcome:
        self.sent.append((delivery, payload))
        return self.answer

    async def challenge(self, endpoint: WebhookEndpoint, token: str, now: datetime) -> ChallengeReply:
        if not self.reachable:
            raise EndpointUnreachable("ConnectError")
        return ChallengeReply(200, token if self.echo is None else self.echo)

    async def close(self) -> None:
        return None


class FixedResolver:
    """Names resolve to what the test says; anything else to one public address."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}

    async def addresses(self, host: str) -> list[str]:
        return self.answers.get(host, ["93.184.215.14"])


class Twins:
    """A notifier on in-memory stores, a manual clock and recording channels."""

    def __init__(self, start: datetime, **settings: Any) -> None:
        self.stores = {name: InMemoryVersionedStore(name, source="notifications") for name in STORE_NAMES}
        self.clock = ManualClock(start)
        self.due = InMemoryDueList()
        self.email = RecordingEmail()
        self.webhooks = RecordingWebhooks()
        self.resolver = FixedResolver()
        self.settings = Settings(**{"default_quiet_hours": "", "directory_cache_seconds": 0, **settings})
        self.notifier = Notifier(
            Repositories.on(self.stores.__getitem__, FernetCipher(self.settings.secret_keys)),
            self.settings,
            clock=self.clock,
            due=self.due,
            email=self.email,
            webhooks=self.webhooks,
            resolver=self.resolver,
        )

    def events(self, store: str) -> list[str]:
        """Types of the events written to a store, in order."""
        return [event["type"] for event in self.stores[store].published_events]

    def audit_actions(self, store: str) -> list[str]:
        return [entry["audit"]["action"] for entry in self.stores[store].outbox if entry["kind"] == "audit"]
