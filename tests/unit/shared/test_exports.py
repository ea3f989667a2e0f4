"""Exports officers open in a spreadsheet: Chinese text readable, no cell run as a formula."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from alliance_shared.tables import Table
from alliance_shared.web.exports import csv_bytes, safe_cell, xlsx_bytes

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
