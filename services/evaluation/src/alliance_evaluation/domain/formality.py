"""Formality risk ("face engineering"): an agreement on paper with nothing behind it.

Flagged when an active agreement shows no recorded activity for ``inactive_months``
(default 3) consecutive months ending on the evaluation day — counted only once the
agreement has been active that long — or when CD-02 (share of active months) is at
risk. Activity is any college report or manual evidence of the agreement; pass at
least ``inactive_months`` of it, even when the cycle's window is shorter.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from alliance_shared.contract.vocabulary import RiskBand

DEFAULT_INACTIVE_MONTHS = 3


class FormalityReason(StrEnum):
    NO_ACTIVITY = "no_activity"
    ACTIVE_MONTHS_AT_RISK = "active_months_at_risk"


@dataclass(frozen=True)
class FormalityAssessment:
    flagged: bool
    reasons: tuple[FormalityReason, ...]
    #: Whole months since the last activity (or since the agreement became active).
    inactive_months: int
    last_activity_on: date | None
    explanation: str


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the month's end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def whole_months_between(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(0, months)


def assess_formality(
    *,
    agreement_active: bool,
    active_since: date,
    activity_dates: Iterable[date],
    evaluated_on: date,
    cd02_band: RiskBand | None,
    inactive_months: int = DEFAULT_INACTIVE_MONTHS,
) -> FormalityAssessment:
    if inactive_months < 1:
        raise ValueError("the inactivity period is at least one month")
    past = [d for d in activity_dates if d <= evaluated_on]
    last_activity = max(past, default=None)
    quiet_since = max(last_activity or active_since, active_since)
    quiet_months = whole_months_between(quiet_since, evaluated_on)
    if not agreement_active:
        return FormalityAssessment(False, (), quiet_months, last_activity, "the agreement is not active")

    reasons: list[FormalityReason] = []
    notes: list[str] = []
    cutoff = months_before(evaluated_on, inactive_months)
    if active_since <= cutoff and (last_activity is None or last_activity <= cutoff):
        reasons.append(FormalityReason.NO_ACTIVITY)
        since = f"since {last_activity.isoformat()}" if last_activity else "at all"
        notes.append(f"no recorded activity {since}: {inactive_months} or more months up to {evaluated_on.isoformat()}")
    if cd02_band is RiskBand.AT_RISK:
        reasons.append(FormalityReason.ACTIVE_MONTHS_AT_RISK)
        notes.append("the share of months with activity (CD-02) is at risk")
    explanation = "; ".join(notes) if notes else "activity recorded recently enough"
    return FormalityAssessment(bool(reasons), tuple(reasons), quiet_months, last_activity, explanation)
