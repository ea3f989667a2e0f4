"""Settings of the funding service, read from FUNDING_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from alliance_funding.domain.surcharge_credit import NATIONAL_CREDIT_RATES, CreditRate
from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore", frozen=True)

    service_name: str = "funding"
    http_port: int = 8002
    ops_port: int = 9002
    mongo_database: str = "alliance_funding"

    #: Education-surcharge credit rates as dated steps (JSON list in the environment:
    #: ``[{"effective_from": "2019-01-01", "rate_bp": 3000}]``); 30 % under the current policy.
    surcharge_credit_rates: tuple[CreditRate, ...] = Field(default=NATIONAL_CREDIT_RATES, min_length=1)
    #: How often the reconciling pass runs (seconds): grants awards of approved applications
    #: a crash left without one, verifies every book and logs awards behind their book.
    reconcile_seconds: float = Field(default=300.0, gt=0, le=86_400)
    #: Recovery deadlines (calendar days): a reminder this many days before ``due_at``, an
    #: escalation when overdue for longer than ``recovery_escalate_after_days``; the pass
    #: runs every ``recovery_check_seconds``.
    recovery_reminder_days: int = Field(default=7, ge=0, le=365)
    recovery_escalate_after_days: int = Field(default=30, ge=0, le=3650)
    recovery_check_seconds: float = Field(default=3600.0, gt=0, le=86_400)
