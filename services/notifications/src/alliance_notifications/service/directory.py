"""Use cases behind the API: webhook endpoints (registration, handshake, rotation),
preferences, role groups, the inbox and resending a delivery."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from alliance_notifications.adapters.repositories import (
    PAYLOAD,
    delivery_of,
    endpoint_of,
    model_state,
    preferences_of,
)
from alliance_notifications.domain.delivery import Delivery, DeliveryStatus
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.quiet_hours import QuietHours
from alliance_notifications.domain.recipients import GroupMember, RoleGroup
from alliance_notifications.domain.routing import delivery_id_of
from alliance_notifications.service.notifier import Notifier
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import Conflict, DomainError, NotFound
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import Change, apply_change

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- webhook endpoints --------------------------------------------------------------------


async def register_endpoint(
    notifier: Notifier, partner_id: str, url: str, actor_id: str
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint, pending verification, and its signing secret (shown only now)."""
    secret = new_secret()
    endpoint = WebhookEndpoint.register(
        endpoint_id=f"wh-{uuid.uuid4().hex[:12]}",
        partner_id=partner_id,
        url=url,
        secret=secret,
        now=notifier.clock(),
        actor_id=actor_id,
    )
    version = await notifier.stores.endpoints.create(
        endpoint.endpoint_id,
        model_state(endpoint),
        audit=AuditNote(
            "webhook.registered", "webhook_endpoint", endpoint.endpoint_id, after=public_endpoint(endpoint)
        ),
    )
    endpoint.version = version or 1
    notifier.directory_changed()
    return endpoint, secret


async def load_endpoint(notifier: Notifier, endpoint_id: str) -> WebhookEndpoint:
    snap = await notifier.stores.endpoints.load(endpoint_id)
    if snap is None:
        raise NotFound("webhook.not_found", f"no webhook endpoint {endpoint_id}")
    return endpoint_of(snap)


async def list_endpoints(notifier: Notifier, partner_id: str) -> list[WebhookEndpoint]:
    return [endpoint_of(s) for s in await notifier.stores.endpoints.find({"partner_id": partner_id})]


def public_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint without its secrets."""
    return endpoint.model_dump(mode="json", exclude={"secret", "previous_secret", "challenge", "challenge_expires_at"})


async def verify_endpoint(notifier: Notifier, endpoint_id: str) -> WebhookEndpoint:
    """The handshake: POST a signed challenge; the endpoint must echo it (JSON ``{"challenge": ...}``
    or the bare token) with a 2xx. Only then does it receive notices."""
    endpoint = await load_endpoint(notifier, endpoint_id)
    now = notifier.clock()
    token = endpoint.issue_challenge(secrets.token_urlsafe(24), now)
    body = json.dumps(
        {"type": "verification", "challenge": token, "endpoint_id": endpoint.endpoint_id}, separators=(",", ":")
    ).encode()
    try:
        response = await notifier.webhooks.post(
            endpoint.url,
            body,
            secrets=endpoint.signing_secrets(now),
            delivery_id=f"verification-{uuid.uuid4()}",
            event_type="org.coopalliance.notifications.webhook.verification.v1",
            now=now,
        )
    except httpx.HTTPError as error:
        raise DomainError(
            "webhook.verification_unreachable", f"the endpoint did not answer: {type(error).__name__}"
        ) from None
    if not 200 <= response.status_code < 300:
        raise DomainError("webhook.verification_refused", f"the endpoint answered {response.status_code}")
    echoed = response.text.strip()
    try:
        document = response.json()
        if isinstance(document, dict) and isinstance(document.get("challenge"), str):
            echoed = document["challenge"]
    except ValueError:
        pass
    endpoint.confirm_challenge(echoed, notifier.clock())
    return await _save_endpoint(notifier, endpoint, "webhook.verified")


async def rotate_secret(notifier: Notifier, endpoint_id: str) -> tuple[WebhookEndpoint, str]:
    endpoint = await load_endpoint(notifier, endpoint_id)
    secret = new_secret()
    endpoint.rotate_secret(secret, notifier.clock(), timedelta(seconds=notifier.settings.secret_rotation_grace_seconds))
    return await _save_endpoint(notifier, endpoint, "webhook.secret_rotated"), secret


async def disable_endpoint(notifier: Notifier, endpoint_id: str, reason: str) -> WebhookEndpoint:
    endpoint = await load_endpoint(notifier, endpoint_id)
    endpoint.disable(reason, notifier.clock())
    return await _save_endpoint(notifier, endpoint, "webhook.disabled")


async def _save_endpoint(notifier: Notifier, endpoint: WebhookEndpoint, action: str) -> WebhookEndpoint:
    version = await notifier.stores.endpoints.save(
        endpoint.endpoint_id,
        endpoint.version,
        model_state(endpoint),
        audit=AuditNote(action, "webhook_endpoint", endpoint.endpoint_id, after=public_endpoint(endpoint)),
    )
    endpoint.version = version or endpoint.version
    notifier.directory_changed()
    return endpoint


# --- preferences --------------------------------------------------------------------------


async def get_preferences(notifier: Notifier, recipient_id: str) -> Preferences:
    snap = await notifier.stores.preferences.load(recipient_id)
    return preferences_of(snap) if snap is not None else notifier.settings.default_preferences(recipient_id)


async def put_preferences(
    notifier: Notifier,
    recipient_id: str,
    expected_version: int,
    muted: dict[Category, list[Channel]],
    quiet_hours: QuietHours | None,
    actor_id: str,
) -> Preferences:
    """Replace a recipient's choices; muting a regulatory category is refused (422)."""
    now = notifier.clock()
    prefs = Preferences.defaults(recipient_id)
    for category, channels in muted.items():
        for channel in channels:
            prefs.set_channel(category, channel, False, now, actor_id)
    prefs.set_quiet_hours(quiet_hours, now, actor_id)
    version = await notifier.stores.preferences.save(
        recipient_id,
        expected_version,
        model_state(prefs),
        audit=AuditNote("preferences.replaced", "preferences", recipient_id, after=model_state(prefs)),
    )
    prefs.version = version or expected_version
    return prefs


# --- role groups --------------------------------------------------------------------------


async def get_group(notifier: Notifier, group: RoleGroup) -> tuple[list[GroupMember], int]:
    snap = await notifier.stores.groups.load(group.value)
    if snap is None:
        return [], 0
    return [GroupMember.model_validate(m) for m in snap.state.get("members", [])], snap.version


async def put_group(notifier: Notifier, group: RoleGroup, expected_version: int, members: Sequence[GroupMember]) -> int:
    unique = list({m.member_id: m for m in members}.values())
    state = {"group": group.value, "members": [m.model_dump(mode="python") for m in unique]}
    version = await notifier.stores.groups.save(
        group.value,
        expected_version,
        state,
        audit=AuditNote("role_group.replaced", "role_group", group.value, after=state),
    )
    notifier.directory_changed()
    return version or expected_version


# --- inbox --------------------------------------------------------------------------------


async def inbox_entry(notifier: Notifier, recipient_id: str, inbox_id: str) -> Snapshot:
    snap = await notifier.stores.inbox.load(inbox_id)
    if snap is None or snap.state.get("recipient_id") != recipient_id:
        raise NotFound("inbox.not_found", f"no inbox entry {inbox_id} for you")
    return snap


async def mark_read(notifier: Notifier, recipient_id: str, inbox_id: str) -> dict[str, Any]:
    await inbox_entry(notifier, recipient_id, inbox_id)
    now = notifier.clock()

    def decide(current: Snapshot | None) -> Change | None:
        if current is None or current.state.get("read_at") is not None:
            return None
        return Change({**current.state, "read_at": now})

    await apply_change(notifier.stores.inbox, inbox_id, decide)
    return (await inbox_entry(notifier, recipient_id, inbox_id)).state


async def mark_all_read(notifier: Notifier, recipient_id: str) -> int:
    marked = 0
    for snap in await notifier.stores.inbox.find({"recipient_id": recipient_id, "read_at": None}):
        await mark_read(notifier, recipient_id, snap.aggregate_id)
        marked += 1
    return marked


async def unread_count(notifier: Notifier, recipient_id: str) -> int:
    return await notifier.stores.inbox.current.count_documents({"recipient_id": recipient_id, "read_at": None})


async def inbox_page(
    notifier: Notifier, recipient_id: str, *, unread_only: bool, before: datetime | None, limit: int
) -> list[Snapshot]:
    query: dict[str, Any] = {"recipient_id": recipient_id}
    if unread_only:
        query["read_at"] = None
    if before is not None:
        query["created_at"] = {"$lt": before}
    return await notifier.stores.inbox.find(query, sort=[("created_at", -1), ("_id", -1)], limit=limit)


async def inbox_since(notifier: Notifier, recipient_id: str, since: datetime) -> list[Snapshot]:
    return await notifier.stores.inbox.find(
        {"recipient_id": recipient_id, "created_at": {"$gte": since}}, sort=[("created_at", 1), ("_id", 1)]
    )


# --- the delivery log ---------------------------------------------------------------------


async def load_delivery(notifier: Notifier, delivery_id: str) -> tuple[Delivery, Snapshot]:
    snap = await notifier.stores.deliveries.load(delivery_id)
    if snap is None:
        raise NotFound("delivery.not_found", f"no delivery {delivery_id}")
    return delivery_of(snap), snap


async def resend(notifier: Notifier, delivery_id: str, operation_id: str, actor_id: str) -> Delivery:
    """A new delivery of the same notice to the same address, attempted at once. E-mail and
    webhooks only (an inbox entry stays in the inbox); a delivery still open is refused."""
    original, snap = await load_delivery(notifier, delivery_id)
    if original.channel is Channel.INBOX:
        raise DomainError("delivery.resend_inbox", "inbox entries are not resent; they stay in the inbox")
    if original.status not in (DeliveryStatus.SENT, DeliveryStatus.DEAD):
        raise Conflict("delivery.not_final", f"delivery {delivery_id} is {original.status.value}; resend a final one")
    if original.channel is Channel.EMAIL and original.rendered is None:
        raise DomainError("delivery.not_rendered", "the notice could not be rendered; fix the template first")
    now = notifier.clock()
    key = f"{original.delivery_key}|resend:{operation_id}"
    copy = Delivery.model_validate(
        {
            **original.model_dump(mode="python", exclude={"events"}),
            "delivery_id": delivery_id_of(key),
            "delivery_key": key,
            "status": DeliveryStatus.PENDING,
            "next_attempt_at": now,
            "attempts": [],
            "final_error_code": None,
            "final_error_detail": None,
            "created_at": now,
            "updated_at": now,
            "version": 0,
        }
    )
    await notifier.create_delivery(
        copy,
        snap.state.get(PAYLOAD) or {},
        resend_of=delivery_id,
        audit=AuditNote("delivery.resent", "delivery", copy.delivery_id, before={"resend_of": delivery_id},
                        after={"actor_id": actor_id}),
    )  # fmt: skip
    return copy
