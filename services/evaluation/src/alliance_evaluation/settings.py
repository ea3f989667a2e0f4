"""Settings of the evaluation service, read from EVALUATION_* environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore", frozen=True)

    service_name: str = "evaluation"
    http_port: int = 8003
    mongo_database: str = "alliance_evaluation"
