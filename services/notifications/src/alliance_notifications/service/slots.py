"""Bounds on concurrent webhook attempts: per endpoint, and in all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class EndpointSlots:
    """At most ``per_endpoint`` attempts at once to one endpoint and ``total`` in all. An
    attempt waits for its endpoint's slot first, holding none of the shared ones meanwhile,
    so a slow endpoint's queue cannot take the slots other endpoints need."""

    def __init__(self, total: int, per_endpoint: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_endpoint = per_endpoint
        #: Each endpoint with attempts in hand or waiting: its slots and how many use them.
        self._endpoints: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, endpoint_id: str) -> AsyncIterator[None]:
        slots, users = self._endpoints.setdefault(endpoint_id, (asyncio.Semaphore(self._per_endpoint), [0]))
        users[0] += 1
        try:
            async with slots, self._total:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._endpoints[endpoint_id]  # no entry kept for an endpoint gone quiet
