"""Tables as downloads: JSON, CSV (UTF-8 with BOM, so spreadsheet programs read Chinese
text right) and XLSX. Cells a spreadsheet would run as formulas are neutralised.

A list a person sees is exported through ``export_response``: its columns are named by
keys of the one header catalog (``alliance_shared.web.export_headers``), shown in the
reader's language (``Accept-Language``: zh-CN or en), and money columns (integer minor
units) become yuan with two decimals."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import Query, Request, Response
from openpyxl import Workbook

from alliance_shared.errors import DomainError
from alliance_shared.tables import Table
from alliance_shared.web.export_headers import EXPORT_HEADERS
from alliance_shared.web.problem_texts import EN, Language, negotiate

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


def xlsx_bytes(table: Table, number_formats: Mapping[int, str] | None = None) -> bytes:
    """``number_formats``: a cell format by column position (yuan columns show two decimals)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.title[:31]
    sheet.append([safe_cell(h) for h in table.header])
    for row in table.rows:
        sheet.append([safe_cell(v) for v in row])
    for position, number_format in (number_formats or {}).items():
        for (cell,) in sheet.iter_rows(min_row=2, min_col=position + 1, max_col=position + 1):
            cell.number_format = number_format
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


# --- lists a person sees, exported in the reader's language ------------------------------

ExportFormat = Literal["csv", "xlsx"]
#: The ``format`` query parameter of a list that exports.
ListFormat = Annotated[
    Literal["json", "csv", "xlsx"] | None,
    Query(description="csv or xlsx downloads the whole list (headers in the Accept-Language); JSON pages otherwise"),
]
YUAN_FORMAT = "0.00"
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Column:
    """One exported column: ``key`` names the record field and the catalog's header;
    ``yuan`` marks integer minor units shown as yuan with two decimals."""

    key: str
    yuan: bool = False

    def __post_init__(self) -> None:
        if self.key not in EXPORT_HEADERS:
            raise ValueError(f"export column {self.key!r} has no header in alliance_shared.web.export_headers")

    def header(self, language: Language) -> str:
        zh, en = EXPORT_HEADERS[self.key]
        return en if language == EN else zh

    def value(self, record: Mapping[str, Any]) -> Any:
        value = record.get(self.key)
        if self.yuan and isinstance(value, int) and not isinstance(value, bool):
            return yuan(value)
        return value


def columns(*keys: str, yuan: Iterable[str] = ()) -> tuple[Column, ...]:
    money = set(yuan)
    return tuple(Column(key, yuan=key in money) for key in keys)


def yuan(minor: int) -> Decimal:
    """Integer minor units (fen) as yuan with exactly two decimals: 123456 → 1234.56."""
    return (Decimal(minor) / 100).quantize(CENTS)


def export_table(title: str, cols: Sequence[Column], records: Iterable[Mapping[str, Any]], language: Language) -> Table:
    rows = [[column.value(record) for column in cols] for record in records]
    return Table(title, [column.header(language) for column in cols], rows)


def export_response(
    request: Request,
    format: ExportFormat,
    cols: Sequence[Column],
    records: Iterable[Mapping[str, Any]],
    filename: str,
    title: str | None = None,
) -> Response:
    """A list as CSV or XLSX (``filename`` without extension), headers in the reader's language."""
    language = negotiate(request.headers.get("accept-language"))
    table = export_table(title or filename, cols, records, language)
    headers = {**attachment(f"{filename}.{format}"), "Content-Language": language, "Vary": "Accept-Language"}
    if format == "csv":
        return Response(csv_bytes(table.header, table.rows), media_type="text/csv; charset=utf-8", headers=headers)
    formats = {position: YUAN_FORMAT for position, column in enumerate(cols) if column.yuan}
    return Response(xlsx_bytes(table, formats), media_type=XLSX_MEDIA_TYPE, headers=headers)


def requested_format(request: Request, format: Literal["json", "csv", "xlsx"] | None) -> ExportFormat | None:
    """``?format=csv|xlsx``, or ``Accept: text/csv`` / the XLSX media type; None for a JSON page."""
    if format is not None:
        return None if format == "json" else format
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if XLSX_MEDIA_TYPE in accept:
        return "xlsx"
    return None


#: OpenAPI for a list route that also downloads: its 200 is the JSON page (the route's
#: ``response_model``) or the whole list as CSV or XLSX.
DOWNLOADABLE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"text/csv": {}, XLSX_MEDIA_TYPE: {}}, "description": "a page, or the whole list as CSV/XLSX"}
}

#: The most rows one download holds; a larger list is refused (narrow its filters).
EXPORT_MAX_ROWS = 10_000
T = TypeVar("T")
PageFetch = Callable[[str | None], Awaitable[tuple[Sequence[T], str | None]]]


async def whole_list(fetch_page: PageFetch[T]) -> list[T]:
    """Every item of a cursor-paged list, page by page (a download is the whole filtered list)."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page, cursor = await fetch_page(cursor)
        items.extend(page)
        if len(items) > EXPORT_MAX_ROWS:
            raise DomainError(
                "export.too_large", f"a download holds at most {EXPORT_MAX_ROWS} rows; narrow the filters"
            )
        if cursor is None:
            return items
