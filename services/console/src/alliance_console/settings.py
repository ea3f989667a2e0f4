"""CONSOLE_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    registry_url: str = "http://127.0.0.1:8001"
    funding_url: str = "http://127.0.0.1:8002"
    evaluation_url: str = "http://127.0.0.1:8003"
    notifications_url: str = "http://127.0.0.1:8004"
    #: Where people reach the console (the OIDC redirect URI is built from it).
    public_url: str = "http://127.0.0.1:8000"
    session_secret: str = ""
    #: The development sign-in page (role + partner chooser minting dev tokens); off in production.
    dev_login: bool = False
    #: The dev signing key's folder; empty: ALLIANCE_DEV_KEYS_DIR or var/dev-keys, as alliance-token.
    dev_keys_dir: str = ""
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile offline_access"
    #: The access token is for the services (their JWT audience); empty: the IdP's default.
    oidc_audience: str = "coop-alliance"
    cookie_secure: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    #: The internal operations port: /metrics and the probes, never routed by the Ingress.
    ops_port: int = 9000
    log_level: str = "INFO"
    #: Seconds one call to a service may take before the page says it is still being worked
    #: on. Longer than a service's own database timeout (<SVC>_MONGO_OPERATION_TIMEOUT_MS,
    #: 30 s), so that a slow database reaches the person as the service's own answer
    #: (docs/console.md, "Timeouts").
    service_timeout_s: float = 35.0

    def service_urls(self) -> dict[str, str]:
        return {
            "registry": self.registry_url,
            "funding": self.funding_url,
            "evaluation": self.evaluation_url,
            "notifications": self.notifications_url,
        }
