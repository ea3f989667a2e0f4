"""The partner and agreement lists download as CSV (UTF-8 with BOM) and XLSX (issue #14
item 21) on the real servers: the whole filtered list, headers in the reader's language,
the parties' names beside their ids."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_registry.app import build_app
from tests.integration.registry.registry_support import admin, agreement_body, register, registry_settings
from tests.support.http import bearer, running

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:8]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Seed:
    http: httpx.AsyncClient
    college: dict[str, Any]
    enterprise: dict[str, Any]
    agreement_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def seeded(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[type[Seed]]:
    async with running(build_app(registry_settings(infra, f"export_{RUN}", dev_keys_dir))) as http:
        Seed.http = http
        Seed.college = await register(http, dev_keys_dir, "college", region_code="440305", name_zh="深圳职业技术大学")
        Seed.enterprise = await register(
            http, dev_keys_dir, "enterprise", region_code="440305", name_zh="深圳鹏城精密", name_en="=Pengcheng"
        )
        drafted = await http.post(
            "/agreements",
            json=agreement_body(Seed.college["partner_id"], Seed.enterprise["partner_id"]),
            headers=admin(dev_keys_dir),
        )
        assert drafted.status_code == 201, drafted.text
        Seed.agreement_id = drafted.json()["agreement_id"]
        yield Seed


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("language", "id_header", "name_header", "english_name_header"),
    [("zh-CN", "伙伴编号", "中文名称", "英文名称"), ("en", "Partner ID", "Name (Chinese)", "Name (English)")],
)
async def test_partners_download(
    seeded: type[Seed], dev_keys_dir: Path, language: str, id_header: str, name_header: str, english_name_header: str
) -> None:
    headers = {**bearer(dev_keys_dir, "auditor"), "Accept-Language": language}
    rows = csv_rows(await seeded.http.get("/partners?region=440305&format=csv", headers=headers))
    by_id = {r[id_header]: r for r in rows}
    assert set(by_id) == {seeded.college["partner_id"], seeded.enterprise["partner_id"]}
    assert by_id[seeded.college["partner_id"]][name_header] == "深圳职业技术大学"
    assert by_id[seeded.enterprise["partner_id"]][english_name_header] == "'=Pengcheng"  # not run as a formula
    only_colleges = csv_rows(await seeded.http.get("/partners?kind=college&format=csv", headers=headers))
    assert [r[id_header] for r in only_colleges] == [seeded.college["partner_id"]]


@pytest.mark.parametrize(("language", "title_header"), [("zh-CN", "协议名称"), ("en", "Agreement title")])
async def test_agreements_download(seeded: type[Seed], dev_keys_dir: Path, language: str, title_header: str) -> None:
    headers = {**bearer(dev_keys_dir, "auditor"), "Accept-Language": language, "Accept": XLSX}
    response = await seeded.http.get(f"/agreements?party={seeded.college['partner_id']}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-language"] == language
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(rows) == 1
    record = dict(zip(header, rows[0], strict=True))
    assert record[title_header] == "数控技术订单班协议"
    ids, names = record[header[3]], record[header[4]]
    assert ids == f"{seeded.college['partner_id']}|{seeded.enterprise['partner_id']}"
    assert names == "深圳职业技术大学|深圳鹏城精密"  # each party's name beside its id, in the same order
    page = await seeded.http.get("/agreements", headers=bearer(dev_keys_dir, "auditor"))
    assert [a["agreement_id"] for a in page.json()["items"]] == [seeded.agreement_id]  # JSON pages as before
