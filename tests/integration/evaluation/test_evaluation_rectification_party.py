"""On the real servers: the rectification order names the party whose obligations drive
the failing indicators, not the party with the most obligations; a supervisor orders
rectification by hand with chosen items, party and deadline."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from alliance_devstack.provision import Infrastructure
from alliance_shared.contract import college
from tests.integration.evaluation.evaluation_support import (
    LAST_YEAR,
    WINDOW_END,
    WINDOW_START,
    agreement_event,
    complete_cycle,
    new_id,
    open_cycle,
    report_record,
    running_evaluation,
    send_reports,
    wait_for,
)
from tests.support.http import bearer

pytestmark = pytest.mark.infra


async def test_the_order_goes_to_the_party_whose_obligation_is_failing(
    infra: Infrastructure, dev_keys_dir: Path
) -> None:
    agreement, col, ent = new_id("agr-rect"), new_id("col"), new_id("ent")
    obligations = [
        {"party_id": ent, "metric": "internship_posts", "quantity": 4, "period": "per_year"},
        {"party_id": col, "metric": "teacher_practice_persons", "quantity": 1, "period": "per_year"},
        {"party_id": col, "metric": "courses_codeveloped", "quantity": 1, "period": "per_year"},
    ]
    day = date(LAST_YEAR, 3, 10)
    common = {"agreement_id": agreement, "college_id": col, "occurred_on": day}
    reports = [
        # One internship post of the four the enterprise committed: TT-01 at risk.
        college.InternshipPlaced(
            report_id="PL-1", **common, student_ref="S1", enterprise_id=ent, post="a", start_date=day, planned_months=6
        ),
        # The college's commitments are met.
        college.TeacherPracticeCompleted(report_id="TP-1", **common, teacher_ref="T1", enterprise_id=ent, days=30),
        college.CourseCodeveloped(report_id="CC-1", **common, title="PLC", kind=college.CodevelopedKind.COURSE),
    ]
    sup = bearer(dev_keys_dir, "supervisor", sub="sup-lead")
    agreements = [
        agreement_event(agreement, "activated", college_ids=[col], enterprise_ids=[ent], obligations=obligations)
    ]
    async with running_evaluation(infra, dev_keys_dir, f"rect_{uuid.uuid4().hex[:8]}", agreements) as client:
        await send_reports(infra, [report_record(r) for r in reports])
        window = f"?window_start={WINDOW_START}&window_end={WINDOW_END}"

        async def ingested() -> bool:
            response = await client.get(f"/agreements/{agreement}/evidence{window}", headers=sup)
            return bool(response.json()["reports_received"] == 3)

        await wait_for(ingested)
        opened = await open_cycle(client, sup, [agreement])
        await complete_cycle(client, sup, opened)
        (result,) = (await client.get(f"/agreements/{agreement}/results", headers=sup)).json()["results"]
        bands = {i["code"]: i["band"] for i in result["indicators"]}
        assert bands["TT-01"] == "at_risk"
        assert (bands["TS-02"], bands["RD-03"]) == ("on_track", "on_track")

        async def ordered() -> bool:
            response = await client.get("/rectifications", params={"agreement_id": agreement}, headers=sup)
            return bool(response.json()["items"])

        await wait_for(ordered)
        listed = await client.get("/rectifications", params={"agreement_id": agreement}, headers=sup)
        (order,) = listed.json()["items"]
        # The college has two obligations to the enterprise's one, but TT-01 measures the enterprise's.
        assert order["responsible_party_id"] == ent
        assert "TT-01" in [item["indicator_code"] for item in order["items"]]

        # By hand: the college is to put TS-02 right by a deadline of the supervisor's choosing.
        due_at = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
        body = {
            "result_id": result["result_id"],
            "items": [{"indicator_code": "TS-02", "requirement": "two more teachers into enterprise practice"}],
            "responsible_party_id": col,
            "due_at": due_at.isoformat(),
        }
        by_hand = await client.post("/rectifications", json=body, headers=sup)
        assert by_hand.status_code == 201, by_hand.text
        assert by_hand.json()["responsible_party_id"] == col
        assert by_hand.json()["items"] == [
            {"indicator_code": "TS-02", "band": "on_track", "requirement": "two more teachers into enterprise practice"}
        ]
        assert datetime.fromisoformat(by_hand.json()["due_at"]) == due_at
        college_sees = await client.get(
            f"/rectifications/{by_hand.json()['order_id']}", headers=bearer(dev_keys_dir, "college", partner_id=col)
        )
        assert college_sees.status_code == 200
        for wrong, code in (
            ({"responsible_party_id": new_id("ent")}, "rectification.not_a_party"),
            ({"items": [{"indicator_code": "XX-99", "requirement": "r"}]}, "rectification.unknown_item"),
            ({"due_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()}, "rectification.due_in_past"),
        ):
            refused = await client.post("/rectifications", json={**body, **wrong}, headers=sup)
            assert (refused.status_code, refused.json()["code"]) == (422, code), refused.text
