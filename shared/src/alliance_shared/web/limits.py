"""Limits every request meets before a route sees it (raw ASGI, so nothing is buffered).

* a body larger than the route's limit is refused with 413 problem+json, whether it
  announces its length or streams it (a streamed body is read here, up to the limit);
* a path with control characters (after percent-decoding) is refused with 400: ids are
  printable text;
* request and correlation ids from outside are kept only when short and plain (they go
  into every log line and event), otherwise replaced with a fresh one.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alliance_shared.web.problem_texts import problem_texts_for

#: Default request body limit.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: What an id header from outside may look like.
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
ID_HEADERS = (b"x-request-id", b"x-correlation-id")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RequestLimitsMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, per_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self._default = max_body_bytes
        self._per_path = dict(per_path or {})

    def limit_for(self, path: str) -> int:
        """The longest configured path prefix wins."""
        matches = [prefix for prefix in self._per_path if path.startswith(prefix)]
        return self._per_path[max(matches, key=len)] if matches else self._default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _CONTROL.search(scope.get("path", "")):
            await send_problem(
                send, 400, "request.bad_path", "the path holds control characters; ids are printable", scope=scope
            )
            return
        _sanitise_id_headers(scope)
        limit = self.limit_for(scope.get("path", ""))
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            await send_problem(send, 413, "request.too_large", f"the body may be at most {limit} bytes", scope=scope)
            return
        if announced is not None:  # the server holds the client to its Content-Length
            await self.app(scope, receive, send)
            return
        # A streamed body: read it here, at most one byte past the limit, then hand it on.
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left before the body ended
                await self.app(scope, _replay(body, message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await send_problem(
                    send, 413, "request.too_large", f"the body may be at most {limit} bytes", scope=scope
                )
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(body, None, receive), send)


def _replay(body: bytes, pending: Message | None, receive: Receive) -> Receive:
    """The body read so far as one message, then the client's channel as it goes on (a
    streaming response listens there for the disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent, pending
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if pending is not None:
            message, pending = pending, None
            return message
        return await receive()

    return replay


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _sanitise_id_headers(scope: Scope) -> None:
    headers = MutableHeaders(scope=scope)
    for name in ID_HEADERS:
        key = name.decode()
        value = headers.get(key)
        if value is not None and not CLIENT_ID_PATTERN.match(value):
            headers[key] = str(uuid.uuid4())


async def send_problem(send: Send, status: int, code: str, detail: str, *, scope: Scope | None = None) -> None:
    """A problem+json answer in the reader's language (``Accept-Language`` of ``scope``)."""
    accept_language = Headers(scope=scope).get("accept-language") if scope is not None else None
    title, shown_detail, language = problem_texts_for(code, status, detail, accept_language)
    body = json.dumps(
        {
            "type": "https://coopalliance.org/problems/" + code.replace(".", "/"),
            "title": title,
            "status": status,
            "detail": shown_detail,
            "code": code,
        },
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", language.encode()),
                (b"vary", b"Accept-Language"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
