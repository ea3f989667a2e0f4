"""A full cycle on the real servers: a framework version with a panel indicator, a cycle
chosen by region, a panel with conflict-of-interest checks and scores, completion with
results and events, rankings and the dashboard, appeals upheld and rejected, and a
rectification order returned and closed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app, compose
from alliance_evaluation.service.appeals import finish_upheld_appeals
from alliance_shared.contract import college
from alliance_shared.contract.evaluation import AppealDecision
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.persistence.versioned_store import AuditNote
from tests.integration.evaluation.evaluation_support import (
    LAST_YEAR,
    WINDOW_END,
    WINDOW_START,
    agreement_event,
    etag,
    evaluation_events,
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

RUN = uuid.uuid4().hex[:8]
GOOD, POOR, ELSEWHERE = new_id("agr-good"), new_id("agr-poor"), new_id("agr-bj")
C1, E1, C2, E2, C3, E3 = (new_id(p) for p in ("col", "ent", "col", "ent", "col", "ent"))
OBLIGATIONS = [{"party_id": E1, "metric": "internship_posts", "quantity": 4, "period": "per_year"}]
PANEL_INDICATOR = {
    "code": "PN-01",
    "dimension": "cooperation_depth",
    "name_zh": "评审组综合评价",
    "name_en": "panel overall assessment",
    "unit": "points",
    "source": "panel",
    "measure": None,
    "computation": None,
    "weight_bp": 500,
    "needs_improvement": {"basis": "absolute", "value": "75"},
    "at_risk": {"basis": "absolute", "value": "60"},
}


class Ctx:
    """What the steps of this module share (they run in order)."""

    cycle: dict[str, Any]
    results: dict[str, dict[str, Any]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = evaluation_settings(infra, f"cyc_{RUN}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_app(settings)) as http:
        await send(
            infra,
            REGISTRY_EVENTS,
            [
                agreement_event(
                    GOOD,
                    "activated",
                    college_ids=[C1],
                    enterprise_ids=[E1],
                    obligations=OBLIGATIONS,
                    modes=["internship_base", "teacher_exchange"],
                ),
                agreement_event(POOR, "activated", college_ids=[C2], enterprise_ids=[E2]),
                agreement_event(ELSEWHERE, "activated", college_ids=[C3], enterprise_ids=[E3], region_code="110100"),
            ],
        )
        supervisor = bearer(dev_keys_dir, "supervisor")

        async def known() -> bool:
            for agreement_id in (GOOD, POOR, ELSEWHERE):
                if (await http.get(f"/agreements/{agreement_id}", headers=supervisor)).status_code != 200:
                    return False
            return True

        await wait_for(known)
        await send_reports(infra, [report_record(r) for r in good_reports()])

        async def ingested() -> bool:
            response = await http.get(
                f"/agreements/{GOOD}/evidence?window_start={WINDOW_START}&window_end={WINDOW_END}", headers=supervisor
            )
            return bool(response.json()["reports_received"] == 12)

        await wait_for(ingested)
        yield http


def _base(report_id: str, month: int) -> dict[str, Any]:
    return {"report_id": report_id, "agreement_id": GOOD, "college_id": C1, "occurred_on": date(LAST_YEAR, month, 10)}


def good_reports() -> list[Any]:
    """A year of cooperation, some activity every month."""
    reports: list[Any] = [
        college.InternshipPlaced(
            **_base(f"PL-{m}", m),
            student_ref=f"S{m}",
            enterprise_id=E1,
            post="assistant",
            start_date=date(LAST_YEAR, m, 10),
            planned_months=6,
        )
        for m in range(1, 7)
    ]
    reports += [
        college.InternshipCompleted(
            **_base(f"PC-{m}", m + 6),
            student_ref=f"S{m}",
            enterprise_id=E1,
            months_completed=6,
            outcome=college.InternshipOutcome.COMPLETED,
        )
        for m in range(1, 5)
    ]
    reports.append(college.TeacherPracticeCompleted(**_base("TP-1", 11), teacher_ref="T1", enterprise_id=E1, days=30))
    reports.append(
        college.EngineerTeachingReported(
            **_base("ET-1", 12), engineer_ref="E7", enterprise_id=E1, course="PLC programming", hours=48
        )
    )
    return reports


def sup(keys: Path, sub: str = "sup-lead") -> dict[str, str]:
    return bearer(keys, "supervisor", sub=sub)


async def test_1_framework_version_with_a_panel_indicator(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    v1 = await client.get("/frameworks/default/versions/1", headers=bearer(dev_keys_dir, "auditor"))
    assert v1.status_code == 200
    assert v1.json()["status"] == "published"
    assert len(v1.json()["indicators"]) == 22
    indicators = [{**i, "weight_bp": 300} if i["code"] == "RI-01" else i for i in v1.json()["indicators"]] + [
        PANEL_INDICATOR
    ]
    immutable = await client.put(
        "/frameworks/default/versions/1", json={"name": "x"}, headers={**sup(dev_keys_dir), **etag(v1)}
    )
    assert immutable.status_code == 422
    assert immutable.json()["code"] == "framework.published_immutable"

    draft = await client.post(
        "/frameworks/default/versions", json={"name": "Default with panel"}, headers=sup(dev_keys_dir)
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["version"] == 2
    assert draft.json()["status"] == "draft"
    again = await client.post("/frameworks/default/versions", json={}, headers=sup(dev_keys_dir))
    assert again.status_code == 409
    duplicate = await client.put(
        "/frameworks/default/versions/2",
        json={"indicators": [*indicators, PANEL_INDICATOR]},
        headers={**sup(dev_keys_dir), **etag(draft)},
    )
    assert duplicate.status_code == 422
    assert duplicate.json()["code"] == "framework.invalid"
    edited = await client.put(
        "/frameworks/default/versions/2", json={"indicators": indicators}, headers={**sup(dev_keys_dir), **etag(draft)}
    )
    assert edited.status_code == 200, edited.text
    stale = await client.post("/frameworks/default/versions/2/publish", headers={**sup(dev_keys_dir), **etag(draft)})
    assert stale.status_code == 412
    published = await client.post(
        "/frameworks/default/versions/2/publish", headers={**sup(dev_keys_dir), **etag(edited)}
    )
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    listed = await client.get("/frameworks", headers=bearer(dev_keys_dir, "college", partner_id=C1))
    assert {(f["version"], f["status"]) for f in listed.json()["items"]} == {(1, "published"), (2, "published")}


async def test_2_open_cycle_by_region_and_seat_a_panel(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    body = {
        "kind": "annual",
        "name": f"Annual {LAST_YEAR}",
        "region_prefix": "33",
        "window_start": str(WINDOW_START),
        "window_end": str(WINDOW_END),
        "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "framework_id": "default",
        "framework_version": 2,
    }
    both = await client.post("/cycles", json={**body, "agreement_ids": [GOOD]}, headers=sup(dev_keys_dir))
    assert both.status_code == 422
    opened = await client.post("/cycles", json=body, headers=sup(dev_keys_dir))
    assert opened.status_code == 201, opened.text
    cycle = opened.json()
    assert sorted(cycle["agreement_ids"]) == sorted([GOOD, POOR])  # the Beijing agreement is not in region 33
    assert cycle["status"] == "open"
    Ctx.cycle = cycle
    panel = f"/cycles/{cycle['cycle_id']}/panels/{GOOD}"

    conflicted = await client.post(
        f"{panel}/members",
        json={"evaluator_id": "ie-bad", "role": "industry_expert", "affiliation_partner_ids": [E1]},
        headers=sup(dev_keys_dir),
    )
    assert conflicted.status_code == 422
    assert conflicted.json()["code"] == "panel.conflict_of_interest"
    members = [("sup-panel", "supervisor", []), ("rep-1", "enterprise_representative", [E1])]
    members += [(f"ie-{i}", "industry_expert", []) for i in range(1, 6)]
    for evaluator_id, role, affiliations in members:
        seated = await client.post(
            f"{panel}/members",
            json={"evaluator_id": evaluator_id, "role": role, "affiliation_partner_ids": affiliations},
            headers=sup(dev_keys_dir),
        )
        assert seated.status_code == 201, seated.text

    outsider = await client.put(
        f"{panel}/scores/PN-01", json={"score": 10}, headers=bearer(dev_keys_dir, "evaluator", sub="ie-outsider")
    )
    assert outsider.status_code == 403
    not_panel = await client.put(
        f"{panel}/scores/TT-01", json={"score": 10}, headers=bearer(dev_keys_dir, "evaluator", sub="ie-1")
    )
    assert not_panel.status_code == 422
    assert not_panel.json()["code"] == "panel.not_panel_indicator"
    scores = {"sup-panel": 70, "rep-1": 90, "ie-1": 60, "ie-2": 70, "ie-3": 80, "ie-4": 90, "ie-5": 100}
    for evaluator_id, score in scores.items():
        role = "supervisor" if evaluator_id.startswith("sup") else "evaluator"
        scored = await client.put(
            f"{panel}/scores/PN-01", json={"score": score}, headers=bearer(dev_keys_dir, role, sub=evaluator_id)
        )
        assert scored.status_code == 200, scored.text
    seen = await client.get(panel, headers=bearer(dev_keys_dir, "evaluator", sub="ie-3"))
    assert len(seen.json()["scores"]) == 7
    hidden = await client.get(panel, headers=bearer(dev_keys_dir, "evaluator", sub="ie-outsider"))
    assert hidden.status_code == 403


async def test_3_complete_the_cycle(client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure) -> None:
    cycle_id = Ctx.cycle["cycle_id"]
    current = await client.get(f"/cycles/{cycle_id}", headers=sup(dev_keys_dir))
    early = await client.post(f"/cycles/{cycle_id}/complete", headers={**sup(dev_keys_dir), **etag(current)})
    assert early.status_code == 409
    assert (await client.post(f"/cycles/{cycle_id}/start-scoring", headers=sup(dev_keys_dir))).status_code == 428
    scoring = await client.post(f"/cycles/{cycle_id}/start-scoring", headers={**sup(dev_keys_dir), **etag(current)})
    assert scoring.status_code == 200
    assert scoring.json()["status"] == "scoring"
    done = await client.post(f"/cycles/{cycle_id}/complete", headers={**sup(dev_keys_dir), **etag(scoring)})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"

    results: dict[str, dict[str, Any]] = {}
    for agreement_id, party in ((GOOD, C1), (POOR, E2)):
        listed = await client.get(
            f"/agreements/{agreement_id}/results",
            headers=bearer(dev_keys_dir, "college" if party.startswith("col") else "enterprise", partner_id=party),
        )
        assert listed.status_code == 200, listed.text
        (result,) = listed.json()["results"]
        assert listed.json()["trend"][0]["result_id"] == result["result_id"]
        results[agreement_id] = result
    Ctx.results = results
    good, poor = results[GOOD], results[POOR]
    by_code = {i["code"]: i for i in good["indicators"]}
    assert by_code["TT-01"]["value"] == "6"  # six placements against a target of 4 posts
    assert by_code["TT-01"]["score_hundredths"] == 10_000
    assert by_code["TT-04"]["value"] == "66.67"  # 4 of 6 placed students completed
    # 60 (ie-1) and 100 (ie-5) dropped across the panel: (3000×70 + 2500×80 + 1500×90) / 7000
    assert by_code["PN-01"]["value"] == "77.86"
    assert "highest 100 (ie-5) and lowest 60 (ie-1) dropped" in by_code["PN-01"]["explanation"]
    assert by_code["SA-01"]["band"] == "no_evidence"
    assert good["grade"] != "fail"
    assert good["formality_risk"] is False
    assert good["actual_depth"] == "deep"  # teachers out and engineers in, alongside internships
    assert sorted(good["panel_evaluator_ids"]) == sorted(["sup-panel", "rep-1", "ie-1", "ie-2", "ie-3", "ie-4", "ie-5"])
    assert poor["grade"] == "fail"
    assert poor["score_hundredths"] == 0
    assert poor["formality_risk"] is True
    assert good["score_hundredths"] > poor["score_hundredths"]

    stranger = await client.get(f"/results/{good['result_id']}", headers=bearer(dev_keys_dir, "college", partner_id=C2))
    assert stranger.status_code == 403
    wanted = {good["result_id"], poor["result_id"], cycle_id}
    events = await evaluation_events(
        infra,
        # (each seat's panel.member_seated is the notifications' business, not this test's)
        lambda data, t: (data.get("result_id") in wanted or data.get("cycle_id") == cycle_id) and ".panel." not in t,
        expect=7,
    )
    types = sorted(t.split(".")[3] + "." + t.split(".")[4] for t, _ in events)
    assert types == [
        "cycle.closed",
        "cycle.opened",
        "formality_risk.flagged",
        "rectification.ordered",
        "rectification.ordered",
        "result.completed",
        "result.completed",
    ]
    ordered = {d["agreement_id"]: d for t, d in events if t.endswith("rectification.ordered.v1")}
    # TT-06 (no certificates) is at risk; no obligation drives it (its target is fixed), so the
    # college answers, not the enterprise that made the agreement's (unrelated) commitments
    assert ordered[GOOD]["responsible_party_id"] == C1
    assert [i["indicator_code"] for i in ordered[GOOD]["items"]] == ["TT-06"]
    assert ordered[POOR]["responsible_party_id"] == C2
    completed = {d["agreement_id"]: d for t, d in events if t.endswith("result.completed.v1")}
    assert completed[GOOD]["score_hundredths"] == good["score_hundredths"]
    assert completed[GOOD]["framework_version"] == 2
    assert completed[GOOD]["cycle_kind"] == "annual"
    assert completed[GOOD]["party_ids"] == [C1, E1]
    assert completed[GOOD]["college_ids"] == [C1]
    assert completed[GOOD]["enterprise_ids"] == [E1]
    assert len(completed[GOOD]["indicators"]) == 23  # the 22 of v1 and PN-01
    assert completed[POOR]["grade"] == "fail"


async def test_4_ranking_and_dashboard(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    cycle_id = Ctx.cycle["cycle_id"]
    ranking = await client.get(f"/cycles/{cycle_id}/ranking", headers=bearer(dev_keys_dir, "auditor"))
    assert [(r["rank"], r["agreement_id"]) for r in ranking.json()["ranking"]] == [(1, GOOD), (2, POOR)]
    as_csv = await client.get(f"/cycles/{cycle_id}/ranking", headers={**sup(dev_keys_dir), "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for spreadsheet programs
    lines = as_csv.text.removeprefix("\ufeff").strip().splitlines()
    assert lines[0].startswith("排名,协议编号,结果编号,得分")  # headers in the reader's language (zh-CN unless told)
    assert lines[1].startswith(f"1,{GOOD},")
    assert len(lines) == 3
    board = (await client.get(f"/cycles/{cycle_id}/dashboard", headers=sup(dev_keys_dir))).json()
    assert board["grade_distribution"]["fail"] == 1
    assert sum(board["grade_distribution"].values()) == 2
    assert board["by_region"]["33"]["agreements"] == 2
    assert board["by_mode"]["teacher_exchange"]["agreements"] == 1
    assert [f["agreement_id"] for f in board["formality_risk"]] == [POOR]
    board_csv = await client.get(f"/cycles/{cycle_id}/dashboard?format=csv", headers=sup(dev_keys_dir))
    assert "formality_risk," + POOR in board_csv.text


async def test_5_appeal_upheld_rescores_and_supersedes(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    old = Ctx.results[GOOD]
    outsider = await client.post(
        f"/results/{old['result_id']}/appeals",
        json={"grounds": "x"},
        headers=bearer(dev_keys_dir, "college", partner_id=C2),
    )
    assert outsider.status_code == 403
    lodged = await client.post(
        f"/results/{old['result_id']}/appeals",
        json={"grounds": "employer survey of December was not counted"},
        headers=bearer(dev_keys_dir, "college", partner_id=C1),
    )
    assert lodged.status_code == 201, lodged.text
    appeal_id = lodged.json()["appeal_id"]
    assert lodged.json()["appellant_party_id"] == C1
    conflicted = await client.post(
        f"/appeals/{appeal_id}/decision",
        json={"decision": "upheld", "reason": "r"},
        headers={**sup(dev_keys_dir, "sup-panel"), **etag(lodged)},
    )
    assert conflicted.status_code == 422
    assert conflicted.json()["code"] == "appeal.decider_conflict"

    survey = college.SurveySubmitted(
        **_base("SV-EMP", 12),
        respondent_kind=college.RespondentKind.EMPLOYER,
        respondents=20,
        mean_score_hundredths=390,
    )
    await send_reports(infra, [report_record(survey)])

    async def ingested() -> bool:
        response = await client.get(
            f"/agreements/{GOOD}/evidence?window_start={WINDOW_START}&window_end={WINDOW_END}",
            headers=sup(dev_keys_dir),
        )
        return bool(response.json()["reports_received"] == 13)

    await wait_for(ingested)
    decided = await client.post(
        f"/appeals/{appeal_id}/decision",
        json={"decision": "upheld", "reason": "the survey was sent in time; verified"},
        headers={**sup(dev_keys_dir), **etag(lodged)},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["appeal"]["status"] == "upheld"
    new = decided.json()["new_result"]
    assert new["supersedes_result_id"] == old["result_id"]
    assert {i["code"]: i for i in new["indicators"]}["SA-01"]["value"] == "3.9"
    retired = await client.get(f"/results/{old['result_id']}", headers=bearer(dev_keys_dir, "auditor"))
    assert retired.json()["status"] == "superseded"
    assert retired.json()["superseded_by_result_id"] == new["result_id"]
    again = await client.post(
        f"/results/{old['result_id']}/appeals",
        json={"grounds": "again"},
        headers=bearer(dev_keys_dir, "enterprise", partner_id=E1),
    )
    assert again.status_code == 422
    assert again.json()["code"] == "appeal.result_superseded"
    trend = (await client.get(f"/agreements/{GOOD}/results", headers=sup(dev_keys_dir))).json()
    assert [p["result_id"] for p in trend["trend"]] == [new["result_id"]]
    assert len(trend["results"]) == 2

    events = await evaluation_events(
        infra,
        lambda data, t: data.get("appeal_id") == appeal_id or data.get("result_id") == new["result_id"],
        expect=4,
    )
    kinds = sorted(t.split(".")[3] + "." + t.split(".")[4] for t, _ in events)
    assert kinds == ["appeal.decided", "appeal.lodged", "result.completed", "result.superseded"]
    superseded = next(d for t, d in events if t.endswith("result.superseded.v1"))
    assert superseded["result_id"] == old["result_id"]
    assert superseded["superseded_by_result_id"] == new["result_id"]
    recompleted = next(d for t, d in events if t.endswith("result.completed.v1"))
    assert recompleted["supersedes_result_id"] == old["result_id"]
    Ctx.results[GOOD] = new


async def test_5b_an_upheld_appeal_cut_off_before_its_rescore_is_finished_by_the_periodic_check(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    current = Ctx.results[GOOD]
    lodged = await client.post(
        f"/results/{current['result_id']}/appeals",
        json={"grounds": "the engineer hours of the spring term are missing"},
        headers=bearer(dev_keys_dir, "enterprise", partner_id=E1),
    )
    assert lodged.status_code == 201, lodged.text
    appeal_id = lodged.json()["appeal_id"]
    # The state a crash between the two writes of decide_appeal leaves: the decision saved, no re-score.
    settings = evaluation_settings(infra, f"cyc_{RUN}", dev_keys_dir)
    _, ctx = compose(settings)
    repos = ctx.repos
    appeal = await repos.appeals.require(appeal_id, "appeal.not_found", "appeal")
    result = await repos.results.require(current["result_id"], "result.not_found", "result")
    appeal.item.decide(AppealDecision.UPHELD, "verified", result.item, datetime.now(UTC), "sup-lead")
    await repos.appeals.save(appeal_id, appeal.version, appeal.item, AuditNote("appeal.decided", "appeal", appeal_id))
    still = await client.get(f"/results/{current['result_id']}", headers=sup(dev_keys_dir))
    assert still.json()["status"] == "current"

    assert await finish_upheld_appeals(ctx) == 1
    assert await finish_upheld_appeals(ctx) == 0  # done once, not again
    retired = await client.get(f"/results/{current['result_id']}", headers=sup(dev_keys_dir))
    assert retired.json()["status"] == "superseded"
    trend = (await client.get(f"/agreements/{GOOD}/results", headers=sup(dev_keys_dir))).json()
    assert len(trend["results"]) == 3
    assert trend["trend"][0]["result_id"] == retired.json()["superseded_by_result_id"]


async def test_6_appeal_rejected_leaves_the_result(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    poor = Ctx.results[POOR]
    lodged = await client.post(
        f"/results/{poor['result_id']}/appeals",
        json={"grounds": "we were busy"},
        headers=bearer(dev_keys_dir, "enterprise", partner_id=E2),
    )
    assert lodged.status_code == 201
    appeal_id = lodged.json()["appeal_id"]
    decided = await client.post(
        f"/appeals/{appeal_id}/decision",
        json={"decision": "rejected", "reason": "no evidence of any activity"},
        headers={**sup(dev_keys_dir), **etag(lodged)},
    )
    assert decided.status_code == 200
    assert decided.json()["appeal"]["status"] == "rejected"
    assert decided.json()["new_result"] is None
    twice = await client.post(
        f"/appeals/{appeal_id}/decision",
        json={"decision": "upheld", "reason": "r"},
        headers={**sup(dev_keys_dir), "If-Match": decided.headers["etag"]},
    )
    assert twice.status_code == 409
    still = await client.get(f"/results/{poor['result_id']}", headers=bearer(dev_keys_dir, "college", partner_id=C2))
    assert still.json()["status"] == "current"
    events = await evaluation_events(
        infra, lambda data, t: data.get("appeal_id") == appeal_id and t.endswith("appeal.decided.v1"), expect=1
    )
    assert events[0][1]["decision"] == "rejected"


async def test_7_rectification_returned_then_closed(
    client: httpx.AsyncClient, dev_keys_dir: Path, infra: Infrastructure
) -> None:
    cycle_id = Ctx.cycle["cycle_id"]
    college_c2 = bearer(dev_keys_dir, "college", partner_id=C2)
    (order,) = (await client.get(f"/rectifications?cycle_id={cycle_id}", headers=college_c2)).json()["items"]
    assert order["agreement_id"] == POOR
    assert order["responsible_party_id"] == C2
    assert {i["indicator_code"] for i in order["items"]} >= {"COMPOSITE", "CD-02"}
    mine = await client.get(
        f"/rectifications?cycle_id={cycle_id}", headers=bearer(dev_keys_dir, "college", partner_id=C1)
    )
    assert [o["agreement_id"] for o in mine.json()["items"]] == [GOOD]  # parties see their own agreements' orders
    url = f"/rectifications/{order['order_id']}"
    current = await client.get(url, headers=college_c2)
    body = {"evidence_refs": ["att://rect/plan.pdf"]}
    wrong_party = await client.post(
        f"{url}/response", json=body, headers={**bearer(dev_keys_dir, "enterprise", partner_id=E2), **etag(current)}
    )
    assert wrong_party.status_code == 403
    assert (await client.post(f"{url}/response", json=body, headers=college_c2)).status_code == 428
    responded = await client.post(f"{url}/response", json=body, headers={**college_c2, **etag(current)})
    assert responded.status_code == 200, responded.text
    assert responded.json()["status"] == "responded"
    returned = await client.post(
        f"{url}/return", json={"reason": "the plan has no dates"}, headers={**sup(dev_keys_dir), **etag(responded)}
    )
    assert returned.json()["status"] == "open"
    again = await client.post(
        f"{url}/response", json={"evidence_refs": ["att://rect/plan-v2.pdf"]}, headers={**college_c2, **etag(returned)}
    )
    assert again.status_code == 200
    closed = await client.post(
        f"{url}/close", json={"reason": "verified on site"}, headers={**sup(dev_keys_dir), **etag(again)}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    events = await evaluation_events(infra, lambda data, t: data.get("order_id") == order["order_id"], expect=5)
    kinds = [t.split(".")[4] for t, _ in events]
    assert kinds == ["ordered", "responded", "returned", "responded", "closed"]
    assert events[-1][1]["was_overdue"] is False
