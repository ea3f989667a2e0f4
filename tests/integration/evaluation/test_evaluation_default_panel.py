"""The shipped default framework (v1) has panel indicators: a seated panel scores them
through the API and its scores change the result, trimmed across the whole panel
(docs/evaluation.md, "How a panel scores", the worked example)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from tests.integration.evaluation.evaluation_support import (
    agreement_event,
    complete_cycle,
    new_id,
    open_cycle,
    running_evaluation,
)
from tests.support.http import bearer

pytestmark = pytest.mark.infra

AGREEMENT, COLLEGE, ENTERPRISE = new_id("agr-panel"), new_id("col"), new_id("ent")
#: The worked example: (evaluator, role, PR-01 score).
WORKED_EXAMPLE = [
    ("zhao", "supervisor", 80),
    ("sun", "industry_expert", 90),
    ("zhou", "industry_expert", 40),
    ("ent-rep", "enterprise_representative", 95),
    ("col-self", "college_self_assessment", 82),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    agreements = [agreement_event(AGREEMENT, "activated", college_ids=[COLLEGE], enterprise_ids=[ENTERPRISE])]
    async with running_evaluation(infra, dev_keys_dir, f"panel_{uuid.uuid4().hex[:8]}", agreements) as http:
        yield http


async def run_cycle(
    client: httpx.AsyncClient, keys: Path, scores: list[tuple[str, str, dict[str, int]]]
) -> dict[str, object]:
    """Open a cycle on the default v1, seat and score the panel, complete it; the result."""
    sup = bearer(keys, "supervisor", sub="sup-lead")
    opened = await open_cycle(client, sup, [AGREEMENT])
    assert (opened.json()["framework_id"], opened.json()["framework_version"]) == ("default", 1)
    panel = f"/cycles/{opened.json()['cycle_id']}/panels/{AGREEMENT}"
    for evaluator_id, role, by_code in scores:
        seated = await client.post(f"{panel}/members", json={"evaluator_id": evaluator_id, "role": role}, headers=sup)
        assert seated.status_code == 201, seated.text
        token = bearer(keys, "supervisor" if role == "supervisor" else "evaluator", sub=evaluator_id)
        for code, score in by_code.items():
            scored = await client.put(f"{panel}/scores/{code}", json={"score": score}, headers=token)
            assert scored.status_code == 200, scored.text
    await complete_cycle(client, sup, opened)
    listed = await client.get(f"/agreements/{AGREEMENT}/results", headers=sup)
    (result,) = [r for r in listed.json()["results"] if r["cycle_id"] == opened.json()["cycle_id"]]
    return dict(result)


async def test_the_default_panel_scores_and_its_scores_decide_the_result(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    v1 = await client.get("/frameworks/default/versions/1", headers=bearer(dev_keys_dir, "auditor"))
    panel_codes = [i["code"] for i in v1.json()["indicators"] if i["source"] == "panel"]
    assert panel_codes == ["PR-01", "PR-02", "PR-03"]

    good = await run_cycle(
        client,
        dev_keys_dir,
        [(who, role, {"PR-01": score, "PR-02": 90, "PR-03": 90}) for who, role, score in WORKED_EXAMPLE],
    )
    by_code = {i["code"]: i for i in good["indicators"]}  # type: ignore[attr-defined]
    assert by_code["PR-01"]["value"] == "84"  # (3000×80 + 2500×90 + 1500×82) / 7000, 40 and 95 dropped
    assert "highest 95 (ent-rep) and lowest 40 (zhou) dropped" in by_code["PR-01"]["explanation"]
    assert by_code["PR-02"]["value"] == "90"
    # No reports: besides the panel only CD-01 and CD-02 count (0 each, 400 bp each):
    # (600×84 + 500×90 + 400×90 + 800×0) / 2300 = 57.13
    assert (by_code["CD-01"]["score_hundredths"], by_code["CD-02"]["score_hundredths"]) == (0, 0)
    assert good["score_hundredths"] == 5713

    poor = await run_cycle(
        client,
        dev_keys_dir,
        [(who, role, {"PR-01": 30, "PR-02": 30, "PR-03": 30}) for who, role, _ in WORKED_EXAMPLE],
    )
    assert poor["score_hundredths"] == 1957  # (1500×30 + 800×0) / 2300 = 19.57: the panel's scores decide
