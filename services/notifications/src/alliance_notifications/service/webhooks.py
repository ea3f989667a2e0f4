"""Use cases of a partner's webhook endpoints: registration, the verification handshake,
secret rotation and disabling."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.ports import EndpointUnreachable
from alliance_shared.errors import DomainError
from alliance_shared.ids import new_id
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, create, update

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
NOT_FOUND = ("webhook.not_found", "webhook endpoint")


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def public_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint without its secrets."""
    return endpoint.model_dump(mode="json", exclude={"secret", "previous_secret", "challenge", "challenge_expires_at"})


def _audit(action: str, endpoint: WebhookEndpoint) -> AuditNote:
    return AuditNote(action, "webhook_endpoint", endpoint.endpoint_id, after=public_endpoint(endpoint))


async def register_webhook(
    notifier: Notifier, partner_id: str, url: str, actor_id: str
) -> tuple[Outcome[WebhookEndpoint], str]:
    """A new endpoint, pending verification, and its signing secret (shown only now)."""
    secret = new_secret()
    endpoint = WebhookEndpoint.register(
        endpoint_id=new_id("wh"),
        partner_id=partner_id,
        url=url,
        secret=secret,
        now=notifier.clock.now(),
        actor_id=actor_id,
    )
    outcome = await create(
        notifier.repos.endpoints, endpoint.endpoint_id, endpoint, _audit("webhook.registered", endpoint)
    )
    notifier.directory_changed()
    return outcome, secret


async def verify_webhook(notifier: Notifier, endpoint_id: str) -> Outcome[WebhookEndpoint]:
    """The handshake: POST a signed challenge; the endpoint must echo it with a 2xx. Only
    then does it receive notices. The endpoint must not change while it answers (412)."""
    loaded = await notifier.repos.endpoints.require(endpoint_id, *NOT_FOUND)
    endpoint = loaded.item
    token = endpoint.issue_challenge(secrets.token_urlsafe(24), notifier.clock.now())
    try:
        reply = await notifier.webhooks.challenge(endpoint, token, notifier.clock.now())
    except EndpointUnreachable as error:
        raise DomainError("webhook.verification_unreachable", f"the endpoint did not answer: {error}") from None
    if not 200 <= reply.status_code < 300:
        raise DomainError("webhook.verification_refused", f"the endpoint answered {reply.status_code}")
    endpoint.confirm_challenge(reply.echoed, notifier.clock.now())
    outcome = await update(
        notifier.repos.endpoints,
        endpoint_id,
        lambda _: Decision(endpoint, _audit("webhook.verified", endpoint)),
        not_found=NOT_FOUND,
        expected=loaded.version,
    )
    notifier.directory_changed()
    return outcome


async def rotate_webhook_secret(notifier: Notifier, endpoint_id: str) -> tuple[Outcome[WebhookEndpoint], str]:
    """A new signing secret; the old one keeps signing for the grace period."""
    secret = new_secret()
    grace = timedelta(seconds=notifier.settings.secret_rotation_grace_seconds)

    def decide(endpoint: WebhookEndpoint) -> Decision[WebhookEndpoint]:
        endpoint.rotate_secret(secret, notifier.clock.now(), grace)
        return Decision(endpoint, _audit("webhook.secret_rotated", endpoint))

    outcome = await update(notifier.repos.endpoints, endpoint_id, decide, not_found=NOT_FOUND)
    notifier.directory_changed()
    return outcome, secret


async def disable_webhook(notifier: Notifier, endpoint_id: str, reason: str) -> Outcome[WebhookEndpoint]:
    """No more notices to it; the worker ends its open deliveries dead."""

    def decide(endpoint: WebhookEndpoint) -> Decision[WebhookEndpoint]:
        endpoint.disable(reason, notifier.clock.now())
        return Decision(endpoint, _audit("webhook.disabled", endpoint))

    outcome = await update(notifier.repos.endpoints, endpoint_id, decide, not_found=NOT_FOUND)
    notifier.directory_changed()
    return outcome
