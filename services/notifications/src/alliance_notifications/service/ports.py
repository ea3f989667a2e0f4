"""What the use cases need from the outside, as ports: the due list of deliveries (a
MongoDB collection in production), the two outside channels (SMTP, webhooks), the resolver
that names a webhook host's addresses and the cipher of webhook secrets at rest.

The adapters implement them; the use-case tests use in-memory twins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.endpoints import WebhookEndpoint


class DueList(Protocol):
    """Not versioned: a hint list of open deliveries and when each is due, so the worker
    reads a few small documents instead of the whole log. The journal stays the truth:
    the worker re-checks each delivery it loads and drops stale hints, and the list is
    rebuilt from the log at start (a crash between a journal insert and its hint loses
    nothing)."""

    async def sync(self, delivery: Delivery) -> None:
        """Hold a hint for an open delivery with a next attempt; drop it otherwise."""

    async def due_ids(self, now: datetime, limit: int = 1000) -> list[str]:
        """Ids of deliveries whose hint is due at ``now``."""


@dataclass(frozen=True)
class SendOutcome:
    """What a channel answered: delivered, or failed with a machine-readable code, a
    detail for people and whether trying again can help."""

    delivered: bool
    error_code: str = ""
    error_detail: str = ""
    retryable: bool = True

    @classmethod
    def ok(cls) -> SendOutcome:
        return cls(True)

    @classmethod
    def failed(cls, code: str, detail: str, *, retryable: bool) -> SendOutcome:
        return cls(False, code, detail[:2000], retryable)


@dataclass(frozen=True)
class ChallengeReply:
    """An endpoint's answer to the verification challenge: its status and what it echoed."""

    status_code: int
    echoed: str


class EndpointUnreachable(Exception):
    """The endpoint did not answer the challenge (connection refused, timeout...)."""


class EmailChannel(Protocol):
    async def send(self, delivery: Delivery) -> SendOutcome: ...

    async def close(self) -> None: ...


class WebhookChannel(Protocol):
    async def send(
        self, delivery: Delivery, endpoint: WebhookEndpoint, payload: Mapping[str, Any], now: datetime
    ) -> SendOutcome: ...

    async def challenge(self, endpoint: WebhookEndpoint, token: str, now: datetime) -> ChallengeReply:
        """POST the signed challenge; EndpointUnreachable if no answer came."""

    async def close(self) -> None: ...


class Resolver(Protocol):
    async def addresses(self, host: str) -> list[str]:
        """Every address ``host`` resolves to (empty if it does not resolve)."""


class SecretCipher(Protocol):
    """Encrypts webhook secrets at rest with a key from the environment."""

    def encrypt(self, plain: str) -> str: ...

    def decrypt(self, stored: str) -> str: ...
