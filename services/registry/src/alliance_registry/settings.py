"""Settings of the registry service, read from REGISTRY_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from alliance_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", frozen=True)

    service_name: str = "registry"
    http_port: int = 8001
    ops_port: int = 9001
    mongo_database: str = "alliance_registry"

    #: How often the periodic check expires certificates and activates/completes agreements (seconds).
    schedule_check_seconds: float = Field(default=60.0, gt=0, le=86_400)
