"""Use cases of a partner's webhook endpoints: registration, the verification handshake,
secret rotation and disabling."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from alliance_notifications.domain.endpoints import EndpointStatus, WebhookEndpoint
from alliance_notifications.service import queries
from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.ports import EndpointUnreachable
from alliance_shared.errors import Conflict, DomainError, InvalidTransition
from alliance_shared.ids import new_id
from alliance_shared.logging import get_logger
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, create, update

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
NOT_FOUND = ("webhook.not_found", "webhook endpoint")

log = get_logger(__name__)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def public_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint without its secrets."""
    return endpoint.model_dump(mode="json", exclude={"secret", "previous_secret", "challenge", "challenge_expires_at"})


def _audit(action: str, endpoint: WebhookEndpoint) -> AuditNote:
    return AuditNote(action, "webhook_endpoint", endpoint.endpoint_id, after=public_endpoint(endpoint))


async def check_target(notifier: Notifier, url: str) -> str:
    """The URL if webhooks may go there: its form, then every address its host resolves to
    (an allow-listed host skips the address check). The sender checks again at connect time."""
    notifier.egress.check_url(url)
    host = urlsplit(url).hostname or ""
    if not notifier.egress.is_allow_listed(host):
        notifier.egress.check_addresses(await notifier.resolver.addresses(host))
    return url


async def register_webhook(
    notifier: Notifier, partner_id: str, url: str, actor_id: str
) -> tuple[Outcome[WebhookEndpoint], str]:
    """A new endpoint, pending verification, and its signing secret (shown only now).

    A partner has at most ``webhook_max_endpoints_per_partner`` endpoints not disabled
    (two registrations racing for the last place may both get in: a bound, not a count)."""
    cap = notifier.settings.webhook_max_endpoints_per_partner
    active = [e for e in await queries.webhooks_of(notifier, partner_id) if e.status is not EndpointStatus.DISABLED]
    if len(active) >= cap:
        raise Conflict("webhook.too_many_endpoints", f"a partner may have at most {cap} webhook endpoints")
    await check_target(notifier, url)
    secret = new_secret()
    endpoint = WebhookEndpoint.register(
        endpoint_id=new_id("wh"),
        partner_id=partner_id,
        url=url,
        secret=secret,
        now=notifier.clock.now(),
        actor_id=actor_id,
        policy=notifier.egress,
    )
    outcome = await create(
        notifier.repos.endpoints, endpoint.endpoint_id, endpoint, _audit("webhook.registered", endpoint)
    )
    notifier.directory_changed()
    return outcome, secret


VERIFICATION_FAILED = (
    "webhook.verification_failed",
    "the endpoint did not complete the handshake: it must answer 2xx echoing the challenge",
)


async def verify_webhook(notifier: Notifier, endpoint_id: str) -> Outcome[WebhookEndpoint]:
    """The handshake: POST a signed challenge; the endpoint must echo it with a 2xx. Only
    then does it receive notices. The endpoint must not change while it answers (412).

    At most ``verify_rate_limit`` handshakes per partner per window. Every failure is the
    same generic answer — the target's status, error or timing class is logged for ops but
    never told to the caller, so the handshake cannot probe what answers where."""
    loaded = await notifier.repos.endpoints.require(endpoint_id, *NOT_FOUND)
    endpoint = loaded.item
    notifier.verify_limit.take(endpoint.partner_id, notifier.clock.now(), "webhook.verify_rate_limited")
    token = endpoint.issue_challenge(secrets.token_urlsafe(24), notifier.clock.now())
    try:
        await check_target(notifier, endpoint.url)
        reply = await notifier.webhooks.challenge(endpoint, token, notifier.clock.now())
        if not 200 <= reply.status_code < 300:
            raise DomainError("webhook.verification_refused", f"answered {reply.status_code}")
        endpoint.confirm_challenge(reply.echoed, notifier.clock.now())
    except InvalidTransition:
        raise  # about the endpoint's own state (already verified), not the target
    except (EndpointUnreachable, DomainError) as error:
        reason = error.code if isinstance(error, DomainError) else f"unreachable: {error}"
        log.info("webhook verification failed", endpoint_id=endpoint_id, reason=reason)
        raise DomainError(*VERIFICATION_FAILED) from None
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


async def drop_expired_secrets(notifier: Notifier) -> int:
    """Forget every previous secret whose grace period is over; returns how many.

    Older versions in the endpoint's journal keep that secret, encrypted: rotating the
    encryption key (docs/notifications.md) makes those unreadable too."""
    now = notifier.clock.now()

    def decide(endpoint: WebhookEndpoint) -> Decision[WebhookEndpoint] | None:
        # An automatic step: in the endpoint's journal, not in the audit trail of decisions.
        return Decision(endpoint, None) if endpoint.drop_expired_secret(notifier.clock.now()) else None

    dropped = 0
    # In no order: a sort by `_id` would keep its index from serving the range.
    for found in await notifier.repos.endpoints.find({"previous_secret": {"$ne": None}}, sort=()):
        if found.item.drop_expired_secret(now):
            outcome = await update(notifier.repos.endpoints, found.item.endpoint_id, decide, not_found=NOT_FOUND)
            dropped += outcome.written
    if dropped:
        notifier.directory_changed()
    return dropped
