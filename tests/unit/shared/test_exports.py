"""Exports officers open in a spreadsheet: Chinese text readable, no cell run as a formula."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from alliance_shared.errors import DomainError
from alliance_shared.tables import Table
from alliance_shared.web.export_headers import EXPORT_HEADERS
from alliance_shared.web.exports import columns, csv_bytes, export_table, safe_cell, whole_list, xlsx_bytes

HOSTILE = ['=HYPERLINK("http://x","点击")', "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR"]


def test_cells_a_spreadsheet_would_run_are_quoted_and_others_kept() -> None:
    assert [safe_cell(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert safe_cell("产教融合 = 好") == "产教融合 = 好"
    assert safe_cell(-2) == -2  # numbers stay numbers
    assert safe_cell(["a", "b"]) == "a|b"
    assert safe_cell(date(2026, 3, 2)) == "2026-03-02"
    assert safe_cell(datetime(2026, 3, 2, 8, 0, tzinfo=UTC)) == "2026-03-02T08:00:00+00:00"


def test_csv_starts_with_a_bom_and_quotes_formulas() -> None:
    body = csv_bytes(["名称", "金额"], [[HOSTILE[0], 100]])
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0] == "名称,金额"
    assert "'=HYPERLINK" in text


def test_xlsx_holds_no_formula() -> None:
    workbook = load_workbook(io.BytesIO(xlsx_bytes(Table("预算执行", ["名称"], [[v] for v in HOSTILE]))))
    sheet = workbook.active
    assert sheet is not None
    values = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert all(isinstance(v, str) and v.startswith("'") for v in values)
    assert all(row[0].data_type != "f" for row in sheet.iter_rows(min_row=2))


def test_list_downloads_show_yuan_and_the_readers_headers() -> None:
    cols = columns("award_id", "amount_yuan", yuan=("amount_yuan",))
    records = [{"award_id": "awd-1", "amount_yuan": 123_456}, {"award_id": "awd-2", "amount_yuan": 5}]
    chinese = export_table("awards", cols, records, "zh-CN")
    english = export_table("awards", cols, records, "en")
    assert chinese.header == ["资助编号", "资助金额（元）"]
    assert english.header == ["Award ID", "Amount (yuan)"]
    assert [row[1] for row in english.rows] == [Decimal("1234.56"), Decimal("0.05")]
    assert csv_bytes(english.header, english.rows).decode("utf-8-sig").splitlines()[1] == "awd-1,1234.56"
    sheet = load_workbook(io.BytesIO(xlsx_bytes(english, {1: "0.00"}))).active
    assert sheet is not None
    assert sheet["B2"].value == 1234.56
    assert sheet["B2"].number_format == "0.00"


def test_a_column_without_a_catalog_header_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="no header"):
        columns("not_in_the_catalog")
    assert all(zh and en for zh, en in EXPORT_HEADERS.values())


async def test_a_download_walks_every_page_and_refuses_too_many_rows() -> None:
    pages = {None: ([1, 2], "a"), "a": ([3], None)}

    async def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        return pages[cursor]

    assert await whole_list(fetch) == [1, 2, 3]

    async def endless(cursor: str | None) -> tuple[list[int], str | None]:
        return list(range(1000)), "more"

    with pytest.raises(DomainError) as refused:
        await whole_list(endless)
    assert refused.value.code == "export.too_large"
