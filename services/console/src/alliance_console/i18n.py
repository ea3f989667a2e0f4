"""Languages: zh-CN by default, English per person (a cookie); every UI string through gettext.

The catalogs are ``locale/<lang>/LC_MESSAGES/messages.po``; they are compiled to .mo in
memory when the console starts (Babel), so a fresh clone needs no build step and a
stale .mo can never be served. msgids are English, so English needs no catalog.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "console_lang"
#: The alliance's time zone: dates are shown as its people read them.
TIME_ZONE = ZoneInfo("Asia/Shanghai")

_language: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    """The compiled catalog of ``language`` (English: the msgids themselves)."""
    po_path = LOCALE_DIR / LANGUAGES[language] / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return gettext_module.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=LANGUAGES[language])
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


def pick_language(cookie: str | None) -> str:
    """The person's choice (cookie), else zh-CN: the alliance's working language."""
    if cookie in LANGUAGES:
        return cookie
    return DEFAULT_LANGUAGE


def set_language(language: str) -> None:
    _language.set(language)


def current_language() -> str:
    return _language.get()


def babel_locale() -> Locale:
    return Locale.parse(LANGUAGES[current_language()])


def gettext(message: str) -> str:
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


_ = gettext


def yuan(fen: int | None) -> str:
    """An amount stored in fen, shown in yuan with two decimals in the person's locale."""
    if fen is None:
        return "—"
    return format_currency(Decimal(fen) / 100, "CNY", locale=babel_locale(), format_type="standard")


def number(value: float | int | None) -> str:
    return "—" if value is None else format_decimal(value, locale=babel_locale())


def percent(value: float | None) -> str:
    return "—" if value is None else format_percent(value, format="#,##0.0%", locale=babel_locale())


def when(value: str | datetime | None) -> str:
    """An ISO timestamp from a service, in China time and the person's locale."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(moment, "medium", tzinfo=TIME_ZONE, locale=babel_locale())


def day(value: str | date | None) -> str:
    """A date, or the China-time day of an ISO timestamp (a validity starting at local midnight)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str) and len(value) > 10:
        parsed = datetime.fromisoformat(value).astimezone(TIME_ZONE).date()
    else:
        parsed = date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(parsed, "medium", locale=babel_locale())


def fen_from_yuan(text: str) -> int | None:
    """What a person typed in yuan (``1,200.50``) as fen; None when it is not an amount."""
    cleaned = text.replace(",", "").replace("，", "").replace("¥", "").strip()
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None
    if amount != amount.quantize(Decimal("0.01")):
        return None
    return int(amount * 100)
