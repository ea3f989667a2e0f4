"""Issue #14 item 2 on the real servers: a supervisor adds an indicator, defined in the
indicator definition language, to a new framework version through the API — no code —
and a cycle on that version scores it from the college's reports; a malformed
definition is refused as problem+json when the version is edited."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_shared.contract import college
from tests.integration.evaluation.evaluation_support import (
    LAST_YEAR,
    WINDOW_END,
    WINDOW_START,
    agreement_event,
    complete_cycle,
    etag,
    new_id,
    open_cycle,
    report_record,
    running_evaluation,
    send_reports,
    wait_for,
)
from tests.support.http import bearer

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
AGR, COL, ENT = new_id("agr-calc"), new_id("col"), new_id("ent")
#: Students who stayed six months or more: distinct students, a fixed target of 4.
LONG_STAYS = {
    "code": "TT-09",
    "dimension": "talent_training",
    "name_zh": "实习满6个月的学生人数",
    "name_en": "students who stayed six months or more",
    "unit": "persons",
    "source": "college_reports",
    "measure": "students_hosted_6_months",
    "computation": {
        "aggregation": "distinct_count",
        "what": "distinct students hosted for 6+ months",
        "records": {
            "kinds": ["internship.completed"],
            "where": [{"field": "months_completed", "op": "ge", "value": 6}],
        },
        "fields": ["student_ref"],
    },
    "target_fixed": "4",
    "weight_bp": 500,
    "needs_improvement": {"basis": "target_basis_points", "value": "8000"},
    "at_risk": {"basis": "target_basis_points", "value": "5000"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    agreements = [agreement_event(AGR, "activated", college_ids=[COL], enterprise_ids=[ENT])]
    async with running_evaluation(infra, dev_keys_dir, f"calc_{RUN}", agreements) as http:
        yield http


def stay(report_id: str, student: str, months: int) -> college.InternshipCompleted:
    return college.InternshipCompleted(
        report_id=report_id,
        agreement_id=AGR,
        college_id=COL,
        occurred_on=date(LAST_YEAR, 9, 1),
        student_ref=student,
        enterprise_id=ENT,
        months_completed=months,
        outcome=college.InternshipOutcome.COMPLETED,
    )


async def test_a_new_version_with_a_defined_indicator_scores_a_cycle(
    client: httpx.AsyncClient, infra: Infrastructure, dev_keys_dir: Path
) -> None:
    sup = bearer(dev_keys_dir, "supervisor", sub="sup-lead")
    v1 = (await client.get("/frameworks/default/versions/1", headers=sup)).json()
    draft = await client.post("/frameworks/default/versions", json={"name": "Default + long stays"}, headers=sup)
    assert draft.status_code == 201, draft.text
    # Room for the new indicator's 500 bp: RI-01 gives up 500 of its 800.
    indicators: list[dict[str, Any]] = [
        {**i, "weight_bp": 300} if i["code"] == "RI-01" else i for i in v1["indicators"]
    ]

    malformed = {**LONG_STAYS, "computation": {**LONG_STAYS["computation"], "fields": ["post"]}}  # type: ignore[dict-item]
    refused = await client.put(
        "/frameworks/default/versions/2",
        json={"indicators": [*indicators, malformed]},
        headers={**sup, **etag(draft), "Accept-Language": "en"},
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "request.invalid"
    assert "unknown field 'post'" in refused.text

    edited = await client.put(
        "/frameworks/default/versions/2",
        json={"indicators": [*indicators, LONG_STAYS]},
        headers={**sup, **etag(draft)},
    )
    assert edited.status_code == 200, edited.text
    published = await client.post("/frameworks/default/versions/2/publish", headers={**sup, **etag(edited)})
    assert published.status_code == 200, published.text
    stored = {i["code"]: i for i in published.json()["indicators"]}
    assert stored["TT-09"]["computation"]["records"]["where"][0] == {
        "field": "months_completed",
        "op": "ge",
        "value": 6,
    }

    # S1 twice (counted once), S2 long enough, S3 too short: 2 of the target 4.
    await send_reports(
        infra,
        [
            report_record(stay("LS-1", "S1", 7)),
            report_record(stay("LS-2", "S1", 8)),
            report_record(stay("LS-3", "S2", 6)),
            report_record(stay("LS-4", "S3", 2)),
        ],
    )
    window = f"?window_start={WINDOW_START}&window_end={WINDOW_END}"

    async def stored_reports() -> bool:
        body = (await client.get(f"/agreements/{AGR}/evidence{window}", headers=sup)).json()
        return bool(body["reports_in_window"] == 4)

    await wait_for(stored_reports)

    opened = await open_cycle(client, sup, [AGR], framework_id="default", framework_version=2)
    await complete_cycle(client, sup, opened)
    (result,) = (await client.get(f"/agreements/{AGR}/results", headers=sup)).json()["results"]
    assert result["framework_version"] == 2
    by_code = {i["code"]: i for i in result["indicators"]}
    assert by_code["TT-09"]["value"] == "2"
    assert by_code["TT-09"]["band"] == "needs_improvement"  # 2 < 80 % of 4, not below 50 %
    assert by_code["TT-09"]["score_hundredths"] == 5000  # min(100, 100 × 2 / 4)
    assert "1 of 4 records left out (kept: months_completed ge 6)" in by_code["TT-09"]["explanation"]
    # The shipped indicators still score from their own definitions beside it.
    assert by_code["TT-02"]["value"] == "2"
