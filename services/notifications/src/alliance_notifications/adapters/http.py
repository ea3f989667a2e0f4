"""HTTP API of the notifications service: inbox (with a live SSE stream), preferences,
webhook endpoints, role groups and the delivery log.

Who may do what:

* the **inbox** belongs to the caller: a college or enterprise user reads its partner's
  inbox (``partner:<partner id>``), anybody else their own (``member:<token subject>``);
* **preferences** of ``partner:<id>`` are managed by that partner's users, those of
  ``member:<id>`` by that member; regulatory notices cannot be muted (422);
* a partner (``college``/``enterprise``) registers, verifies, rotates and disables only
  its own **webhook endpoints**; ``ops`` and ``auditor`` may read them (never the secrets);
* **role groups** are read by ``registry_admin``, ``ops``, ``auditor``, replaced by
  ``registry_admin`` and ``ops``;
* the **delivery log** is read by ``ops`` and ``auditor``; ``ops`` resends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from alliance_notifications.adapters.repositories import PAYLOAD, RESEND_OF
from alliance_notifications.domain.delivery import Attempt, DeliveryStatus
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.quiet_hours import QuietHours
from alliance_notifications.domain.recipients import GroupMember, RoleGroup, member_recipient_id, partner_recipient_id
from alliance_notifications.service import directory as cases
from alliance_notifications.service.notifier import Notifier
from alliance_shared.auth.dependencies import CurrentPrincipal, forbid_unless, require_roles
from alliance_shared.auth.principal import PARTNER_BOUND_ROLES, Principal
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.notifications import Channel
from alliance_shared.contract.vocabulary import Role
from alliance_shared.errors import NotFound
from alliance_shared.persistence.pagination import MAX_PAGE_SIZE, paginate
from alliance_shared.persistence.versioned_store import Snapshot
from alliance_shared.web.conditional import expected_version, set_etag

OPS, AUDITOR, ADMIN = Role.OPS, Role.AUDITOR, Role.REGISTRY_ADMIN
COLLEGE, ENTERPRISE = Role.COLLEGE, Role.ENTERPRISE

PartnerUser = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE))]
EndpointReader = Annotated[Principal, Depends(require_roles(COLLEGE, ENTERPRISE, OPS, AUDITOR))]
GroupReader = Annotated[Principal, Depends(require_roles(ADMIN, OPS, AUDITOR))]
GroupWriter = Annotated[Principal, Depends(require_roles(ADMIN, OPS))]
LogReader = Annotated[Principal, Depends(require_roles(OPS, AUDITOR))]
Operator = Annotated[Principal, Depends(require_roles(OPS))]
Id = Annotated[str, Field(min_length=1, max_length=200)]


def own_recipient_id(principal: Principal) -> str:
    """The caller's own inbox: their partner's when partner-bound, their own otherwise."""
    if principal.partner_id and principal.roles & PARTNER_BOUND_ROLES:
        return partner_recipient_id(principal.partner_id)
    return member_recipient_id(principal.subject)


# --- models -------------------------------------------------------------------------------


class InboxEntryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "inbox_id": "5f0c1a52-8c1e-5d55-9a53-6c1c1f0f4b2e",
                    "recipient_id": "partner:col-001",
                    "event_id": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10",
                    "event_type": "org.coopalliance.funding.tranche.paid.v1",
                    "category": "operational",
                    "subject": "资助资金已拨付（awd-2026-0007 第 2 期）",
                    "body": "王老师，您好：\n...",
                    "locale": "zh-CN",
                    "created_at": "2026-05-06T02:00:01Z",
                    "read_at": None,
                }
            ]
        }
    )

    inbox_id: str
    recipient_id: str
    event_id: str
    event_type: str
    category: Category
    subject: str | None
    body: str | None
    locale: str
    created_at: UtcDateTime
    read_at: UtcDateTime | None = None

    @classmethod
    def of(cls, snap: Snapshot) -> InboxEntryOut:
        return cls.model_validate(snap.state)


class InboxPage(BaseModel):
    items: list[InboxEntryOut]
    next_before: UtcDateTime | None = Field(description="pass as ?before= for the next (older) page")


class UnreadCount(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"recipient_id": "member:officer-zhang", "unread": 3}]})

    recipient_id: str
    unread: int


class MarkedRead(BaseModel):
    marked: int


class PreferencesIn(BaseModel):
    """The complete choices: anything not muted is on; ``quiet_hours`` null switches them off."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"muted": {"operational": ["email"], "digest_only": ["email"]},
                 "quiet_hours": {"start": "22:00", "end": "07:00"}}
            ]
        },
    )  # fmt: skip

    muted: dict[Category, list[Channel]] = Field(default_factory=dict)
    quiet_hours: QuietHours | None = None


class PreferencesOut(BaseModel):
    recipient_id: str
    muted: dict[Category, list[Channel]]
    quiet_hours: QuietHours | None
    updated_at: UtcDateTime | None
    updated_by: str | None
    version: int

    @classmethod
    def of(cls, prefs: Preferences) -> PreferencesOut:
        return cls.model_validate(prefs.model_dump())


class EndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"url": "https://erp.szpu.edu.cn/hooks/alliance"}]}
    )

    url: str = Field(min_length=1, max_length=2000)


class EndpointOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "endpoint_id": "wh-3f9a1c2b7d4e",
                    "partner_id": "col-001",
                    "url": "https://erp.szpu.edu.cn/hooks/alliance",
                    "status": "verified",
                    "verified_at": "2026-05-06T02:00:00Z",
                    "previous_secret_valid_until": None,
                    "disabled_reason": None,
                    "created_at": "2026-05-06T01:58:00Z",
                    "created_by": "it-admin",
                    "updated_at": "2026-05-06T02:00:00Z",
                    "version": 2,
                }
            ]
        }
    )

    endpoint_id: str
    partner_id: str
    url: str
    status: str
    verified_at: UtcDateTime | None
    previous_secret_valid_until: UtcDateTime | None
    disabled_reason: str | None
    created_at: UtcDateTime
    created_by: str
    updated_at: UtcDateTime
    version: int

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointOut:
        return cls.model_validate(cases.public_endpoint(endpoint))


class EndpointWithSecret(EndpointOut):
    """Returned once, at registration and rotation: keep ``secret`` to verify signatures."""

    secret: str


class DisableIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "system retired"}]})

    reason: str = Field(min_length=1, max_length=500)


class GroupIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"members": [{"member_id": "officer-zhang", "name": "张科长", "email": "zhang@czj.gov.cn"}]}]
        },
    )

    members: list[GroupMember] = Field(max_length=500)


class GroupOut(BaseModel):
    group: RoleGroup
    members: list[GroupMember]
    version: int


class DeliveryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "delivery_id": "5f0c1a52-8c1e-5d55-9a53-6c1c1f0f4b2e",
                    "delivery_key": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10|webhook:wh-col-001|webhook",
                    "event_id": "3b8f3c0e-2f4e-4c55-9d39-1f0f8d7c2a10",
                    "event_type": "org.coopalliance.evaluation.rectification.ordered.v1",
                    "channel": "webhook",
                    "recipient_id": "webhook:wh-col-001",
                    "partner_id": "col-001",
                    "status": "sent",
                    "attempts": [
                        {"number": 1, "at": "2026-05-06T02:00:01Z", "succeeded": False,
                         "error_code": "webhook.http_503", "error_detail": "endpoint answered 503"},
                        {"number": 2, "at": "2026-05-06T02:00:40Z", "succeeded": True},
                    ],
                }
            ]
        }
    )  # fmt: skip

    delivery_id: str
    delivery_key: str
    event_id: str
    event_type: str
    channel: Channel
    recipient_id: str
    audience_id: str
    partner_id: str | None
    endpoint_id: str | None
    address: str | None
    category: Category
    template: str
    locale: str
    subject: str | None
    status: DeliveryStatus
    next_attempt_at: UtcDateTime | None
    attempts: list[Attempt]
    final_error_code: str | None
    final_error_detail: str | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    resend_of: str | None = None
    version: int

    @classmethod
    def of(cls, snap: Snapshot) -> DeliveryOut:
        state = {k: v for k, v in snap.state.items() if k != PAYLOAD}
        return cls.model_validate({**state, RESEND_OF: snap.state.get(RESEND_OF), "version": snap.version})


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


# --- router -------------------------------------------------------------------------------


def build_router(notifier: Notifier) -> APIRouter:
    router = APIRouter()
    settings = notifier.settings

    # inbox --------------------------------------------------------------------------------

    @router.get("/inbox", tags=["inbox"], summary="My inbox, newest first", response_model=InboxPage)
    async def list_inbox(
        principal: CurrentPrincipal,
        unread_only: bool = False,
        before: Annotated[datetime | None, Query(description="entries created before this instant")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> InboxPage:
        snaps = await cases.inbox_page(
            notifier, own_recipient_id(principal), unread_only=unread_only, before=before, limit=limit + 1
        )
        items = [InboxEntryOut.of(s) for s in snaps[:limit]]
        return InboxPage(items=items, next_before=items[-1].created_at if len(snaps) > limit else None)

    @router.get("/inbox/unread-count", tags=["inbox"], summary="How many of my notices are unread")
    async def count_unread(principal: CurrentPrincipal) -> UnreadCount:
        recipient_id = own_recipient_id(principal)
        return UnreadCount(recipient_id=recipient_id, unread=await cases.unread_count(notifier, recipient_id))

    @router.post("/inbox/read-all", tags=["inbox"], summary="Mark all my notices read")
    async def read_all(principal: CurrentPrincipal) -> MarkedRead:
        return MarkedRead(marked=await cases.mark_all_read(notifier, own_recipient_id(principal)))

    @router.post(
        "/inbox/{inbox_id}/read",
        tags=["inbox"],
        summary="Mark one of my notices read",
        responses={404: {"description": "no such entry in your inbox"}},
    )
    async def read_one(inbox_id: str, principal: CurrentPrincipal) -> InboxEntryOut:
        state = await cases.mark_read(notifier, own_recipient_id(principal), inbox_id)
        return InboxEntryOut.model_validate(state)

    @router.get(
        "/inbox/stream",
        tags=["inbox"],
        summary="Live stream of my new notices (server-sent events)",
        description="Events: `unread` (the count, at once) and `notice` (an inbox entry as JSON, id = inbox id). "
        "Keep-alive pings every 15 s.",
        response_class=EventSourceResponse,
    )
    async def stream(request: Request, principal: CurrentPrincipal) -> EventSourceResponse:
        recipient_id = own_recipient_id(principal)

        async def events() -> AsyncIterator[dict[str, Any]]:
            since = notifier.clock()
            seen: set[str] = set()
            yield {"event": "unread", "data": str(await cases.unread_count(notifier, recipient_id))}
            while not await request.is_disconnected():
                for snap in await cases.inbox_since(notifier, recipient_id, since):
                    if snap.aggregate_id in seen:
                        continue
                    seen.add(snap.aggregate_id)
                    entry = InboxEntryOut.of(snap)
                    since = max(since, entry.created_at)
                    yield {"event": "notice", "id": entry.inbox_id, "data": entry.model_dump_json()}
                await asyncio.sleep(settings.inbox_stream_poll_seconds)

        return EventSourceResponse(events(), ping=15)

    # preferences --------------------------------------------------------------------------

    def check_recipient(principal: Principal, recipient_id: str) -> None:
        kind, _, subject = recipient_id.partition(":")
        allowed = (kind == "partner" and principal.is_partner(subject)) or (
            kind == "member" and principal.subject == subject and not principal.roles & PARTNER_BOUND_ROLES
        )
        forbid_unless(allowed, f"you may manage only your own preferences, not {recipient_id}'s")

    @router.get(
        "/recipients/{recipient_id}/preferences",
        tags=["preferences"],
        summary="A recipient's preferences (defaults until changed); ETag for If-Match",
    )
    async def read_preferences(recipient_id: str, principal: CurrentPrincipal, response: Response) -> PreferencesOut:
        check_recipient(principal, recipient_id)
        prefs = await cases.get_preferences(notifier, recipient_id)
        set_etag(response, prefs.version)
        return PreferencesOut.of(prefs)

    @router.put(
        "/recipients/{recipient_id}/preferences",
        tags=["preferences"],
        summary="Replace a recipient's preferences (If-Match; regulatory cannot be muted)",
        responses={422: {"description": "preferences.regulatory_mandatory"}, 428: {"description": "If-Match"}},
    )
    async def write_preferences(
        recipient_id: str, body: PreferencesIn, principal: CurrentPrincipal, request: Request, response: Response
    ) -> PreferencesOut:
        check_recipient(principal, recipient_id)
        prefs = await cases.put_preferences(
            notifier, recipient_id, expected_version(request), body.muted, body.quiet_hours, principal.subject
        )
        set_etag(response, prefs.version)
        return PreferencesOut.of(prefs)

    # webhook endpoints --------------------------------------------------------------------

    def check_partner(principal: Principal, partner_id: str, *, write: bool) -> None:
        if not write and principal.has_any(OPS, AUDITOR):
            return
        forbid_unless(principal.is_partner(partner_id), f"you may manage only your own webhooks, not {partner_id}'s")

    async def owned_endpoint(principal: Principal, partner_id: str, endpoint_id: str) -> None:
        endpoint = await cases.load_endpoint(notifier, endpoint_id)
        if endpoint.partner_id != partner_id:
            raise NotFound("webhook.not_found", f"no webhook endpoint {endpoint_id} of {partner_id}")

    @router.post(
        "/partners/{partner_id}/webhooks",
        status_code=201,
        tags=["webhooks"],
        summary="Register a webhook endpoint (pending until verified); the secret is shown only now",
    )
    async def register(partner_id: str, body: EndpointIn, principal: PartnerUser) -> EndpointWithSecret:
        check_partner(principal, partner_id, write=True)
        endpoint, secret = await cases.register_endpoint(notifier, partner_id, body.url, principal.subject)
        return EndpointWithSecret(**EndpointOut.of(endpoint).model_dump(), secret=secret)

    @router.get("/partners/{partner_id}/webhooks", tags=["webhooks"], summary="A partner's webhook endpoints")
    async def list_webhooks(partner_id: str, principal: EndpointReader) -> list[EndpointOut]:
        check_partner(principal, partner_id, write=False)
        return [EndpointOut.of(e) for e in await cases.list_endpoints(notifier, partner_id)]

    @router.get("/partners/{partner_id}/webhooks/{endpoint_id}", tags=["webhooks"], summary="One webhook endpoint")
    async def read_webhook(partner_id: str, endpoint_id: str, principal: EndpointReader) -> EndpointOut:
        check_partner(principal, partner_id, write=False)
        await owned_endpoint(principal, partner_id, endpoint_id)
        return EndpointOut.of(await cases.load_endpoint(notifier, endpoint_id))

    @router.post(
        "/partners/{partner_id}/webhooks/{endpoint_id}/verify",
        tags=["webhooks"],
        summary="Run the verification handshake: the endpoint must echo a signed challenge",
        responses={422: {"description": "webhook.verification_* — the endpoint did not echo the challenge"}},
    )
    async def verify(partner_id: str, endpoint_id: str, principal: PartnerUser) -> EndpointOut:
        check_partner(principal, partner_id, write=True)
        await owned_endpoint(principal, partner_id, endpoint_id)
        return EndpointOut.of(await cases.verify_endpoint(notifier, endpoint_id))

    @router.post(
        "/partners/{partner_id}/webhooks/{endpoint_id}/rotate-secret",
        tags=["webhooks"],
        summary="Rotate the signing secret; the old one keeps signing during the grace period",
    )
    async def rotate(partner_id: str, endpoint_id: str, principal: PartnerUser) -> EndpointWithSecret:
        check_partner(principal, partner_id, write=True)
        await owned_endpoint(principal, partner_id, endpoint_id)
        endpoint, secret = await cases.rotate_secret(notifier, endpoint_id)
        return EndpointWithSecret(**EndpointOut.of(endpoint).model_dump(), secret=secret)

    @router.post(
        "/partners/{partner_id}/webhooks/{endpoint_id}/disable",
        tags=["webhooks"],
        summary="Disable an endpoint; its open deliveries end dead",
    )
    async def disable(partner_id: str, endpoint_id: str, body: DisableIn, principal: PartnerUser) -> EndpointOut:
        check_partner(principal, partner_id, write=True)
        await owned_endpoint(principal, partner_id, endpoint_id)
        return EndpointOut.of(await cases.disable_endpoint(notifier, endpoint_id, body.reason))

    # role groups --------------------------------------------------------------------------

    @router.get("/role-groups/{group}", tags=["role groups"], summary="Members of a role group; ETag for If-Match")
    async def read_group(group: RoleGroup, _: GroupReader, response: Response) -> GroupOut:
        members, version = await cases.get_group(notifier, group)
        set_etag(response, version)
        return GroupOut(group=group, members=members, version=version)

    @router.put(
        "/role-groups/{group}",
        tags=["role groups"],
        summary='Replace the members of a role group (If-Match: "0" for a new group)',
    )
    async def write_group(
        group: RoleGroup, body: GroupIn, _: GroupWriter, request: Request, response: Response
    ) -> GroupOut:
        version = await cases.put_group(notifier, group, expected_version(request), body.members)
        set_etag(response, version)
        members, _version = await cases.get_group(notifier, group)
        return GroupOut(group=group, members=members, version=version)

    # the delivery log ---------------------------------------------------------------------

    @router.get("/deliveries", tags=["delivery log"], summary="Deliveries, filtered (what was sent about an event)")
    async def list_deliveries(
        _: LogReader,
        event_id: str | None = None,
        recipient_id: str | None = None,
        partner_id: str | None = None,
        channel: Channel | None = None,
        status: DeliveryStatus | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> DeliveryPage:
        query: dict[str, Any] = {}
        for field, value in (
            ("event_id", event_id),
            ("recipient_id", recipient_id),
            ("partner_id", partner_id),
            ("channel", channel.value if channel else None),
            ("status", status.value if status else None),
        ):
            if value is not None:
                query[field] = value
        page = await paginate(notifier.stores.deliveries, query, limit=limit, cursor=cursor)
        return DeliveryPage(items=[DeliveryOut.of(s) for s in page.items], next_cursor=page.next_cursor)

    @router.get("/deliveries/{delivery_id}", tags=["delivery log"], summary="One delivery with every attempt")
    async def read_delivery(delivery_id: str, _: LogReader) -> DeliveryOut:
        _delivery, snap = await cases.load_delivery(notifier, delivery_id)
        return DeliveryOut.of(snap)

    @router.post(
        "/deliveries/{delivery_id}/resend",
        status_code=201,
        tags=["delivery log"],
        summary="Send a final (sent or dead) e-mail or webhook delivery again, as a new delivery",
        description="Send `Idempotency-Key` so a retried request resends once.",
    )
    async def resend(delivery_id: str, principal: Operator, request: Request) -> DeliveryOut:
        operation_id = request.headers.get("idempotency-key") or request.state.request_id
        copy = await cases.resend(notifier, delivery_id, operation_id, principal.subject)
        _delivery, snap = await cases.load_delivery(notifier, copy.delivery_id)
        return DeliveryOut.of(snap)

    return router
