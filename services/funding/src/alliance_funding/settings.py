"""Settings of the funding service, read from FUNDING_* environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore", frozen=True)

    service_name: str = "funding"
    http_port: int = 8002
    mongo_database: str = "alliance_funding"
