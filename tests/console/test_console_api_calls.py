"""A page's lookups to one service run together, bounded, answers in order, a refused one
left out (``Api.get_each``), against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response

from alliance_console.api import PARALLEL_CALLS, Api, ServiceClients


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_get_each_runs_bounded_together_and_keeps_the_order() -> None:
    in_flight = 0
    most_in_flight = 0
    tokens: set[str] = set()
    service = FastAPI()

    @service.get("/results/{n}")
    async def result(n: int) -> dict[str, int]:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.05)  # holds the call open so that the others overlap it
        in_flight -= 1
        if n % 3 == 0:
            raise HTTPException(404, "not evaluated")
        return {"n": n}

    @service.middleware("http")
    async def remember_token(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        tokens.add(request.headers.get("authorization", ""))
        return await call_next(request)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(service, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.01)
    clients = ServiceClients({"evaluation": f"http://127.0.0.1:{port}"}, timeout_s=10)
    try:
        answers = await Api(clients, "the-persons-token").get_each(
            "evaluation", [f"/results/{n}" for n in range(1, 4 * PARALLEL_CALLS)]
        )
    finally:
        await clients.close()
        server.should_exit = True
        await serving
    assert answers == [None if n % 3 == 0 else {"n": n} for n in range(1, 4 * PARALLEL_CALLS)]
    assert 1 < most_in_flight <= PARALLEL_CALLS
    assert tokens == {"Bearer the-persons-token"}
