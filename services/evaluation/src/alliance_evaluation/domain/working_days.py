"""Working days on the alliance's official calendar.

A day is a working day when the calendar names it a make-up working day (调休上班, a
Saturday or Sunday worked in exchange for a longer holiday), else when it is Monday to
Friday and not a public holiday. The calendars are data (``alliance_evaluation/calendars/``,
each with its source and edition; more through ``EVALUATION_CALENDAR_FILES``), merged into
one ``OfficialCalendar`` by the settings.

Deadlines counted in working days are counted on the alliance's local calendar, not
UTC: China has one time zone and no daylight saving time, so the fixed offset +08:00
is exact and needs no time-zone database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

ALLIANCE_TIMEZONE = timezone(timedelta(hours=8), "Asia/Shanghai")
SATURDAY = 5


@dataclass(frozen=True)
class OfficialCalendar:
    """Public holidays and make-up working days; without any, Monday to Friday."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    make_up_working_days: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        both = sorted(self.holidays & self.make_up_working_days)
        if both:
            raise ValueError(f"a day cannot be both a holiday and a make-up working day: {both[0].isoformat()}")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> OfficialCalendar:
        """A calendar from its data file's content (``holidays``, ``make_up_working_days``: ISO dates)."""
        return cls(
            holidays=frozenset(date.fromisoformat(d) for d in document.get("holidays", ())),
            make_up_working_days=frozenset(date.fromisoformat(d) for d in document.get("make_up_working_days", ())),
        )

    @classmethod
    def merged(cls, calendars: Iterable[OfficialCalendar]) -> OfficialCalendar:
        holidays: set[date] = set()
        make_up: set[date] = set()
        for calendar in calendars:
            holidays |= calendar.holidays
            make_up |= calendar.make_up_working_days
        return cls(holidays=frozenset(holidays), make_up_working_days=frozenset(make_up))

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_working_days:
            return True
        return day.weekday() < SATURDAY and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself is not counted)."""
        if days < 0:
            raise ValueError("count working days forwards")
        day = start
        remaining = days
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


WEEKDAYS_ONLY = OfficialCalendar()


def local_date(instant: datetime, zone: timezone = ALLIANCE_TIMEZONE) -> date:
    return instant.astimezone(zone).date()


def end_of_local_day(day: date, zone: timezone = ALLIANCE_TIMEZONE) -> datetime:
    """The first instant after ``day`` on the local calendar, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
