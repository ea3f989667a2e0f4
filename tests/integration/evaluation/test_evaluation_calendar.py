"""Appeal windows count working days on the shipped 2026 official calendar (holidays and
make-up working days), on the real servers, with the service's clock set by the test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.testing import ManualClock
from tests.integration.evaluation.evaluation_support import (
    agreement_event,
    complete_cycle,
    evaluation_settings,
    new_id,
    open_cycle,
    send,
    wait_for,
)
from tests.support.http import bearer, running
from tests.support.kafka_io import skip_history

pytestmark = pytest.mark.infra

#: Friday 18 September 2026, 10:00 in Beijing.
RECORDED = datetime(2026, 9, 18, 2, 0, tzinfo=UTC)


async def test_the_appeal_window_follows_the_2026_holidays_and_make_up_working_days(
    infra: Infrastructure, dev_keys_dir: Path
) -> None:
    agreement, college, enterprise = new_id("agr-cal"), new_id("col"), new_id("ent")
    clock = ManualClock(RECORDED)
    settings = evaluation_settings(infra, f"cal_{uuid.uuid4().hex[:8]}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    sup = bearer(dev_keys_dir, "supervisor", sub="sup-lead")
    async with running(build_app(settings, clock=clock)) as client:
        await send(
            infra,
            REGISTRY_EVENTS,
            [agreement_event(agreement, "activated", college_ids=[college], enterprise_ids=[enterprise])],
        )

        async def known() -> bool:
            return (await client.get(f"/agreements/{agreement}", headers=sup)).status_code == 200

        await wait_for(known)
        opened = await open_cycle(client, sup, [agreement], due_at=RECORDED + timedelta(days=30))
        await complete_cycle(client, sup, opened)
        party = bearer(dev_keys_dir, "college", partner_id=college)
        (result,) = (await client.get(f"/agreements/{agreement}/results", headers=party)).json()["results"]

        # Working days after Friday 18 September: Sunday 20 (made up), 21–24, 28–30 September,
        # 8 and 9 October (25–27 September and 1–7 October are holidays): the 10th is Friday
        # 9 October. On weekdays alone it would have been Friday 2 October.
        clock.set(datetime(2026, 10, 9, 15, 30, tzinfo=UTC))  # 23:30 on 9 October in Beijing
        lodged = await client.post(
            f"/results/{result['result_id']}/appeals", json={"grounds": "reports of September were late"}, headers=party
        )
        assert lodged.status_code == 201, lodged.text

    late_clock = ManualClock(datetime(2026, 10, 9, 16, 0, tzinfo=UTC))  # midnight: Saturday 10 October
    async with running(build_app(settings, clock=late_clock)) as client:
        other = bearer(dev_keys_dir, "enterprise", partner_id=enterprise)
        late = await client.post(
            f"/results/{result['result_id']}/appeals",
            json={"grounds": "too late, even on a worked Saturday"},
            headers=other,
        )
        assert late.status_code == 422, late.text
        assert late.json()["code"] == "appeal.window_closed"
