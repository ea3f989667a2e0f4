"""Settings of the notifications service, read from NOTIFICATIONS_* environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    service_name: str = "notifications"
    http_port: int = 8004
    mongo_database: str = "alliance_notifications"
