"""A partner list whose certification or membership filter nobody meets answers an empty
last page at once (no scan of the partners), and the opposite filter still lists them all."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from tests.integration.registry.registry_support import admin, register, registry_settings
from tests.support.http import running

pytestmark = pytest.mark.infra


async def test_filters_nobody_meets_give_an_empty_last_page(infra: Infrastructure, dev_keys_dir: Path) -> None:
    keys = dev_keys_dir
    async with running(build_app(registry_settings(infra, f"nomatch_{uuid.uuid4().hex[:8]}", keys))) as http:
        ids = {(await register(http, keys, kind))["partner_id"] for kind in ("college", "enterprise")}
        for query in ("certified=true", "membership=admitted", "certified=true&kind=enterprise"):
            response = await http.get(f"/partners?{query}&limit=1", headers=admin(keys))
            assert response.status_code == 200, response.text
            assert response.json() == {"items": [], "next_cursor": None}
        uncertified = await http.get("/partners?certified=false&limit=50", headers=admin(keys))
        assert {p["partner_id"] for p in uncertified.json()["items"]} == ids
