"""Reports that arrive early are kept: on the real servers, a college report for an
agreement the service does not know yet is parked and applied when the registry's event
arrives; a report about a day on which a now suspended agreement was active is accepted.
(The dead letter after the bounded wait: test_evaluation_ingestion.py.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app
from alliance_shared.contract import college
from alliance_shared.contract.topics import REGISTRY_EVENTS
from tests.integration.evaluation.evaluation_support import (
    agreement_event,
    evaluation_settings,
    new_id,
    report_record,
    send,
    send_reports,
    wait_for,
)
from tests.support.http import bearer, running
from tests.support.kafka_io import skip_history

pytestmark = pytest.mark.infra

COL, ENT = new_id("col"), new_id("ent")
TODAY = datetime.now(UTC).date()
WINDOW = f"?window_start={TODAY.year - 1}-01-01&window_end={TODAY.year}-12-31"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    # A long wait: nothing here may be dead-lettered for having waited.
    settings = evaluation_settings(
        infra, f"early_{uuid.uuid4().hex[:8]}", dev_keys_dir, parked_report_max_seconds=3600, overdue_check_seconds=0.5
    )
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_app(settings)) as http:
        yield http


def placed(report_id: str, agreement_id: str, day: Any) -> college.InternshipPlaced:
    return college.InternshipPlaced(
        report_id=report_id,
        agreement_id=agreement_id,
        college_id=COL,
        occurred_on=day,
        student_ref=f"S-{report_id}",
        enterprise_id=ENT,
        post="assistant",
        start_date=day,
        planned_months=6,
    )


async def received(client: httpx.AsyncClient, keys: Path, agreement_id: str) -> int:
    response = await client.get(f"/agreements/{agreement_id}/evidence{WINDOW}", headers=bearer(keys, "supervisor"))
    return int(response.json()["reports_received"]) if response.status_code == 200 else -1


async def test_a_report_before_its_agreement_is_parked_and_applied_when_the_agreement_arrives(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    agreement_id = new_id("agr-late")
    await send_reports(infra, [report_record(placed("PL-EARLY", agreement_id, TODAY))])
    await asyncio.sleep(3.0)  # consumed and parked: the agreement is still unknown
    assert (
        await client.get(f"/agreements/{agreement_id}", headers=bearer(dev_keys_dir, "supervisor"))
    ).status_code == 404

    await send(
        infra, REGISTRY_EVENTS, [agreement_event(agreement_id, "activated", college_ids=[COL], enterprise_ids=[ENT])]
    )

    async def applied() -> bool:
        return await received(client, dev_keys_dir, agreement_id) == 1

    await wait_for(applied)


async def test_a_report_about_a_day_a_suspended_agreement_was_active_is_accepted(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    agreement_id = new_id("agr-susp")
    await send(
        infra,
        REGISTRY_EVENTS,
        [
            agreement_event(agreement_id, "activated", college_ids=[COL], enterprise_ids=[ENT]),
            agreement_event(agreement_id, "suspended", college_ids=[COL], enterprise_ids=[ENT]),
        ],
    )

    async def suspended() -> bool:
        response = await client.get(f"/agreements/{agreement_id}", headers=bearer(dev_keys_dir, "supervisor"))
        return response.status_code == 200 and response.json()["status"] == "suspended"

    await wait_for(suspended)
    # Activated and suspended today: a report about today counts, one about last year does not.
    await send_reports(
        infra,
        [
            report_record(placed("PL-IN", agreement_id, TODAY)),
            report_record(placed("PL-OUT", agreement_id, TODAY.replace(year=TODAY.year - 1))),
        ],
    )

    async def accepted() -> bool:
        return await received(client, dev_keys_dir, agreement_id) == 1

    await wait_for(accepted)
    await asyncio.sleep(1.0)  # room for the refused one to show wrongly
    assert await received(client, dev_keys_dir, agreement_id) == 1
