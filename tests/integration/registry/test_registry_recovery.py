"""After a crash: a change written by a process that died before its relay published it
still reaches Kafka once the service runs again (the outbox's start-up scan)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from alliance_shared.contract.registry import PartnerRegistered
from tests.integration.registry.registry_support import admin, partner_body, registry_events, registry_settings
from tests.support.http import running

pytestmark = pytest.mark.infra


async def test_unpublished_change_is_published_after_restart(infra: Infrastructure, dev_keys_dir: Path) -> None:
    database = f"recover_{uuid.uuid4().hex[:8]}"
    # The first process writes state + event in one insert, but "dies" before any relay pass.
    crashed = build_app(registry_settings(infra, database, dev_keys_dir, run_relay=False))
    async with running(crashed) as http:
        created = await http.post("/partners", json=partner_body("college"), headers=admin(dev_keys_dir))
        assert created.status_code == 201
    partner_id = created.json()["partner_id"]
    nothing = await registry_events(infra, {partner_id}, until=lambda es: False, timeout_s=1.5)
    assert nothing == []

    async with running(build_app(registry_settings(infra, database, dev_keys_dir))):
        events = await registry_events(infra, {partner_id}, until=lambda es: len(es) >= 1)
    assert len(events) == 1
    event_type, payload = events[0]
    assert event_type == PartnerRegistered.event_type
    assert isinstance(payload, PartnerRegistered)
    assert payload.partner_id == partner_id
    assert payload.college is not None
