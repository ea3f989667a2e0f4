"""A partner's webhook endpoints: registration, the verification handshake, secret rotation.

Lifecycle::

    pending_verification ──verify (challenge echoed)──▶ verified ──disable──▶ disabled
            └────────────────────────disable─────────────────────────────────┘

Only verified endpoints receive notices. Verification proves the partner controls the
URL: the platform POSTs ``{"type": "verification", "challenge": <token>}`` (signed like
every webhook) and the endpoint must answer with the same token within the challenge's
lifetime. A rotated secret keeps the previous one valid for a grace period; meanwhile
every request carries both signatures, so a receiver can switch at its own pace.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.domain.egress import EgressPolicy
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.errors import DomainError, InvalidTransition

CHALLENGE_LIFETIME = timedelta(minutes=15)
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
MIN_SECRET_LENGTH = 32


class EndpointStatus(StrEnum):
    PENDING_VERIFICATION = "pending_verification"
    VERIFIED = "verified"
    DISABLED = "disabled"


def webhook_recipient_id(endpoint_id: str) -> str:
    return f"webhook:{endpoint_id}"


def check_webhook_url(url: str, policy: EgressPolicy) -> str:
    """The URL if its form may receive webhooks (see ``domain/egress.py``)."""
    return policy.check_url(url)


def _check_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH:
        raise DomainError("webhook.secret_too_short", f"a signing secret needs at least {MIN_SECRET_LENGTH} characters")


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    endpoint_id: str = Field(min_length=1, max_length=100)
    partner_id: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=2000)
    secret: str
    previous_secret: str | None = None
    previous_secret_valid_until: UtcDateTime | None = None
    status: EndpointStatus = EndpointStatus.PENDING_VERIFICATION
    challenge: str | None = None
    challenge_expires_at: UtcDateTime | None = None
    verified_at: UtcDateTime | None = None
    disabled_reason: str | None = None
    created_at: UtcDateTime
    created_by: str
    updated_at: UtcDateTime
    version: int = 0

    @classmethod
    def register(
        cls,
        *,
        endpoint_id: str,
        partner_id: str,
        url: str,
        secret: str,
        now: datetime,
        actor_id: str,
        policy: EgressPolicy,
    ) -> WebhookEndpoint:
        _check_secret(secret)
        return cls(
            endpoint_id=endpoint_id,
            partner_id=partner_id,
            url=check_webhook_url(url, policy),
            secret=secret,
            created_at=now,
            created_by=actor_id,
            updated_at=now,
        )

    @property
    def recipient_id(self) -> str:
        return webhook_recipient_id(self.endpoint_id)

    @property
    def receives_notices(self) -> bool:
        return self.status is EndpointStatus.VERIFIED

    def issue_challenge(self, token: str, now: datetime) -> str:
        """Start (or restart) the handshake with a fresh random ``token``; returns it to send."""
        if self.status is EndpointStatus.DISABLED:
            raise InvalidTransition("webhook_endpoint", self.status, "verify")
        if len(token) < 16:
            raise DomainError("webhook.challenge_too_short", "a challenge needs at least 16 random characters")
        self.challenge = token
        self.challenge_expires_at = now + CHALLENGE_LIFETIME
        self.updated_at = now
        return token

    def confirm_challenge(self, echoed: str, now: datetime) -> None:
        """The endpoint's answer: it must echo the outstanding challenge before it expires."""
        if self.status is not EndpointStatus.PENDING_VERIFICATION:
            raise InvalidTransition("webhook_endpoint", self.status, "verify")
        if self.challenge is None or self.challenge_expires_at is None:
            raise DomainError("webhook.no_challenge", "no verification challenge was sent to this endpoint")
        if now > self.challenge_expires_at:
            raise DomainError("webhook.challenge_expired", "the verification challenge expired; request a new one")
        if not hmac.compare_digest(echoed.encode(), self.challenge.encode()):
            raise DomainError("webhook.challenge_mismatch", "the endpoint did not echo the challenge")
        self.status = EndpointStatus.VERIFIED
        self.challenge = None
        self.challenge_expires_at = None
        self.verified_at = now
        self.updated_at = now

    def disable(self, reason: str, now: datetime) -> None:
        if self.status is EndpointStatus.DISABLED:
            raise InvalidTransition("webhook_endpoint", self.status, "disable")
        self.status = EndpointStatus.DISABLED
        self.disabled_reason = reason
        self.challenge = None
        self.challenge_expires_at = None
        self.updated_at = now

    def rotate_secret(self, new_secret: str, now: datetime, grace: timedelta = DEFAULT_ROTATION_GRACE) -> None:
        """Switch to ``new_secret``; the old one stays valid (and is signed with) until ``now + grace``."""
        if self.status is EndpointStatus.DISABLED:
            raise InvalidTransition("webhook_endpoint", self.status, "rotate the secret of")
        _check_secret(new_secret)
        if hmac.compare_digest(new_secret.encode(), self.secret.encode()):
            raise DomainError("webhook.secret_reused", "the new secret must differ from the current one")
        self.previous_secret = self.secret
        self.previous_secret_valid_until = now + grace
        self.secret = new_secret
        self.updated_at = now

    def drop_expired_secret(self, now: datetime) -> bool:
        """Forget the previous secret once its grace period is over; True if it was dropped."""
        if self.previous_secret is None or (
            self.previous_secret_valid_until is not None and now < self.previous_secret_valid_until
        ):
            return False
        self.previous_secret = None
        self.previous_secret_valid_until = None
        self.updated_at = now
        return True

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """Secrets to sign a request with: the current one first, then the previous during its grace."""
        if (
            self.previous_secret is not None
            and self.previous_secret_valid_until is not None
            and now < self.previous_secret_valid_until
        ):
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> WebhookEndpoint:
        return cls.model_validate(dict(document))
