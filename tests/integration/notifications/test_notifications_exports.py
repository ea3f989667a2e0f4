"""The delivery log downloads as CSV (UTF-8 with BOM) and XLSX (issue #14 item 21) on the
real servers: the whole filtered list, headers in the reader's language; and it reads
newest first, page by page (the console's delivery log, issue #12)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_notifications.app import build_app
from tests.integration.notifications.notifications_support import (
    contact,
    event_of,
    new_id,
    notifications_settings,
    partner_registered,
    publish,
    skip_history,
    wait_for,
)
from tests.support.http import bearer, running
from tests.unit.notifications.notifications_support import EXAMPLE_PAYLOADS

pytestmark = pytest.mark.infra

DATABASE = f"exports_{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = notifications_settings(infra, DATABASE, dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_app(settings)) as http:
        yield http


async def rectification_ordered(infra: Infrastructure, client: httpx.AsyncClient, ops: dict[str, str]) -> str:
    """A rectification order to a college and an enterprise, once its four deliveries are
    final in the log; its event id."""
    college, enterprise = new_id("col"), new_id("ent")
    await publish(
        infra,
        partner_registered(college, "college", "深圳职业技术大学", contact("王老师", f"{college}@example.cn")),
        partner_registered(enterprise, "enterprise", "鹏城精密", contact("Anna", f"{enterprise}@example.de", "en")),
    )
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    contacts = mongo[f"notifications_{DATABASE}"]["contacts"]

    async def known() -> bool:
        return all([await contacts.find_one({"_id": p}) is not None for p in (college, enterprise)])

    await wait_for(known, what="the partners' contacts")
    await mongo.close()
    ordered = event_of(
        "evaluation.rectification.ordered",
        {
            **EXAMPLE_PAYLOADS["evaluation.rectification.ordered"],
            "order_id": new_id("rect"),
            "responsible_party_id": enterprise,
            "party_ids": [college, enterprise],
            "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    await publish(infra, ordered)

    async def logged() -> bool:
        page = await client.get("/deliveries", params={"event_id": ordered.id}, headers=ops)
        return len(page.json()["items"]) == 4 and all(d["status"] != "pending" for d in page.json()["items"])

    await wait_for(logged, what="four deliveries")
    return ordered.id


async def test_the_delivery_log_downloads_in_the_readers_language(
    infra: Infrastructure, client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    ops = bearer(dev_keys_dir, "ops", sub="ops-wu")
    event_id = await rectification_ordered(infra, client, ops)
    page = (await client.get("/deliveries", params={"event_id": event_id}, headers=ops)).json()["items"]

    for language, id_header, status_header in (("zh-CN", "投递编号", "状态"), ("en", "Delivery ID", "Status")):
        response = await client.get(
            "/deliveries",
            params={"event_id": event_id, "format": "csv"},
            headers={**ops, "Accept-Language": language},
        )
        assert response.status_code == 200, response.text
        assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert {r[id_header]: r[status_header] for r in rows} == {d["delivery_id"]: d["status"] for d in page}

    as_xlsx = await client.get(
        "/deliveries",
        params={"event_id": event_id, "format": "xlsx"},
        headers={**bearer(dev_keys_dir, "auditor"), "Accept-Language": "en"},
    )
    assert as_xlsx.status_code == 200, as_xlsx.text
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header[:3] == ["Delivery ID", "Event type", "Channel"]
    assert sorted(r[0] for r in rows) == sorted(d["delivery_id"] for d in page)
    assert {r[header.index("Attempts")] for r in rows} == {len(d["attempts"]) for d in page}


async def test_the_delivery_log_pages_newest_first(
    infra: Infrastructure, client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    ops = bearer(dev_keys_dir, "ops", sub="ops-wu")
    first = await rectification_ordered(infra, client, ops)
    second = await rectification_ordered(infra, client, ops)
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        # One a page, so that every step crosses a cursor (the four of one event may share a time).
        params = {"order": "newest", "limit": "1", **({"cursor": cursor} if cursor else {})}
        answer = await client.get("/deliveries", params=params, headers=ops)
        assert answer.status_code == 200, answer.text
        seen += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None or len([d for d in seen if d["event_id"] in (first, second)]) == 8:
            break
    ours = [d for d in seen if d["event_id"] in (first, second)]
    keys = [(datetime.fromisoformat(d["created_at"]), d["delivery_id"]) for d in seen]
    assert keys == sorted(keys, reverse=True)
    assert len({d["delivery_id"] for d in ours}) == 8
    # The later event's deliveries come before the earlier one's.
    assert [d["event_id"] for d in ours] == [second] * 4 + [first] * 4
    refused = await client.get("/deliveries", params={"order": "newest", "cursor": "bm9uZQ"}, headers=ops)
    assert refused.status_code == 400
    assert refused.json()["code"] == "pagination.bad_cursor"
