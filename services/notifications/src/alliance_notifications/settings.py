"""Settings of the notifications service, read from NOTIFICATIONS_* environment variables."""

from __future__ import annotations

from datetime import time

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from alliance_notifications.domain.preferences import Preferences
from alliance_notifications.domain.quiet_hours import QuietHours
from alliance_notifications.domain.retry_policy import RetryPolicy
from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    service_name: str = "notifications"
    http_port: int = 8004
    mongo_database: str = "alliance_notifications"

    # --- e-mail (the local stack's SMTP sink by default; `alliance run` passes its port) ---
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_from: str = "Cooperation Alliance Platform <noreply@coopalliance.local>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: Upgrade the connection with STARTTLS (a real relay); the local sink speaks plain SMTP.
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=15.0, gt=0, le=300)

    # --- webhooks ---
    #: A receiver must answer within this time; an answer after it is a failed attempt.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    #: Consecutive failures that open an endpoint's circuit breaker, and its cool-down.
    breaker_failure_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_cool_down_seconds: int = Field(default=300, ge=1, le=86_400)
    #: How long an old secret keeps signing after a rotation.
    secret_rotation_grace_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400)

    # --- retries: exponential backoff with full jitter, then dead ---
    retry_base_seconds: int = Field(default=30, ge=1)
    retry_cap_seconds: int = Field(default=3600, ge=1)
    retry_max_attempts: int = Field(default=12, ge=1, le=100)

    # --- background loops ---
    #: How often the delivery worker looks for due deliveries (it is also woken at once
    #: when this process plans one).
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=300)
    #: Deliveries attempted at the same time (one slow receiver never blocks the others).
    worker_concurrency: int = Field(default=32, ge=1, le=1000)
    #: Events planned at the same time (a bound on concurrent writers, next to the consumer's own).
    planning_concurrency: int = Field(default=16, ge=1, le=256)
    #: How long a claimed delivery is reserved for the worker that claimed it.
    claim_seconds: int = Field(default=120, ge=5, le=3600)
    #: How long routing may reuse the recipient directory (contacts, role groups, endpoints)
    #: it read; changes made by this process show at once, another replica's within this time.
    directory_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    reminder_scan_seconds: float = Field(default=60.0, gt=0, le=86_400)
    #: Local hour (in each recipient's time zone) at which the daily digest goes out.
    digest_hour: int = Field(default=8, ge=0, le=23)
    digest_scan_seconds: float = Field(default=300.0, gt=0, le=86_400)
    #: How often a live inbox stream (SSE) looks for new entries, and its keep-alive ping.
    inbox_stream_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    #: Quiet hours of recipients who never set their own: "HH:MM-HH:MM" local time, "" for none.
    default_quiet_hours: str = Field(default="22:00-07:00", pattern=r"^(|[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9])$")

    @property
    def quiet_hours(self) -> QuietHours | None:
        if not self.default_quiet_hours:
            return None
        start, end = self.default_quiet_hours.split("-")
        return QuietHours(start=time.fromisoformat(start), end=time.fromisoformat(end))

    def default_preferences(self, recipient_id: str) -> Preferences:
        return Preferences(recipient_id=recipient_id, quiet_hours=self.quiet_hours)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base_seconds=self.retry_base_seconds,
            cap_seconds=max(self.retry_cap_seconds, self.retry_base_seconds),
            max_attempts=self.retry_max_attempts,
        )
