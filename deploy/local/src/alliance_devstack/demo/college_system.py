"""A college information system as the demo plays it: it receives the platform's signed
webhooks on loopback and checks each signature the way the integration guide says."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alliance_notifications.domain.webhook_signing import (
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    SignatureVerificationError,
    verify_signature,
)


@dataclass
class Notice:
    event_type: str
    body: dict[str, Any]
    signature_valid: bool


@dataclass
class CollegeSystem:
    """Answers the verification challenge, then accepts notices; the secret arrives after
    the endpoint is registered (the platform shows it once)."""

    secret: str = ""
    port: int = 0
    notices: list[Notice] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alliance/notices"

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        document = json.loads(body)
        if document.get("type") == "verification":
            return JSONResponse({"challenge": document["challenge"]})
        try:
            verify_signature(request.headers.get(SIGNATURE_HEADER, ""), body, self.secret, now=int(time.time()))
            valid = True
        except SignatureVerificationError:
            valid = False
        self.notices.append(Notice(request.headers.get(EVENT_TYPE_HEADER, ""), document, valid))
        return Response(status_code=200 if valid else 400)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[CollegeSystem]:
        app = Starlette(routes=[Route("/alliance/notices", self._receive, methods=["POST"])])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
            await asyncio.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            await task
            sock.close()
