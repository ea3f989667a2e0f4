"""Small rules every registry aggregate shares."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from alliance_shared.errors import DomainError

#: The actor of transitions the service makes by itself (activation, completion, expiry).
SYSTEM_ACTOR = "system"

#: Agreement dates are calendar dates in China (UTC+8 all year, no daylight saving).
ALLIANCE_TIME_ZONE = timezone(timedelta(hours=8), "Asia/Shanghai")


def alliance_date(now: datetime) -> date:
    """The calendar date in China at the instant ``now``."""
    return now.astimezone(ALLIANCE_TIME_ZONE).date()


def require_reason(reason: str) -> str:
    """``reason`` without surrounding blanks, or DomainError ``reason_required`` when there is none."""
    text = reason.strip()
    if not text:
        raise DomainError("reason_required", "a reason is required", field="reason")
    return text


def storable(document: dict[str, Any]) -> dict[str, Any]:
    """A ``model_dump(mode="python")`` document with calendar dates as ISO strings.

    BSON has no date-only type and pymongo refuses ``datetime.date``; pydantic reads the
    strings back into dates.
    """
    return {key: _storable_value(value) for key, value in document.items()}


def _storable_value(value: Any) -> Any:
    if isinstance(value, dict):
        return storable(value)
    if isinstance(value, list | tuple):
        return [_storable_value(item) for item in value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value
