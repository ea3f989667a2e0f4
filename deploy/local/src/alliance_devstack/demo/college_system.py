"""A college information system as the demo plays it: it receives the platform's signed
webhooks on loopback and checks each signature the way the integration guide says."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alliance_devstack.loopback import serving
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
        async with serving(
            Starlette(routes=[Route("/alliance/notices", self._receive, methods=["POST"])])
        ) as self.port:
            yield self
