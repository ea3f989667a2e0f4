"""`Idempotency-Key` for POST: a retried request gets the first response, nothing runs twice.

Keys are scoped to the caller (the verified token subject), method and path. A key
reused with a different body is refused (422). A retry that arrives while the first
request is still running waits for it (up to ``WAIT_FOR_FIRST``) and replays its
response, or answers 409 with ``Retry-After``. A first request that fails (5xx, an
exception, a dropped connection) releases its key, so the retry runs. Records live in the
service's own database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alliance_shared.auth.jwt import AuthenticationError, KeysUnavailable, TokenVerifier
from alliance_shared.persistence.mongo import Document, IndexSpec
from alliance_shared.web.problem_texts import problem_texts_for

IDEMPOTENCY_COLLECTION = "idempotency_keys"
IDEMPOTENCY_INDEXES = (IndexSpec(IDEMPOTENCY_COLLECTION, (("created_at", ASCENDING),)),)
#: A first request that has not finished by then is presumed dead and may be retried.
IN_PROGRESS_TIMEOUT = timedelta(seconds=60)
MAX_KEY_LENGTH = 200
#: How long a retry waits for a first request still running before answering 409.
WAIT_FOR_FIRST = timedelta(seconds=5)
POLL_SECONDS = 0.05


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = request.headers.get("idempotency-key")
        collection: AsyncCollection[Document] | None = getattr(scope["app"].state, "idempotency", None)
        if not key or collection is None:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            await _send_problem(
                send, 422, "idempotency.key_too_long", f"at most {MAX_KEY_LENGTH} characters", request=request
            )
            return
        subject = await _subject(scope["app"].state, request.headers.get("authorization"))
        if subject is None:  # unauthenticated: let the route answer 401
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        record_id = hashlib.sha256(f"{subject}\n{scope['path']}\n{key}".encode()).hexdigest()
        body_hash = hashlib.sha256(body).hexdigest()
        if not await self._claim(collection, record_id, body_hash, send, request):
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [(k.decode(), v.decode()) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        completed = False
        try:
            await self.app(scope, _replay_body(body), capture)
            completed = captured["status"] < 500
        finally:
            if not completed:  # a failure, an exception or a cancellation: let the client retry
                await collection.delete_one({"_id": record_id})
        if not completed:
            return
        await collection.update_one(
            {"_id": record_id},
            {
                "$set": {
                    "state": "done",
                    "status": captured["status"],
                    "body": captured["body"],
                    "headers": [
                        {"name": k, "value": v} for k, v in captured["headers"] if k.lower() != "content-length"
                    ],
                }
            },
        )

    async def _claim(
        self, collection: AsyncCollection[Document], record_id: str, body_hash: str, send: Send, request: Request
    ) -> bool:
        """Take the key for this request (True), or answer for it: replay, 422 or 409 (False)."""
        deadline = datetime.now(UTC) + WAIT_FOR_FIRST
        while True:
            now = datetime.now(UTC)
            existing = await collection.find_one({"_id": record_id})
            if existing is not None:
                if existing["body_hash"] != body_hash:
                    await _send_problem(
                        send,
                        422,
                        "idempotency.key_reused",
                        "this Idempotency-Key was used with a different request body",
                        request=request,
                    )
                    return False
                if existing["state"] == "done":
                    await _replay(send, existing)
                    return False
                if now - existing["created_at"] < IN_PROGRESS_TIMEOUT:
                    if now < deadline:
                        await asyncio.sleep(POLL_SECONDS)  # the first request is running: wait for its answer
                        continue
                    await _send_problem(
                        send,
                        409,
                        "idempotency.in_progress",
                        "the first request with this Idempotency-Key is still running; retry later",
                        request=request,
                        headers=[(b"retry-after", b"1")],
                    )
                    return False
                await collection.delete_one({"_id": record_id, "state": "in_progress"})  # presumed dead
            try:
                await collection.insert_one(
                    {"_id": record_id, "state": "in_progress", "body_hash": body_hash, "created_at": now}
                )
                return True
            except DuplicateKeyError:
                continue  # another retry took it this instant: look again


async def _subject(state: Any, authorization: str | None) -> str | None:
    verifier: TokenVerifier | None = getattr(state, "token_verifier", None)
    if verifier is None or not authorization or not authorization.lower().startswith("bearer "):
        return None
    try:
        return (await verifier.verify(authorization[7:].strip())).subject
    except (AuthenticationError, KeysUnavailable):
        return None  # the route answers 401 or 503 itself


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _replay(send: Send, record: Document) -> None:
    headers = [(h["name"].encode(), h["value"].encode()) for h in record["headers"]]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": record["status"], "headers": headers})
    await send({"type": "http.response.body", "body": bytes(record["body"])})


async def _send_problem(
    send: Send,
    status: int,
    code: str,
    detail: str,
    *,
    request: Request,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    title, shown_detail, language = problem_texts_for(code, status, detail, request.headers.get("accept-language"))
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
    language_headers = [(b"content-language", language.encode()), (b"vary", b"Accept-Language")]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/problem+json"), *language_headers, *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": body})
