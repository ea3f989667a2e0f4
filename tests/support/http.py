"""Driving a service's FastAPI app in-process, with its real lifespan (Kafka, MongoDB)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from alliance_shared.auth.devtokens import mint


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def bearer(
    keys_dir: Path, role: str, *, sub: str | None = None, partner_id: str | None = None, ttl_s: int = 600
) -> dict[str, str]:
    token = mint(keys_dir, sub or f"{role}-user", [role], partner_id=partner_id, ttl_s=ttl_s)
    return {"Authorization": f"Bearer {token}"}
