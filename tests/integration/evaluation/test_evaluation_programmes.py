"""Programmes and trends on the real servers (issue #14 item 6): evaluation folds funding's
programme and award events (idempotently) into its programme read model; a cycle opened
for a programme covers exactly the programme's awarded agreements; rankings and the
dashboard group by programme, province and mode, show each agreement's trend across
cycles, and export to CSV (UTF-8 with BOM) and XLSX with headers in the reader's language."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import httpx
import openpyxl
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_evaluation.app import build_app
from alliance_shared.contract import college
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.funding import AwardGranted, AwardTerminated, ProgrammeOpened
from alliance_shared.contract.topics import FUNDING_EVENTS, REGISTRY_EVENTS
from tests.integration.evaluation.evaluation_support import (
    LAST_YEAR,
    KafkaRecord,
    agreement_event,
    complete_cycle,
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
FUNDED_A, FUNDED_B, OTHER_PROGRAMME, NOT_FUNDED, TERMINATED = (
    new_id(p) for p in ("agr-fa", "agr-fb", "agr-op", "agr-nf", "agr-te")
)
PROGRAMME, SECOND_PROGRAMME = new_id("prg"), new_id("prg")
PROGRAMME_NAME, SECOND_NAME = "深圳产教融合专项", "杭州实训基地专项"
COLLEGE, ENTERPRISE = new_id("col"), new_id("ent")
H1 = (date(LAST_YEAR, 1, 1), date(LAST_YEAR, 6, 30))
YEAR = (date(LAST_YEAR, 1, 1), date(LAST_YEAR, 12, 31))
NOW = datetime.now(UTC)


def funding_record(payload: Any, event_id: str | None = None) -> KafkaRecord:
    return to_kafka(CloudEvent.wrap(payload, "funding", event_id=event_id))


def programme_opened(programme_id: str, name: str) -> Any:
    return ProgrammeOpened(
        programme_id=programme_id,
        name=name,
        fiscal_year=LAST_YEAR,
        appropriated_minor=100_000_000,
        award_cap_minor=50_000_000,
        min_cofunding_bp=0,
        currency="CNY",
        opens_at=NOW - timedelta(days=30),
        closes_at=NOW + timedelta(days=30),
        occurred_at=NOW,
        actor_id="officer-test",
    )


def award(event: type[Any], programme_id: str, agreement_id: str, **extra: Any) -> Any:
    award_id = f"awd-{agreement_id}"
    return event(
        award_id=award_id,
        programme_id=programme_id,
        application_id=f"app-{agreement_id}",
        agreement_id=agreement_id,
        recipient_partner_id=COLLEGE,
        party_ids=(COLLEGE, ENTERPRISE),
        currency="CNY",
        occurred_at=NOW,
        actor_id="officer-test",
        **extra,
    )


def granted(programme_id: str, agreement_id: str) -> Any:
    tranche = {
        "tranche_id": f"awd-{agreement_id}-t1",
        "sequence": 1,
        "name": "start-up",
        "share_bp": 10_000,
        "scheduled_minor": 1_000_000,
        "release": "on_award",
    }
    return award(AwardGranted, programme_id, agreement_id, amount_minor=1_000_000, tranches=(tranche,))


def terminated(programme_id: str, agreement_id: str) -> Any:
    return award(
        AwardTerminated,
        programme_id,
        agreement_id,
        voided_minor=1_000_000,
        recovery_ordered_minor=0,
        cancelled_tranche_ids=(),
        reason="the agreement ended early",
    )


def second_half_reports() -> list[Any]:
    """Cooperation of FUNDED_A in the second half of last year only: the half-year cycle
    sees none of it, the whole-year cycle all of it, so its score rises between them."""

    def base(report_id: str, month: int) -> dict[str, Any]:
        return {
            "report_id": f"{report_id}-{RUN}",
            "agreement_id": FUNDED_A,
            "college_id": COLLEGE,
            "occurred_on": date(LAST_YEAR, month, 10),
        }

    reports: list[Any] = [
        college.InternshipPlaced(
            **base(f"PL-{m}", m),
            student_ref=f"S{m}",
            enterprise_id=ENTERPRISE,
            post="assistant",
            start_date=date(LAST_YEAR, m, 10),
            planned_months=3,
        )
        for m in range(7, 13)
    ]
    reports.append(
        college.TeacherPracticeCompleted(**base("TP-1", 11), teacher_ref="T1", enterprise_id=ENTERPRISE, days=30)
    )
    return reports


class Ctx:
    cycles: ClassVar[list[str]] = []


def sup(keys: Path) -> dict[str, str]:
    return bearer(keys, "supervisor", sub="sup-programmes")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = evaluation_settings(infra, f"prg_{RUN}", dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group, (REGISTRY_EVENTS, FUNDING_EVENTS))
    async with running(build_app(settings)) as http:
        parties: dict[str, Any] = {"college_ids": [COLLEGE], "enterprise_ids": [ENTERPRISE]}
        await send(
            infra,
            REGISTRY_EVENTS,
            [
                agreement_event(FUNDED_A, "activated", **parties, modes=["internship_base"]),
                agreement_event(FUNDED_B, "activated", **parties, modes=["order_class"]),
                agreement_event(OTHER_PROGRAMME, "activated", **parties, region_code="110100"),
                agreement_event(NOT_FUNDED, "activated", **parties),
                agreement_event(TERMINATED, "activated", **parties),
            ],
        )
        grant_a = str(uuid.uuid4())
        await send(
            infra,
            FUNDING_EVENTS,
            [
                funding_record(programme_opened(PROGRAMME, PROGRAMME_NAME)),
                funding_record(programme_opened(SECOND_PROGRAMME, SECOND_NAME)),
                funding_record(granted(PROGRAMME, FUNDED_A), event_id=grant_a),
                funding_record(granted(PROGRAMME, FUNDED_B)),
                funding_record(granted(PROGRAMME, TERMINATED)),
                funding_record(terminated(PROGRAMME, TERMINATED)),
                # the award's grant redelivered after its termination: it stays terminated
                funding_record(granted(PROGRAMME, TERMINATED)),
                # the same event twice (a redelivery) is applied once
                funding_record(granted(PROGRAMME, FUNDED_A), event_id=grant_a),
                funding_record(granted(SECOND_PROGRAMME, OTHER_PROGRAMME)),
                # FUNDED_A is funded by both programmes
                funding_record(granted(SECOND_PROGRAMME, FUNDED_A).model_copy(update={"award_id": f"awd2-{FUNDED_A}"})),
            ],
        )
        await send_reports(infra, [report_record(r) for r in second_half_reports()])
        headers = sup(dev_keys_dir)

        async def known() -> bool:
            for agreement_id in (FUNDED_A, FUNDED_B, OTHER_PROGRAMME, NOT_FUNDED, TERMINATED):
                if (await http.get(f"/agreements/{agreement_id}", headers=headers)).status_code != 200:
                    return False
            evidence = await http.get(
                f"/agreements/{FUNDED_A}/evidence?window_start={YEAR[0]}&window_end={YEAR[1]}", headers=headers
            )
            if evidence.json()["reports_received"] != 7:
                return False
            first = await http.get(f"/programmes/{PROGRAMME}", headers=headers)
            second = await http.get(f"/programmes/{SECOND_PROGRAMME}", headers=headers)
            if first.status_code != 200 or second.status_code != 200:
                return False
            awards = {a["award_id"]: a["terminated"] for a in first.json()["awards"]}
            return (
                awards.get(f"awd-{TERMINATED}") is True
                and len(awards) == 3
                and first.json()["name"] is not None
                and second.json()["agreement_ids"] == sorted([FUNDED_A, OTHER_PROGRAMME])
                and second.json()["name"] is not None
            )

        await wait_for(known)
        yield http


def cycle_body(name: str, window: tuple[date, date], **scope: Any) -> dict[str, Any]:
    return {
        "kind": "annual",
        "name": name,
        "window_start": str(window[0]),
        "window_end": str(window[1]),
        "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        **scope,
    }


async def open_and_complete(http: httpx.AsyncClient, keys: Path, body: dict[str, Any]) -> dict[str, Any]:
    opened = await http.post("/cycles", json=body, headers=sup(keys))
    assert opened.status_code == 201, opened.text
    done = await complete_cycle(http, sup(keys), opened)
    return dict(done.json())


async def test_1_the_programme_read_model_is_folded_once_per_event(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    first = await client.get(f"/programmes/{PROGRAMME}", headers=sup(dev_keys_dir))
    assert first.status_code == 200, first.text
    view = first.json()
    assert view["name"] == PROGRAMME_NAME
    assert view["agreement_ids"] == sorted([FUNDED_A, FUNDED_B])  # the terminated award no longer counts
    assert {a["award_id"]: a["terminated"] for a in view["awards"]} == {
        f"awd-{FUNDED_A}": False,
        f"awd-{FUNDED_B}": False,
        f"awd-{TERMINATED}": True,
    }
    unknown = await client.get(f"/programmes/{new_id('prg')}", headers=sup(dev_keys_dir))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "programme.not_found"


async def test_2_a_programme_cycle_covers_exactly_its_awarded_agreements(
    client: httpx.AsyncClient, dev_keys_dir: Path
) -> None:
    unknown = await client.post(
        "/cycles", json=cycle_body("x", H1, programme_id=new_id("prg")), headers=sup(dev_keys_dir)
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "cycle.unknown_programme"
    two_scopes = await client.post(
        "/cycles", json=cycle_body("x", H1, programme_id=PROGRAMME, region_prefix="33"), headers=sup(dev_keys_dir)
    )
    assert two_scopes.status_code == 422
    first = await open_and_complete(client, dev_keys_dir, cycle_body("H1", H1, programme_id=PROGRAMME))
    assert first["agreement_ids"] == sorted([FUNDED_A, FUNDED_B])
    assert first["programme_id"] == PROGRAMME
    second = await open_and_complete(
        client, dev_keys_dir, cycle_body("Year", YEAR, agreement_ids=[FUNDED_A, FUNDED_B, OTHER_PROGRAMME, NOT_FUNDED])
    )
    assert second["programme_id"] is None
    Ctx.cycles = [first["cycle_id"], second["cycle_id"]]


async def _scores(client: httpx.AsyncClient, keys: Path, cycle_id: str) -> dict[str, str]:
    ranking = await client.get(f"/cycles/{cycle_id}/ranking", headers=sup(keys))
    assert ranking.status_code == 200, ranking.text
    return {row["agreement_id"]: row["score"] for row in ranking.json()["ranking"]}


async def test_3_trend_and_groups_against_the_results(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    first_cycle, second_cycle = Ctx.cycles
    before = await _scores(client, dev_keys_dir, first_cycle)
    after = await _scores(client, dev_keys_dir, second_cycle)
    assert Fraction(after[FUNDED_A]) > Fraction(before[FUNDED_A])  # its cooperation lay in the second half

    ranking = (await client.get(f"/cycles/{second_cycle}/ranking", headers=sup(dev_keys_dir))).json()["ranking"]
    rows = {row["agreement_id"]: row for row in ranking}
    funded = rows[FUNDED_A]
    assert [(p["cycle_id"], p["score"]) for p in funded["trend"]] == [
        (first_cycle, before[FUNDED_A]),
        (second_cycle, after[FUNDED_A]),
    ]
    assert funded["previous_score"] == before[FUNDED_A]
    assert Fraction(funded["score_change"]) == Fraction(after[FUNDED_A]) - Fraction(before[FUNDED_A])
    assert funded["score_change"].startswith("+")
    assert funded["programme_ids"] == sorted([PROGRAMME, SECOND_PROGRAMME])
    assert funded["programme_names"] == [
        dict([(PROGRAMME, PROGRAMME_NAME), (SECOND_PROGRAMME, SECOND_NAME)])[p] for p in funded["programme_ids"]
    ]
    assert [p["cycle_id"] for p in rows[NOT_FUNDED]["trend"]] == [second_cycle]  # evaluated once
    assert rows[NOT_FUNDED]["previous_score"] is None
    assert rows[NOT_FUNDED]["programme_ids"] == []

    board = (await client.get(f"/cycles/{second_cycle}/dashboard", headers=sup(dev_keys_dir))).json()

    def group_of(agreement_ids: list[str]) -> dict[str, Any]:
        total = sum(Fraction(after[a]) for a in agreement_ids)
        return {"agreements": len(agreement_ids), "mean": total / len(agreement_ids)}

    expected = {
        PROGRAMME: group_of([FUNDED_A, FUNDED_B]),
        SECOND_PROGRAMME: group_of([FUNDED_A, OTHER_PROGRAMME]),
        "none": group_of([NOT_FUNDED]),
    }
    assert set(board["by_programme"]) == set(expected)
    for programme_id, figures in expected.items():
        shown = board["by_programme"][programme_id]
        assert shown["agreements"] == figures["agreements"]
        assert abs(Fraction(shown["mean_score"]) - figures["mean"]) < Fraction(1, 100)
    assert board["by_programme"][PROGRAMME]["name"] == PROGRAMME_NAME
    assert {k: v["agreements"] for k, v in board["by_region"].items()} == {"33": 3, "11": 1}
    assert board["by_mode"]["internship_base"]["agreements"] == 1 + 2  # FUNDED_A, and the default modes of two
    grouped = await client.get(f"/cycles/{second_cycle}/ranking?group_by=programme", headers=sup(dev_keys_dir))
    assert grouped.status_code == 200, grouped.text
    groups = {g["group"]: [(r["rank"], r["agreement_id"]) for r in g["ranking"]] for g in grouped.json()["groups"]}
    assert {a for _, a in groups[PROGRAMME]} == {FUNDED_A, FUNDED_B}
    assert groups[PROGRAMME][0][0] == 1
    assert groups["none"] == [(1, NOT_FUNDED)]


@pytest.mark.parametrize(
    ("language", "rank_header", "trend_header"),
    [("zh-CN", "排名", "历次得分"), ("en", "Rank", "Scores across cycles")],
)
async def test_4_ranking_and_dashboard_export_in_the_readers_language(
    client: httpx.AsyncClient, dev_keys_dir: Path, language: str, rank_header: str, trend_header: str
) -> None:
    cycle_id = Ctx.cycles[1]
    headers = {**sup(dev_keys_dir), "Accept-Language": language}
    as_csv = await client.get(f"/cycles/{cycle_id}/ranking?format=csv", headers=headers)
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert len(rows) == 4
    header = list(rows[0])
    assert header[0] == rank_header
    by_agreement = {r[header[1]]: r for r in rows}
    assert PROGRAMME_NAME in by_agreement[FUNDED_A][header[9]]  # names beside the programme ids
    assert by_agreement[FUNDED_A][trend_header].count("→") == 1

    as_xlsx = await client.get(f"/cycles/{cycle_id}/ranking?format=xlsx&group_by=region", headers=headers)
    assert as_xlsx.status_code == 200, as_xlsx.text
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][2] == rank_header
    assert sorted((r[1], r[3]) for r in table[1:]) == sorted(
        [("11", OTHER_PROGRAMME), ("33", FUNDED_A), ("33", FUNDED_B), ("33", NOT_FUNDED)]
    )

    board = await client.get(f"/cycles/{cycle_id}/dashboard?format=xlsx", headers=headers)
    assert board.status_code == 200, board.text
    dashboard_rows = list(openpyxl.load_workbook(io.BytesIO(board.content)).active.iter_rows(values_only=True))
    programme_rows = [r for r in dashboard_rows if r[0] == "by_programme"]
    assert {(r[1], r[2], r[3]) for r in programme_rows} == {
        (PROGRAMME, PROGRAMME_NAME, 2),
        (SECOND_PROGRAMME, SECOND_NAME, 2),
        ("none", None, 1),
    }
    dashboard_csv = await client.get(f"/cycles/{cycle_id}/dashboard", headers={**headers, "Accept": "text/csv"})
    assert dashboard_csv.content.startswith(b"\xef\xbb\xbf")


async def test_5_an_agreements_results_download(client: httpx.AsyncClient, dev_keys_dir: Path) -> None:
    first_cycle, second_cycle = Ctx.cycles
    headers = {**sup(dev_keys_dir), "Accept-Language": "en"}
    as_csv = await client.get(f"/agreements/{FUNDED_A}/results?format=csv", headers=headers)
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert sorted(r["Cycle ID"] for r in rows) == sorted([first_cycle, second_cycle])
    scores = await _scores(client, dev_keys_dir, second_cycle)
    assert {r["Cycle ID"]: r["Score"] for r in rows}[second_cycle] == scores[FUNDED_A]
    as_xlsx = await client.get(
        f"/agreements/{FUNDED_A}/results?format=xlsx", headers={**sup(dev_keys_dir), "Accept-Language": "zh-CN"}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    assert next(sheet.iter_rows(values_only=True))[:3] == ("结果编号", "协议编号", "评价周期编号")
