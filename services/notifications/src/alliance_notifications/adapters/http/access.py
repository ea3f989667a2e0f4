"""Object-level access checks, as named dependencies (the role checks are in ``deps``).

* the **inbox** belongs to the caller: a college or enterprise user reads its partner's
  inbox (``partner:<partner id>``), anybody else their own (``member:<token subject>``);
* **preferences** of ``partner:<id>`` are managed by that partner's users, those of
  ``member:<id>`` by that member;
* a partner manages only its own **webhook endpoints**; ``ops`` and ``auditor`` may read
  any (never the secrets) and ``ops`` may disable any; another partner's endpoint is not found.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from alliance_notifications.adapters.http.deps import (
    AUDITOR,
    OPS,
    EndpointDisabler,
    EndpointReader,
    NotifierDep,
    PartnerUser,
)
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.recipients import member_recipient_id, partner_recipient_id
from alliance_notifications.service import queries
from alliance_shared.auth.dependencies import CurrentPrincipal, forbid_unless
from alliance_shared.auth.principal import PARTNER_BOUND_ROLES, Principal
from alliance_shared.errors import NotFound


def own_recipient_id(principal: CurrentPrincipal) -> str:
    """The caller's own inbox: their partner's when partner-bound, their own otherwise."""
    if principal.partner_id and principal.roles & PARTNER_BOUND_ROLES:
        return partner_recipient_id(principal.partner_id)
    return member_recipient_id(principal.subject)


def managed_recipient_id(recipient_id: str, principal: CurrentPrincipal) -> str:
    """``recipient_id`` if the caller may manage its preferences."""
    kind, _, subject = recipient_id.partition(":")
    allowed = (kind == "partner" and principal.is_partner(subject)) or (
        kind == "member" and principal.subject == subject and not principal.roles & PARTNER_BOUND_ROLES
    )
    forbid_unless(allowed, f"you may manage only your own preferences, not {recipient_id}'s")
    return recipient_id


def webhook_manager(partner_id: str, principal: PartnerUser) -> Principal:
    """A user of the partner itself: registers, verifies, rotates, disables."""
    forbid_unless(principal.is_partner(partner_id), f"you may manage only your own webhooks, not {partner_id}'s")
    return principal


def webhook_disabler(partner_id: str, principal: EndpointDisabler) -> Principal:
    """The partner's users, and ``ops`` (to stop an endpoint that misbehaves)."""
    if not principal.has_any(OPS):
        forbid_unless(principal.is_partner(partner_id), f"you may manage only your own webhooks, not {partner_id}'s")
    return principal


def webhook_reader(partner_id: str, principal: EndpointReader) -> Principal:
    """The partner's users, ``ops`` and ``auditor``."""
    if not principal.has_any(OPS, AUDITOR):
        forbid_unless(principal.is_partner(partner_id), f"you may manage only your own webhooks, not {partner_id}'s")
    return principal


async def partners_endpoint(partner_id: str, endpoint_id: str, notifier: NotifierDep) -> WebhookEndpoint:
    """The endpoint, if it is the partner's (another partner's is not found)."""
    endpoint = await queries.webhook(notifier, endpoint_id)
    if endpoint.partner_id != partner_id:
        raise NotFound("webhook.not_found", f"no webhook endpoint {endpoint_id} of {partner_id}")
    return endpoint


OwnRecipient = Annotated[str, Depends(own_recipient_id)]
ManagedRecipient = Annotated[str, Depends(managed_recipient_id)]
WebhookManager = Annotated[Principal, Depends(webhook_manager)]
WebhookDisabler = Annotated[Principal, Depends(webhook_disabler)]
WebhookReader = Annotated[Principal, Depends(webhook_reader)]
PartnersEndpoint = Annotated[WebhookEndpoint, Depends(partners_endpoint)]
