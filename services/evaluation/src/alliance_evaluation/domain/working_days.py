"""Working days: Monday to Friday, minus the holidays the alliance configures.

Deadlines counted in working days are counted on the alliance's local calendar, not
UTC: China has one time zone and no daylight saving time, so the fixed offset +08:00
is exact and needs no time-zone database.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta, timezone

ALLIANCE_TIMEZONE = timezone(timedelta(hours=8), "Asia/Shanghai")
SATURDAY = 5


def is_working_day(day: date, holidays: Collection[date] = frozenset()) -> bool:
    return day.weekday() < SATURDAY and day not in holidays


def add_working_days(start: date, days: int, holidays: Collection[date] = frozenset()) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself is not counted)."""
    if days < 0:
        raise ValueError("count working days forwards")
    day = start
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            remaining -= 1
    return day


def local_date(instant: datetime, zone: timezone = ALLIANCE_TIMEZONE) -> date:
    return instant.astimezone(zone).date()


def end_of_local_day(day: date, zone: timezone = ALLIANCE_TIMEZONE) -> datetime:
    """The first instant after ``day`` on the local calendar, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
