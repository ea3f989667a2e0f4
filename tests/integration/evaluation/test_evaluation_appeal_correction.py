"""Issue #14 item 5 on the real servers: an upheld appeal corrects panel scores — one new
score given by the original evaluator, one by the deciding supervisor, each with its
reason — the result is recomputed from them, and the superseded result stays in the
agreement's history beside the current one."""

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

AGR, COL, ENT = new_id("agr-fix"), new_id("col"), new_id("ent")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    agreements = [agreement_event(AGR, "activated", college_ids=[COL], enterprise_ids=[ENT])]
    async with running_evaluation(infra, dev_keys_dir, f"fix_{uuid.uuid4().hex[:8]}", agreements) as http:
        yield http


async def test_an_upheld_appeal_corrects_panel_scores_and_keeps_the_old_result(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    sup = bearer(dev_keys_dir, "supervisor", sub="sup-lead")
    opened = await open_cycle(client, sup, [AGR])
    cycle_id = opened.json()["cycle_id"]
    panel = f"/cycles/{cycle_id}/panels/{AGR}"
    for evaluator_id in ("ie-wu", "ie-li"):
        seated = await client.post(
            f"{panel}/members", json={"evaluator_id": evaluator_id, "role": "industry_expert"}, headers=sup
        )
        assert seated.status_code == 201, seated.text
        scored = await client.put(
            f"{panel}/scores/PR-02", json={"score": 40}, headers=bearer(dev_keys_dir, "evaluator", sub=evaluator_id)
        )
        assert scored.status_code == 200, scored.text
    await complete_cycle(client, sup, opened)
    (old,) = (await client.get(f"/agreements/{AGR}/results", headers=sup)).json()["results"]
    old_pr02 = next(i for i in old["indicators"] if i["code"] == "PR-02")
    assert old_pr02["value"] == "40"

    lodged = await client.post(
        f"/results/{old['result_id']}/appeals",
        json={"grounds": "the experts missed the second training base"},
        headers=bearer(dev_keys_dir, "college", partner_id=COL),
    )
    assert lodged.status_code == 201, lodged.text
    decision = f"/appeals/{lodged.json()['appeal_id']}/decision"
    decider = {**bearer(dev_keys_dir, "supervisor", sub="sup-other"), "If-Match": '"1"', "Accept-Language": "en"}
    corrections = [
        {
            "evaluator_id": "ie-wu",
            "indicator_code": "PR-02",
            "score": 80,
            "given_by": "original_evaluator",
            "reason": "re-scored after the follow-up visit",
        },
        {
            "evaluator_id": "ie-li",
            "indicator_code": "PR-02",
            "score": 90,
            "given_by": "deciding_supervisor",
            "reason": "the second base is on the asset register",
        },
    ]
    rejected_with_scores = await client.post(
        decision, json={"decision": "rejected", "reason": "x", "score_corrections": corrections}, headers=decider
    )
    assert rejected_with_scores.status_code == 422
    assert rejected_with_scores.json()["code"] == "appeal.corrections_need_upheld"
    unknown = await client.post(
        decision,
        json={"decision": "upheld", "reason": "x", "score_corrections": [{**corrections[0], "evaluator_id": "nobody"}]},
        headers=decider,
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "panel.no_such_score"

    upheld = await client.post(
        decision,
        json={"decision": "upheld", "reason": "the second base exists", "score_corrections": corrections},
        headers=decider,
    )
    assert upheld.status_code == 200, upheld.text
    assert [c["score"] for c in upheld.json()["appeal"]["score_corrections"]] == [80, 90]
    new = upheld.json()["new_result"]
    new_pr02 = next(i for i in new["indicators"] if i["code"] == "PR-02")
    assert new_pr02["value"] == "85"  # (80 + 90) / 2: both experts, corrected
    assert "corrected on appeal: ie-li 40 → 90" in new_pr02["explanation"]
    assert new["score_hundredths"] > old["score_hundredths"]

    history = {
        r["result_id"]: r for r in (await client.get(f"/agreements/{AGR}/results", headers=sup)).json()["results"]
    }
    assert {rid: r["status"] for rid, r in history.items()} == {
        old["result_id"]: "superseded",
        new["result_id"]: "current",
    }
    assert history[old["result_id"]]["superseded_by_result_id"] == new["result_id"]
    assert next(i for i in history[old["result_id"]]["indicators"] if i["code"] == "PR-02")["value"] == "40"
    upheld_list = await client.get("/appeals", params={"status": "upheld", "agreement_id": AGR}, headers=sup)
    assert [a["appeal_id"] for a in upheld_list.json()["items"]] == [lodged.json()["appeal_id"]]
