"""Quiet hours: a daily window, in the recipient's own time zone, without e-mail.

Policy (decided here, documented in the routing module): an e-mail planned inside the
window is *delayed* to the window's end — regulatory e-mails too, they are delayed but
never dropped. Inbox entries and webhooks are never delayed: they wake nobody up.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, field_serializer, model_validator

from alliance_notifications.domain.recipients import zone
from alliance_shared.errors import DomainError


class QuietHours(BaseModel):
    """From ``start`` (included) to ``end`` (excluded), local wall-clock time; crosses
    midnight when ``start`` is after ``end`` (22:00–07:00)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    @model_validator(mode="after")
    def _non_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall-clock times, without a time zone")
        return self

    @field_serializer("start", "end")
    def _as_text(self, value: time) -> str:
        # BSON has no time-of-day type: stored as "HH:MM[:SS]" and parsed back by pydantic.
        return value.isoformat()

    @classmethod
    def between(cls, start: time, end: time) -> QuietHours:
        if start == end:
            raise DomainError("preferences.quiet_hours_empty", "quiet hours must start and end at different times")
        return cls(start=start, end=end)

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def _contains_local(self, local: time) -> bool:
        if self.crosses_midnight:
            return local >= self.start or local < self.end
        return self.start <= local < self.end

    def release_at(self, instant: datetime, time_zone: str) -> datetime | None:
        """When an e-mail planned at ``instant`` may go (UTC), or None when it may go now."""
        tz = zone(time_zone)
        local = instant.astimezone(tz)
        wall_clock = local.time().replace(tzinfo=None)
        if not self._contains_local(wall_clock):
            return None
        end_day = local.date()
        if self.crosses_midnight and wall_clock >= self.start:
            end_day += timedelta(days=1)
        release = datetime.combine(end_day, self.end, tzinfo=tz).astimezone(UTC)
        # A daylight-saving jump can put the wall-clock end before the instant itself.
        return max(release, instant.astimezone(UTC))


DEFAULT_QUIET_HOURS = QuietHours(start=time(22, 0), end=time(7, 0))
