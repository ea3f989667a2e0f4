"""Reminders and the daily digest are persisted and fire once, across restarts of the app."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_notifications.app import build_app
from tests.integration.notifications.notifications_support import (
    contact,
    event_of,
    mails_to,
    new_id,
    notifications_settings,
    partner_registered,
    publish,
    skip_history,
    wait_for,
)
from tests.support.http import running
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

pytestmark = pytest.mark.infra


async def test_a_reminder_and_a_digest_fire_once_across_restarts(infra: Infrastructure, dev_keys_dir: Path) -> None:
    database = f"reminders_{uuid.uuid4().hex[:8]}"
    settings = notifications_settings(infra, database, dev_keys_dir, digest_hour=0, digest_scan_seconds=0.5)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = mongo[f"notifications_{database}"]
    enterprise = new_id("ent")
    address = f"{enterprise}@example.de"
    now = datetime.now(UTC)
    order_id = new_id("rect")
    ordered = event_of(
        "evaluation.rectification.ordered",
        {
            **EXAMPLE_PAYLOADS["evaluation.rectification.ordered"],
            "order_id": order_id,
            "responsible_party_id": enterprise,
            "party_ids": [enterprise],
            # The "7 days left" reminder is due a few seconds from now, the "1 day" one in 6 days.
            "due_at": (now + timedelta(days=7, seconds=6)).isoformat(),
        },
    )
    opened = event_of(
        "funding.programme.opened",
        {**EXAMPLE_PAYLOADS["funding.programme.opened"], "programme_id": new_id("prg"),
         "closes_at": (now + timedelta(days=30)).isoformat()},
    )  # fmt: skip
    reminder_id = f"reminder.rectification_due:{order_id}:7d:{ordered.id}"

    try:
        # First run: learns the partner, schedules the reminders, is stopped before they fire.
        async with running(build_app(settings)):
            await publish(infra, partner_registered(enterprise, "enterprise", "鹏城", contact("Anna", address, "en")))
            await wait_for(lambda: _exists(db, "contacts", enterprise), what="the contact")
            await publish(infra, ordered, opened)
            await wait_for(lambda: _exists(db, "reminders", reminder_id), what="the reminder is scheduled")
            scheduled = await db["reminders"].find_one({"_id": reminder_id})
            assert scheduled is not None
            assert scheduled["status"] == "scheduled"

        # Second run: the reminder comes due and fires; the digest of the broadcast goes out.
        async with running(build_app(settings)):

            async def fired() -> bool:
                doc = await db["reminders"].find_one({"_id": reminder_id})
                return doc is not None and doc["status"] == "fired"

            await wait_for(fired, timeout_s=40, what="the reminder fired")
            await wait_for(lambda: _mailed(infra, address, "7 day"), what="the reminder mail")
            await wait_for(lambda: _mailed(infra, address, "digest"), what="the digest mail")

        # Third run: nothing fires again.
        async with running(build_app(settings)):
            await asyncio.sleep(2.5)  # several reminder and digest passes

        reminder_deliveries = await db["deliveries"].count_documents({"event_id": reminder_id})
        assert reminder_deliveries == 2  # e-mail and inbox of the responsible party (no webhook)
        assert await _mail_count(infra, address, "7 day") == 1
        assert await _mail_count(infra, address, "digest") == 1
        one_day = await db["reminders"].find_one({"_id": reminder_id.replace(":7d:", ":1d:")})
        assert one_day is not None
        assert one_day["status"] == "scheduled"
    finally:
        await mongo.close()


async def _exists(db: Any, collection: str, doc_id: str) -> bool:
    return await db[collection].find_one({"_id": doc_id}) is not None


async def _mail_count(infra: Infrastructure, address: str, subject_part: str) -> int:
    return sum(subject_part in m.subject.lower() for m in mails_to(infra, address))


async def _mailed(infra: Infrastructure, address: str, subject_part: str) -> bool:
    return await _mail_count(infra, address, subject_part) >= 1
