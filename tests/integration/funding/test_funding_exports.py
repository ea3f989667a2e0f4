"""The application and award lists download as CSV (UTF-8 with BOM) and XLSX (issue #14
item 21) on the real servers: headers in the reader's language, amounts in yuan with two
decimals, programme and partner names beside their ids, and a partner sees only its own."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_funding.app import build_app
from alliance_shared.contract.topics import REGISTRY_EVENTS
from tests.integration.funding.funding_support import (
    PROGRAMME_BODY,
    TOPICS,
    Actors,
    agreement_activated,
    award_for,
    certification_granted,
    funding_settings,
    new_id,
    now,
    open_programme,
    partner_registered,
    send,
    wait_for,
)
from tests.support.http import bearer, running
from tests.support.kafka_io import skip_history

pytestmark = pytest.mark.infra

RUN = new_id("exp").replace("-", "_")
COLLEGE, ENTERPRISE, AGREEMENT = new_id("col"), new_id("ent"), new_id("agr")
AMOUNT_MINOR = 123_456  # 1234.56 yuan


class Scenario:
    http: httpx.AsyncClient
    who: Actors
    programme_id: str
    award: dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scenario(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[type[Scenario]]:
    settings = funding_settings(infra, RUN, dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group, TOPICS)
    app = build_app(settings)
    async with running(app) as http:
        await send(
            infra,
            REGISTRY_EVENTS,
            [
                partner_registered(COLLEGE, "college"),
                partner_registered(ENTERPRISE, "enterprise"),
                certification_granted(ENTERPRISE),
                agreement_activated(AGREEMENT, COLLEGE, ENTERPRISE),
            ],
        )
        repos = app.state.repos

        async def known() -> bool:
            partner = await repos.partners.get(ENTERPRISE)
            college = await repos.partners.get(COLLEGE)
            return (
                await repos.agreements.get(AGREEMENT) is not None
                and college is not None
                and bool(partner and partner.item.certifications)
            )

        await wait_for(known)
        Scenario.http, Scenario.who = http, Actors(dev_keys_dir, COLLEGE, ENTERPRISE)
        Scenario.programme_id = (await open_programme(http, Scenario.who))["programme_id"]
        Scenario.award = await award_for(http, Scenario.who, Scenario.programme_id, AGREEMENT, amount=AMOUNT_MINOR)
        yield Scenario


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def read_xlsx(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize(
    ("language", "id_header", "name_header", "amount_header"),
    [
        ("zh-CN", "申请编号", "项目名称", "申请金额（元）"),
        ("en", "Application ID", "Programme name", "Requested (yuan)"),
    ],
)
async def test_applications_download(
    scenario: type[Scenario], language: str, id_header: str, name_header: str, amount_header: str
) -> None:
    headers = {**scenario.who.officer, "Accept-Language": language}
    url = f"/applications?programme_id={scenario.programme_id}&format=csv"
    rows = read_csv(await scenario.http.get(url, headers=headers))
    assert len(rows) == 1
    (row,) = rows
    assert row[id_header] == scenario.award["application_id"]
    assert row[name_header] == PROGRAMME_BODY["name"]
    assert row[amount_header] == "1234.56"
    assert f"机构 {COLLEGE}" in row.values()  # the applicant's name beside its id

    table = read_xlsx(
        await scenario.http.get(
            f"/applications?programme_id={scenario.programme_id}",
            headers={**headers, "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        )
    )
    assert table[0][0] == id_header
    assert table[1][table[0].index(amount_header)] == pytest.approx(1234.56)  # a number, shown with two decimals


async def test_awards_download_in_yuan_and_only_ones_own(scenario: type[Scenario], dev_keys_dir: Path) -> None:
    headers = {**scenario.who.officer, "Accept-Language": "en"}
    table = read_xlsx(
        await scenario.http.get(f"/awards?programme_id={scenario.programme_id}&format=xlsx", headers=headers)
    )
    header, rows = table[0], table[1:]
    assert header[:3] == ["Award ID", "Programme ID", "Programme name"]
    assert len(rows) == 1
    record = dict(zip(header, rows[0], strict=True))
    assert record["Award ID"] == scenario.award["award_id"]
    assert record["Recipient name"] == f"机构 {COLLEGE}"
    assert record["Amount (yuan)"] == pytest.approx(1234.56)
    workbook = openpyxl.load_workbook(
        io.BytesIO(
            (
                await scenario.http.get(f"/awards?programme_id={scenario.programme_id}&format=xlsx", headers=headers)
            ).content
        )
    )
    assert workbook.active is not None
    assert workbook.active.cell(row=2, column=header.index("Amount (yuan)") + 1).number_format == "0.00"

    stranger = bearer(dev_keys_dir, "college", sub="other", partner_id=new_id("col"))
    assert read_csv(await scenario.http.get("/awards?format=csv", headers=stranger)) == []
    page = await scenario.http.get(f"/awards?programme_id={scenario.programme_id}", headers=headers)
    assert [a["award_id"] for a in page.json()["items"]] == [scenario.award["award_id"]]  # JSON pages as before


async def test_statements_list_and_download(scenario: type[Scenario], dev_keys_dir: Path) -> None:
    year = now().year
    body = {
        "enterprise_id": ENTERPRISE,
        "year": year,
        "investments": [{"reference": "INV-1", "made_on": f"{year}-03-01", "amount_minor": 10_000_000}],
        "education_surcharge_due_minor": 200_000,
        "local_education_surcharge_due_minor": 100_000,
    }
    computed = await scenario.http.post("/surcharge-credit-statements", json=body, headers=scenario.who.officer)
    assert computed.status_code == 201, computed.text
    figures = computed.json()["statement"]

    listed = await scenario.http.get(
        f"/surcharge-credit-statements?enterprise_id={ENTERPRISE}", headers=scenario.who.officer
    )
    assert [(s["enterprise_id"], s["year"]) for s in listed.json()["items"]] == [(ENTERPRISE, year)]
    rows = read_csv(
        await scenario.http.get(
            f"/surcharge-credit-statements?enterprise_id={ENTERPRISE}&format=csv",
            headers={**scenario.who.officer, "Accept-Language": "en"},
        )
    )
    assert len(rows) == 1
    (row,) = rows
    assert row["Enterprise name"] == f"机构 {ENTERPRISE}"
    assert row["Tax year"] == str(year)
    assert row["Investment (yuan)"] == "100000.00"
    assert Decimal(row["Credit (yuan)"]) == Decimal(figures["credit_earned_minor"]) / 100
    offset = figures["education_surcharge_offset_minor"] + figures["local_education_surcharge_offset_minor"]
    assert Decimal(row["Credited this year (yuan)"]) == Decimal(offset) / 100
    assert Decimal(row["Carried forward (yuan)"]) == Decimal(figures["carried_out_minor"]) / 100

    own = scenario.who.enterprise
    assert len(read_csv(await scenario.http.get("/surcharge-credit-statements?format=csv", headers=own))) == 1
    other = await scenario.http.get("/surcharge-credit-statements?enterprise_id=ent-someone-else", headers=own)
    assert other.json()["items"] == []  # an enterprise sees only its own
    table = read_xlsx(
        await scenario.http.get("/surcharge-credit-statements?format=xlsx", headers={**own, "Accept-Language": "zh-CN"})
    )
    assert table[0][:3] == ["企业编号", "企业名称", "纳税年度"]
