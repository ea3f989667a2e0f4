"""Settings of the notifications service, read from NOTIFICATIONS_* environment variables."""

from __future__ import annotations

from datetime import time

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from alliance_notifications.domain.egress import EgressPolicy
from alliance_notifications.domain.preferences import Preferences
from alliance_notifications.domain.quiet_hours import QuietHours
from alliance_notifications.domain.retry_policy import RetryPolicy
from alliance_shared.settings import ServiceSettings

#: Encrypts webhook secrets when NOTIFICATIONS_WEBHOOK_SECRET_KEY is unset (`make run`,
#: tests): it is public, so it protects nothing — production sets its own key.
DEVELOPMENT_SECRET_KEY = "YWxsaWFuY2Utbm90aWZpY2F0aW9ucy1kZXYta2V5ISE="  # noqa: S105 - published on purpose


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    service_name: str = "notifications"
    http_port: int = 8004
    ops_port: int = 9004
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
    #: The whole of one attempt (connect, send, read the answer) of either channel; shorter
    #: than ``claim_seconds``, so no other worker takes a delivery while it is being sent.
    attempt_deadline_seconds: float = Field(default=60.0, gt=0, le=600)
    #: At most this many bytes of a receiver's answer are read (the challenge echo fits).
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    #: Hosts (exact names or addresses, comma-separated) exempt from the public-address
    #: rule and allowed plain http: the local demo's and the tests' receivers, "127.0.0.1".
    webhook_allowed_hosts: str = ""
    #: The cluster's own networks (service and pod CIDRs, comma-separated) when they are
    #: public addresses; private, loopback, link-local and multicast ones are refused anyway.
    webhook_blocked_networks: str = ""
    #: Endpoints a partner may have (those not disabled).
    webhook_max_endpoints_per_partner: int = Field(default=5, ge=1, le=100)
    #: Verification handshakes a partner may start per window, per process.
    verify_rate_limit: int = Field(default=5, ge=1, le=1000)
    verify_rate_window_seconds: int = Field(default=60, ge=1, le=86_400)
    #: How long an old secret keeps signing after a rotation.
    secret_rotation_grace_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400)
    #: Fernet keys (comma-separated, the first encrypts, all decrypt: add a new key in front
    #: to rotate) that encrypt webhook secrets at rest. Unset: a published development key,
    #: with a warning at start — never in production (deploy/k8s sets it from a Secret).
    webhook_secret_key: SecretStr | None = None
    #: How often secrets whose grace period ended are dropped from endpoints.
    secret_sweep_seconds: float = Field(default=3600.0, gt=0, le=86_400)

    # --- retries: exponential backoff with full jitter, then dead ---
    retry_base_seconds: int = Field(default=30, ge=1)
    retry_cap_seconds: int = Field(default=3600, ge=1)
    retry_max_attempts: int = Field(default=12, ge=1, le=100)

    # --- background loops ---
    #: How often the delivery worker looks for due deliveries (it is also woken at once
    #: when this process plans one).
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=300)
    #: Attempts at the same time, per channel: separate pools, so slow receivers of one
    #: channel never hold up the other. E-mails queue for the one reused SMTP connection.
    email_concurrency: int = Field(default=16, ge=1, le=1000)
    webhook_concurrency: int = Field(default=32, ge=1, le=1000)
    #: Webhook attempts at the same time to one endpoint: a slow receiver holds at most
    #: this many of the ``webhook_concurrency`` slots, never all of them.
    webhook_concurrency_per_endpoint: int = Field(default=4, ge=1, le=100)
    #: Planning waits for the first attempts of the webhooks it planned (to record each
    #: delivery once, with its outcome) while they keep ending: until none ended for this
    #: long, or for ``attempt_deadline_seconds`` in all. One still running then is recorded
    #: pending and its outcome saved as the next version when it ends.
    webhook_first_attempt_seconds: float = Field(default=2.0, ge=0, le=60)
    #: Events planned at the same time (a bound on concurrent writers, next to the consumer's own).
    planning_concurrency: int = Field(default=16, ge=1, le=256)
    #: How long a claimed delivery is reserved for the worker that claimed it.
    claim_seconds: int = Field(default=120, ge=5, le=3600)
    #: How long routing may reuse the recipient directory (contacts, role groups, endpoints)
    #: it read; changes made by this process show at once, another replica's within this time.
    directory_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    #: How long routing may reuse the rule set it read; a new version written by this
    #: process applies at once, one written through another replica within this time.
    rules_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    reminder_scan_seconds: float = Field(default=60.0, gt=0, le=86_400)
    #: Local hour (in each recipient's time zone) at which the daily digest goes out.
    digest_hour: int = Field(default=8, ge=0, le=23)
    digest_scan_seconds: float = Field(default=300.0, gt=0, le=86_400)
    #: How often a live inbox stream (SSE) looks for new entries, and its keep-alive ping.
    inbox_stream_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    #: Quiet hours of recipients who never set their own: "HH:MM-HH:MM" local time, "" for none.
    default_quiet_hours: str = Field(default="22:00-07:00", pattern=r"^(|[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9])$")

    @model_validator(mode="after")
    def _deadline_within_claim(self) -> Settings:
        if self.attempt_deadline_seconds >= self.claim_seconds:
            raise ValueError("attempt_deadline_seconds must be shorter than claim_seconds")
        return self

    @property
    def egress_policy(self) -> EgressPolicy:
        return EgressPolicy.of(self.webhook_allowed_hosts.split(","), self.webhook_blocked_networks.split(","))

    @property
    def secret_keys(self) -> list[str]:
        """The Fernet keys, the one that encrypts first; the development key when unset."""
        if self.webhook_secret_key is None:
            return [DEVELOPMENT_SECRET_KEY]
        return [k.strip() for k in self.webhook_secret_key.get_secret_value().split(",") if k.strip()]

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
