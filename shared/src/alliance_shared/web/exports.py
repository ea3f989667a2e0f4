"""Tables as downloads: JSON, CSV (UTF-8 with BOM, so spreadsheet programs read Chinese
text right) and XLSX. Cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Request, Response
from openpyxl import Workbook

from alliance_shared.tables import Table

Format = Literal["json", "csv", "xlsx"]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: A text cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell value fit for a spreadsheet: sequences joined, dates as ISO text, formulas quoted."""
    if isinstance(value, tuple | list):
        value = "|".join(str(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(table: Table) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.title[:31]
    sheet.append([safe_cell(h) for h in table.header])
    for row in table.rows:
        sheet.append([safe_cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    return Response(csv_bytes(header, rows), media_type="text/csv; charset=utf-8", headers=attachment(filename))


def render_table(table: Table, format: Format, filename: str) -> Response:
    """``filename`` without extension; JSON answers inline."""
    if format == "csv":
        return csv_response(table.header, table.rows, f"{filename}.csv")
    if format == "xlsx":
        return Response(xlsx_bytes(table), media_type=XLSX_MEDIA_TYPE, headers=attachment(f"{filename}.xlsx"))
    body = {"title": table.title, "rows": table.records()}
    return Response(json.dumps(body, default=str, ensure_ascii=False), media_type="application/json")


def wants_csv(request: Request, format: str | None) -> bool:
    """``?format=csv`` or ``Accept: text/csv``."""
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")
