"""A page's lookups to one service run together, bounded, answers in order, a refused one
left out (``Api.get_each``); published framework versions are read once
(``FrameworkVersions``). Against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response

from alliance_console.api import PARALLEL_CALLS, Api, ApiError, ServiceClients
from alliance_console.pages.common import FrameworkVersions


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def evaluation_served_by(service: FastAPI) -> AsyncIterator[ServiceClients]:
    """``service`` on a loopback port, and the console's clients pointed at it as the evaluation service."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(service, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.01)
    clients = ServiceClients({"evaluation": f"http://127.0.0.1:{port}"}, timeout_s=10)
    try:
        yield clients
    finally:
        await clients.close()
        server.should_exit = True
        await serving


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

    async with evaluation_served_by(service) as clients:
        answers = await Api(clients, "the-persons-token").get_each(
            "evaluation", [f"/results/{n}" for n in range(1, 4 * PARALLEL_CALLS)]
        )
    assert answers == [None if n % 3 == 0 else {"n": n} for n in range(1, 4 * PARALLEL_CALLS)]
    assert 1 < most_in_flight <= PARALLEL_CALLS
    assert tokens == {"Bearer the-persons-token"}


async def test_published_framework_versions_are_read_once_and_drafts_every_time() -> None:
    reads: list[str] = []
    service = FastAPI()

    @service.get("/frameworks/{framework_id}/versions/{version}")
    async def framework(framework_id: str, version: int) -> dict[str, object]:
        reads.append(f"{framework_id}:{version}")
        if framework_id == "gone":
            raise HTTPException(404, "no such framework")
        status = "draft" if framework_id == "draft" else "published"
        return {"framework_id": framework_id, "version": version, "status": status}

    versions = FrameworkVersions(capacity=2)
    async with evaluation_served_by(service) as clients:
        api = Api(clients, "a-token")
        first = await versions.get_each(api, [("cf", 1), ("draft", 1), ("gone", 1)])
        again = await versions.get_each(api, [("cf", 1), ("draft", 1)])
        single = await versions.get(api, "cf", 1)
        await versions.get_each(api, [("cf", 2), ("cf", 3)])  # two more published: capacity 2
        await versions.get(api, "cf", 1)
        with pytest.raises(ApiError):
            await versions.get(api, "gone", 1)
    assert [f and f["framework_id"] for f in first] == ["cf", "draft", None]
    assert [f and f["framework_id"] for f in again] == ["cf", "draft"]
    assert single["version"] == 1
    # cf:1 read once until two newer versions pushed it out; the draft and the refusal every time
    # (a batch's reads run together, so their order within it is free)
    assert sorted(reads[:3]) == ["cf:1", "draft:1", "gone:1"]
    assert reads[3:4] == ["draft:1"]
    assert sorted(reads[4:6]) == ["cf:2", "cf:3"]
    assert reads[6:] == ["cf:1", "gone:1"]
