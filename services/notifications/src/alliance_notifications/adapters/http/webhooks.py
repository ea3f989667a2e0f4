"""Webhook endpoints: a partner (``college``/``enterprise``) registers, verifies, rotates and
disables only its own; ``ops`` and ``auditor`` may read them, never the secrets, and ``ops``
may disable any."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.adapters.http.access import PartnersEndpoint, WebhookDisabler, WebhookManager, WebhookReader
from alliance_notifications.adapters.http.deps import NotifierDep
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.rate_limit import RateLimited
from alliance_notifications.service import queries
from alliance_notifications.service import webhooks as cases
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.web.bodies import ReasonIn
from alliance_shared.web.problems import ProblemError

router = APIRouter(tags=["webhooks"])


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

    @classmethod
    def of_new(cls, endpoint: WebhookEndpoint, secret: str) -> EndpointWithSecret:
        return cls(**EndpointOut.of(endpoint).model_dump(), secret=secret)


@router.post(
    "/partners/{partner_id}/webhooks",
    status_code=201,
    summary="Register a webhook endpoint (pending until verified); the secret is shown only now",
)
async def register(
    partner_id: str, body: EndpointIn, principal: WebhookManager, notifier: NotifierDep
) -> EndpointWithSecret:
    outcome, secret = await cases.register_webhook(notifier, partner_id, body.url, principal.subject)
    return EndpointWithSecret.of_new(outcome.item, secret)


@router.get("/partners/{partner_id}/webhooks", summary="A partner's webhook endpoints")
async def list_webhooks(partner_id: str, _: WebhookReader, notifier: NotifierDep) -> list[EndpointOut]:
    return [EndpointOut.of(e) for e in await queries.webhooks_of(notifier, partner_id)]


@router.get("/partners/{partner_id}/webhooks/{endpoint_id}", summary="One webhook endpoint")
async def read_webhook(_: WebhookReader, endpoint: PartnersEndpoint) -> EndpointOut:
    return EndpointOut.of(endpoint)


@router.post(
    "/partners/{partner_id}/webhooks/{endpoint_id}/verify",
    summary="Run the verification handshake: the endpoint must echo a signed challenge",
    responses={
        422: {"description": "webhook.verification_failed — the same answer whatever the target did"},
        429: {"description": "webhook.verify_rate_limited — too many handshakes; see Retry-After"},
    },
)
async def verify(_: WebhookManager, endpoint: PartnersEndpoint, notifier: NotifierDep) -> EndpointOut:
    try:
        return EndpointOut.of((await cases.verify_webhook(notifier, endpoint.endpoint_id)).item)
    except RateLimited as limited:
        wait = str(limited.extensions["retry_after_seconds"])
        raise ProblemError(
            429, limited.code, limited.detail, title=limited.title, headers={"Retry-After": wait}
        ) from None


@router.post(
    "/partners/{partner_id}/webhooks/{endpoint_id}/rotate-secret",
    summary="Rotate the signing secret; the old one keeps signing during the grace period",
)
async def rotate(_: WebhookManager, endpoint: PartnersEndpoint, notifier: NotifierDep) -> EndpointWithSecret:
    outcome, secret = await cases.rotate_webhook_secret(notifier, endpoint.endpoint_id)
    return EndpointWithSecret.of_new(outcome.item, secret)


@router.post(
    "/partners/{partner_id}/webhooks/{endpoint_id}/disable",
    summary="Disable an endpoint (the partner, or ops); its open deliveries end dead",
)
async def disable(body: ReasonIn, _: WebhookDisabler, endpoint: PartnersEndpoint, notifier: NotifierDep) -> EndpointOut:
    return EndpointOut.of((await cases.disable_webhook(notifier, endpoint.endpoint_id, body.reason)).item)
