"""The two outside channels: e-mail over SMTP (aiosmtplib) and signed webhooks (httpx).

Each sender answers with a ``SendOutcome``: delivered, or failed with a machine-readable
code, a detail for people and whether trying again can help. Nothing here raises for a
failed delivery; the worker records the outcome on the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Final

import aiosmtplib
import httpcore
import httpx

from alliance_notifications.adapters.egress import AddressRefused, GuardedBackend
from alliance_notifications.domain.delivery import Delivery
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.webhook_signing import webhook_headers
from alliance_notifications.service.ports import ChallengeReply, EndpointUnreachable, Resolver, SendOutcome
from alliance_notifications.settings import Settings
from alliance_shared.outside_text import plain_text

#: How much of a relay's or receiver's own answer text the delivery log keeps.
ANSWER_LIMIT: Final = 200

VERIFICATION_EVENT_TYPE = "org.coopalliance.notifications.webhook.verification.v1"


class EmailSender:
    """E-mail over one SMTP connection, opened on first use and kept: messages go over it
    one after the other. A connection that fails is closed and opened again for the next
    message; a kept connection the relay dropped while idle is reopened at once, and the
    message sent over the new one."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock: asyncio.Lock | None = None  # made in the running loop

    def message(self, delivery: Delivery) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = delivery.address or ""
        message["Subject"] = delivery.subject or ""
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=delivery.delivery_id, domain="coopalliance.local")
        message["X-Alliance-Delivery-Id"] = delivery.delivery_id
        message["X-Alliance-Event-Type"] = delivery.event_type
        message.set_content(delivery.body or "", charset="utf-8")
        message["Content-Language"] = delivery.locale.value  # after set_content, which drops Content-* headers
        return message

    async def send(self, delivery: Delivery) -> SendOutcome:
        if not delivery.address:
            return SendOutcome.failed("email.no_address", "the delivery has no e-mail address", retryable=False)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one connection: one message at a time
            try:
                async with asyncio.timeout(self._settings.attempt_deadline_seconds):
                    await self._send_over_connection(self.message(delivery))
            except aiosmtplib.SMTPRecipientsRefused as error:
                codes = [r.code for r in error.recipients]
                permanent = all(500 <= c < 600 for c in codes)
                return SendOutcome.failed(
                    "email.recipient_refused", f"the relay refused {delivery.address}: {error}", retryable=not permanent
                )
            except aiosmtplib.SMTPResponseException as error:
                permanent = 500 <= error.code < 600
                answer = plain_text(error.message, ANSWER_LIMIT)
                return SendOutcome.failed(
                    f"email.smtp_{error.code}", f"the relay answered {error.code} {answer}", retryable=not permanent
                )
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                self._drop_connection()  # its state is unknown: the next message opens a new one
                return SendOutcome.failed("email.relay_unreachable", f"{type(error).__name__}: {error}", retryable=True)
            except asyncio.CancelledError:
                self._drop_connection()  # stopped mid-message: never reuse it half-way
                raise
        return SendOutcome.ok()

    async def _send_over_connection(self, message: EmailMessage) -> None:
        reused = self._smtp is not None and self._smtp.is_connected
        smtp = self._smtp if reused and self._smtp is not None else await self._connect()
        try:
            await smtp.send_message(message)
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
            if not reused:
                raise
            # The relay closed the idle connection (a kept connection's usual end): a new
            # one, once. Should the relay have taken the message before it dropped, the
            # receiver sees its delivery id twice and drops one.
            self._drop_connection()
            await (await self._connect()).send_message(message)

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self._settings
        self._drop_connection()
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
        await smtp.connect()  # with STARTTLS and login when configured
        self._smtp = smtp
        return smtp

    def _drop_connection(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    async def close(self) -> None:
        """Say QUIT and close the kept connection (at shutdown)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await smtp.quit()
        if smtp is not None:
            smtp.close()


def webhook_body(delivery: Delivery, payload: Mapping[str, Any]) -> bytes:
    """The JSON a receiver gets: the notice's envelope and the event's data."""
    document = {
        "delivery_id": delivery.delivery_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "partner_id": delivery.partner_id,
        "endpoint_id": delivery.endpoint_id,
        "category": delivery.category.value,
        "data": dict(payload),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class Answer:
    """A receiver's answer: its status and at most ``webhook_max_response_bytes`` of its body."""

    status_code: int
    reason: str
    body: bytes


class AnswerTooLarge(Exception):
    """The receiver answered with more bytes than the service reads."""


class WebhookSender:
    """Signed POSTs over one httpx client, made on first use (httpx binds its pool to the
    running event loop). Every connection goes through the egress guard; an attempt is
    bounded as a whole (``attempt_deadline_seconds``), reads a bounded answer and never
    follows a redirect (a 3xx is a failed attempt)."""

    def __init__(self, settings: Settings, resolver: Resolver) -> None:
        self._settings = settings
        self._resolver = resolver
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            settings = self._settings
            timeout = httpx.Timeout(settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds)
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
            transport = httpx.AsyncHTTPTransport(limits=limits)
            # httpx has no option for the network backend; its pool is httpcore's, so it is
            # built again here the same way, with the guarded backend.
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=httpx.create_ssl_context(),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=GuardedBackend(settings.egress_policy, self._resolver),
            )
            self._client = httpx.AsyncClient(
                transport=transport,
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,  # a proxy from the environment would bypass the guard
                headers={"User-Agent": "coopalliance-notifications/1", "Accept-Encoding": "identity"},
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        secrets: tuple[str, ...],
        delivery_id: str,
        event_type: str,
        now: datetime,
        read_body: bool = False,
    ) -> Answer:
        """POST within the attempt's deadline; read the answer's body (raw, at most the
        cap) only when asked — a notice needs only the status."""
        headers = webhook_headers(delivery_id=delivery_id, event_type=event_type, secrets=secrets, body=body, now=now)
        cap = self._settings.webhook_max_response_bytes
        async with asyncio.timeout(self._settings.attempt_deadline_seconds):
            async with self.client.stream("POST", url, content=body, headers=headers) as response:
                read = bytearray()
                if read_body:
                    async for chunk in response.aiter_raw():
                        read += chunk
                        if len(read) > cap:
                            raise AnswerTooLarge(f"more than {cap} bytes")
                return Answer(response.status_code, response.reason_phrase, bytes(read))

    async def challenge(self, endpoint: WebhookEndpoint, token: str, now: datetime) -> ChallengeReply:
        """POST ``{"type": "verification", "challenge": ...}``, signed; the endpoint echoes the
        token as JSON ``{"challenge": ...}`` or as the bare body."""
        body = json.dumps(
            {"type": "verification", "challenge": token, "endpoint_id": endpoint.endpoint_id}, separators=(",", ":")
        ).encode()
        try:
            answer = await self.post(
                endpoint.url,
                body,
                secrets=endpoint.signing_secrets(now),
                delivery_id=f"verification-{uuid.uuid4()}",
                event_type=VERIFICATION_EVENT_TYPE,
                now=now,
                read_body=True,
            )
        except (httpx.HTTPError, TimeoutError, AnswerTooLarge) as error:
            raise EndpointUnreachable(_failure_name(error)) from None
        text = answer.body.decode("utf-8", errors="replace")
        echoed = text.strip()
        try:
            document = json.loads(text)
            if isinstance(document, dict) and isinstance(document.get("challenge"), str):
                echoed = document["challenge"]
        except ValueError:
            pass
        return ChallengeReply(answer.status_code, echoed)

    async def send(
        self, delivery: Delivery, endpoint: WebhookEndpoint, payload: Mapping[str, Any], now: datetime
    ) -> SendOutcome:
        body = webhook_body(delivery, payload)
        try:
            answer = await self.post(
                endpoint.url,
                body,
                secrets=endpoint.signing_secrets(now),
                delivery_id=delivery.delivery_id,
                event_type=delivery.event_type,
                now=now,
            )
        except TimeoutError:
            deadline = self._settings.attempt_deadline_seconds
            return SendOutcome.failed("webhook.timeout", f"no complete answer within {deadline:g} s", retryable=True)
        except httpx.TimeoutException as error:
            return SendOutcome.failed("webhook.timeout", f"no answer in time: {type(error).__name__}", retryable=True)
        except httpx.HTTPError as error:
            if isinstance(error.__cause__, AddressRefused):
                return SendOutcome.failed(
                    "webhook.address_refused", "the host resolved to an address webhooks may not go to", retryable=False
                )
            return SendOutcome.failed("webhook.unreachable", f"{type(error).__name__}: {error}", retryable=True)
        status = answer.status_code
        if 200 <= status < 300:
            return SendOutcome.ok()
        retryable = status in (408, 425, 429) or status >= 500
        # The reason phrase is the receiver's text: shown as data, bounded.
        detail = f"endpoint answered {status} {plain_text(answer.reason, ANSWER_LIMIT)}"
        return SendOutcome.failed(f"webhook.http_{status}", detail, retryable=retryable)


def _failure_name(error: Exception) -> str:
    if isinstance(error.__cause__, AddressRefused):
        return "address_refused"
    return type(error).__name__
