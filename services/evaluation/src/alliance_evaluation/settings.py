"""Settings of the evaluation service, read from EVALUATION_* environment variables."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from alliance_evaluation.domain.appeal import DEFAULT_APPEAL_WORKING_DAYS
from alliance_evaluation.domain.formality import DEFAULT_INACTIVE_MONTHS
from alliance_evaluation.domain.working_days import OfficialCalendar
from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore", frozen=True)

    service_name: str = "evaluation"
    http_port: int = 8003
    ops_port: int = 9003
    mongo_database: str = "alliance_evaluation"

    #: How often the periodic check marks rectification orders overdue (seconds).
    overdue_check_seconds: float = Field(default=60.0, gt=0, le=86_400)
    #: Time a responsible party gets to answer a rectification order (seconds; 30 days).
    rectification_due_seconds: int = Field(default=30 * 86_400, ge=1, le=366 * 86_400)
    #: How long past its deadline an order still unanswered is escalated (seconds; 14 days).
    rectification_escalate_after_seconds: int = Field(default=14 * 86_400, ge=0, le=366 * 86_400)
    #: How long a college report for an agreement not yet known waits for the registry's
    #: event before it is dead-lettered as ``report.unknown_agreement`` (seconds).
    parked_report_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    #: Working days after a result within which a party may appeal it.
    appeal_window_working_days: int = Field(default=DEFAULT_APPEAL_WORKING_DAYS, ge=1, le=60)
    #: Official calendars shipped in ``alliance_evaluation/calendars/`` that working days follow.
    official_calendars: tuple[str, ...] = ("cn-mainland-2026",)
    #: More calendar files in the same JSON form (e.g. next year's once the State Council publishes it).
    calendar_files: tuple[Path, ...] = ()
    #: Further holidays (ISO dates, JSON list in the environment), e.g. a provincial one.
    appeal_holidays: frozenset[date] = frozenset()
    #: Further make-up working days (ISO dates, JSON list in the environment).
    make_up_working_days: frozenset[date] = frozenset()
    #: Consecutive months without activity that flag an active agreement as formality risk.
    formality_inactive_months: int = Field(default=DEFAULT_INACTIVE_MONTHS, ge=1, le=36)
    #: Publish the default framework (v1) at start-up when no framework exists.
    seed_default_framework: bool = True

    def official_calendar(self) -> OfficialCalendar:
        """The calendars named and given, and the extra days, as one calendar."""
        return _calendar(self.official_calendars, self.calendar_files, self.appeal_holidays, self.make_up_working_days)


@cache
def _calendar(
    names: tuple[str, ...], paths: tuple[Path, ...], holidays: frozenset[date], make_up: frozenset[date]
) -> OfficialCalendar:
    shipped = files("alliance_evaluation") / "calendars"
    documents = [json.loads((shipped / f"{name}.json").read_text(encoding="utf-8")) for name in names]
    documents += [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    extra = OfficialCalendar(holidays=holidays, make_up_working_days=make_up)
    return OfficialCalendar.merged([*map(OfficialCalendar.from_document, documents), extra])
