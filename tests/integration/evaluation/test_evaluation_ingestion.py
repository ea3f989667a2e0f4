"""College report ingestion on the real servers: a batch with duplicates, out-of-order,
malformed and foreign reports gives exact evidence, the right dead letters and one
rejection event per rejected report; manual evidence by enterprises and supervisors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
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
    dlq_records,
    evaluation_events,
    evaluation_settings,
    new_id,
    raw_record,
    report_record,
    send,
    send_reports,
    wait_for,
)
from tests.support.http import bearer, running
from tests.support.kafka_io import header, skip_history

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
AGR, INACTIVE = new_id("agr-ing"), new_id("agr-ing-off")
COL, ENT, FOREIGN, OTHER_ENT = new_id("col"), new_id("ent"), new_id("col-x"), new_id("ent-x")
WINDOW = "?window_start=2025-01-01&window_end=2025-12-31"
PLACED = "org.coopalliance.college.internship.placed.v1"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    # A report for an unknown agreement is parked first; a short wait dead-letters it here.
    settings = evaluation_settings(
        infra, f"ing_{RUN}", dev_keys_dir, parked_report_max_seconds=1, overdue_check_seconds=0.5
    )
    await skip_history(infra.kafka_admin, settings.consumer_group)
    async with running(build_app(settings)) as http:
        await send(
            infra,
            REGISTRY_EVENTS,
            [
                agreement_event(AGR, "activated", college_ids=[COL], enterprise_ids=[ENT]),
                agreement_event(INACTIVE, "activated", college_ids=[COL], enterprise_ids=[ENT]),
                agreement_event(INACTIVE, "suspended", college_ids=[COL], enterprise_ids=[ENT]),
            ],
        )
        supervisor = bearer(dev_keys_dir, "supervisor")

        async def known() -> bool:
            a = await http.get(f"/agreements/{AGR}", headers=supervisor)
            b = await http.get(f"/agreements/{INACTIVE}", headers=supervisor)
            return a.status_code == 200 and b.status_code == 200 and b.json()["status"] == "suspended"

        await wait_for(known)
        yield http


def base(report_id: str, agreement_id: str = AGR, college_id: str = COL) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "agreement_id": agreement_id,
        "college_id": college_id,
        "occurred_on": date(2025, 3, 3),
    }


def placed(report_id: str, student: str, **kw: Any) -> college.InternshipPlaced:
    enterprise = kw.pop("enterprise_id", ENT)
    return college.InternshipPlaced(
        **base(report_id, **kw),
        student_ref=student,
        enterprise_id=enterprise,
        post="CNC assistant",
        start_date=date(2025, 3, 3),
        planned_months=6,
    )


def completed(report_id: str, student: str, *, early: bool = False) -> college.InternshipCompleted:
    return college.InternshipCompleted(
        **{**base(report_id), "occurred_on": date(2025, 9, 1)},
        student_ref=student,
        enterprise_id=ENT,
        months_completed=1 if early else 6,
        outcome=college.InternshipOutcome.TERMINATED_EARLY if early else college.InternshipOutcome.COMPLETED,
        termination_reason=college.TerminationReason.STUDENT_CHOICE if early else None,
    )


async def test_a_batch_of_reports_gives_exact_evidence_dead_letters_and_rejections(
    client: httpx.AsyncClient, infra: Infrastructure, dev_keys_dir: Path
) -> None:
    redelivered = str(uuid.uuid4())
    invalid_twice = str(uuid.uuid4())
    survey_bad = {
        **base("SV-BAD"),
        "occurred_on": "2025-05-05",
        "respondent_kind": "employer",
        "respondents": 3,
        "mean_score_hundredths": 500,
    }
    rejected: dict[str, str] = {}  # event id -> expected reason code

    def reject(record: Any, code: str) -> Any:
        rejected[header_of(record, "ce_id")] = code
        return record

    batch = [
        # out of order: outcomes before the placements they end
        report_record(completed("PC-1", "S1")),
        report_record(completed("PC-2", "S2", early=True)),
        report_record(placed("PL-1", "S1"), event_id=redelivered),
        report_record(placed("PL-1", "S1"), event_id=redelivered),  # redelivery: same event id
        report_record(placed("PL-2", "S2")),
        report_record(placed("PL-2", "S2")),  # the same report again under a new event id
        report_record(placed("PL-3", "S3")),
        report_record(placed("PL-4", "S4")),
        report_record(
            college.SurveySubmitted(
                **base("SV-1"),
                respondent_kind=college.RespondentKind.EMPLOYER,
                respondents=10,
                mean_score_hundredths=300,
            )
        ),
        reject(raw_record(PLACED, b"{not json", key=AGR), "report.malformed_envelope"),
        reject(
            raw_record("org.coopalliance.college.survey.submitted.v1", survey_bad, key=AGR, event_id=invalid_twice),
            "report.invalid",
        ),
        raw_record("org.coopalliance.college.survey.submitted.v1", survey_bad, key=AGR, event_id=invalid_twice),
        reject(
            raw_record(
                "org.coopalliance.college.alien.reported.v1", base("AL-1") | {"occurred_on": "2025-01-01"}, key=AGR
            ),
            "report.unknown_type",
        ),
        reject(report_record(placed("PL-F", "S9", college_id=FOREIGN)), "report.college_not_party"),
        reject(report_record(placed("PL-U", "S8", agreement_id="agr-nobody-knows")), "report.unknown_agreement"),
        reject(report_record(placed("PL-I", "S7", agreement_id=INACTIVE)), "report.agreement_inactive"),
        reject(report_record(placed("PL-E", "S6", enterprise_id=OTHER_ENT)), "report.enterprise_not_party"),
    ]
    await send_reports(infra, batch, default_college=COL)
    supervisor = bearer(dev_keys_dir, "supervisor")

    async def evidence() -> dict[str, Any]:
        response = await client.get(f"/agreements/{AGR}/evidence{WINDOW}", headers=supervisor)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def all_in() -> bool:
        return bool((await evidence())["reports_received"] >= 7)

    await wait_for(all_in)
    dead = await dlq_records(infra, set(rejected), colleges=[COL, FOREIGN], expect=len(rejected) + 1)
    rejections = await evaluation_events(
        infra,
        lambda data, t: t.endswith("college_report.rejected.v1") and data.get("original_event_id") in rejected,
        expect=len(rejected),
    )
    await asyncio.sleep(1.0)  # room for any wrongful extra write to show

    body = await evidence()
    assert body["reports_received"] == 7
    assert body["reports_by_type"] == {
        PLACED: 4,
        "org.coopalliance.college.internship.completed.v1": 2,
        "org.coopalliance.college.survey.submitted.v1": 1,
    }
    figures = {f["measure"]: f for f in body["figures"]}
    assert figures["internship_placements"]["value"] == "4"
    assert figures["placement_completion_rate"]["value"] == "25"  # 1 of 4 students completed
    assert figures["early_termination_rate"]["value"] == "50"
    assert figures["employer_satisfaction"]["value"] == "3"
    assert figures["student_satisfaction"]["value"] is None
    assert figures["student_satisfaction"]["how"].startswith("no evidence")

    reasons = {header(r, "ce_id"): header(r, "dlq_reason") for r in dead}
    assert len(dead) == len(rejected) + 1  # the invalid report was sent twice
    assert reasons[invalid_twice] == "event.invalid_payload"
    assert set(reasons) == set(rejected)
    by_original = {data["original_event_id"]: data for _, data in rejections}
    assert len(rejections) == len(rejected)  # one per rejected event, also for the one sent twice
    assert {k: v["reason_code"] for k, v in by_original.items()} == rejected
    foreign = next(v for v in by_original.values() if v["reason_code"] == "report.college_not_party")
    assert foreign["college_id"] == FOREIGN
    assert foreign["report_id"] == "PL-F"
    assert foreign["agreement_id"] == AGR
    assert "not a party" in foreign["detail"]


def header_of(record: Any, name: str) -> str:
    for key, value in record[2]:
        if key == name:
            return str(value.decode())
    raise KeyError(name)


async def test_manual_evidence_by_own_enterprise_and_supervisor(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    investment = {
        "kind": "enterprise_investment",
        "occurred_on": "2025-05-20",
        "document_ref": "att://inv/1.pdf",
        "amount_minor": 50_000_000,
        "currency": "CNY",
    }
    own = bearer(dev_keys_dir, "enterprise", partner_id=ENT)
    created = await client.post(f"/agreements/{AGR}/evidence", json=investment, headers=own)
    assert created.status_code == 201, created.text
    assert created.json()["record"]["evidence"]["recorded_by"] == "enterprise-user"
    other = bearer(dev_keys_dir, "enterprise", partner_id=OTHER_ENT)
    refused = await client.post(f"/agreements/{AGR}/evidence", json=investment, headers=other)
    assert refused.status_code == 403
    assert refused.json()["code"] == "auth.object_forbidden"
    supervisor = bearer(dev_keys_dir, "supervisor")
    teachers = {
        "kind": "dual_qualified_teachers",
        "occurred_on": "2025-06-01",
        "document_ref": "att://hr/teachers.xlsx",
        "dual_qualified_teachers": 7,
        "cooperation_teachers": 10,
        "note": "HR register checked on site",
    }
    noted = await client.post(f"/agreements/{AGR}/evidence", json=teachers, headers=supervisor)
    assert noted.status_code == 201, noted.text
    assert noted.json()["record"]["note"] == "HR register checked on site"
    wrong = await client.post(f"/agreements/{AGR}/evidence", json={**investment, "currency": None}, headers=supervisor)
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "evidence.invalid"

    body = (await client.get(f"/agreements/{AGR}/evidence{WINDOW}", headers=own)).json()
    figures = {f["measure"]: f["value"] for f in body["figures"]}
    assert figures["enterprise_investment"] == "50000000"
    assert figures["dual_qualified_teacher_rate"] == "70"
    foreign_college = bearer(dev_keys_dir, "college", partner_id=FOREIGN)
    hidden = await client.get(f"/agreements/{AGR}/evidence{WINDOW}", headers=foreign_college)
    assert hidden.status_code == 403
