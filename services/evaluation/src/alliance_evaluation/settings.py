"""Settings of the evaluation service, read from EVALUATION_* environment variables."""

from __future__ import annotations

from datetime import date

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from alliance_evaluation.domain.appeal import DEFAULT_APPEAL_WORKING_DAYS
from alliance_evaluation.domain.formality import DEFAULT_INACTIVE_MONTHS
from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore", frozen=True)

    service_name: str = "evaluation"
    http_port: int = 8003
    mongo_database: str = "alliance_evaluation"

    #: How often the periodic check marks rectification orders overdue (seconds).
    overdue_check_seconds: float = Field(default=60.0, gt=0, le=86_400)
    #: Time a responsible party gets to answer a rectification order (seconds; 30 days).
    rectification_due_seconds: int = Field(default=30 * 86_400, ge=1, le=366 * 86_400)
    #: Working days after a result within which a party may appeal it.
    appeal_window_working_days: int = Field(default=DEFAULT_APPEAL_WORKING_DAYS, ge=1, le=60)
    #: Holidays (ISO dates, JSON list in the environment) not counted as working days.
    appeal_holidays: frozenset[date] = frozenset()
    #: Consecutive months without activity that flag an active agreement as formality risk.
    formality_inactive_months: int = Field(default=DEFAULT_INACTIVE_MONTHS, ge=1, le=36)
    #: Publish the default framework (v1) at start-up when no framework exists.
    seed_default_framework: bool = True
