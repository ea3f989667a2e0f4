"""Service settings from the environment (pydantic-settings).

Every service has its own prefix (``REGISTRY_``, ``FUNDING_``, ``EVALUATION_``,
``NOTIFICATIONS_``) so one shell or one ConfigMap can hold all four without clashes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service reads; a service subclasses it with its prefix and extras."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = Field(default="service", description="CloudEvents source and log field")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    #: The internal operations port (/metrics, /openapi.json, /docs, /redoc), never routed by the Ingress.
    ops_port: int = Field(default=9000, ge=1, le=65535)
    #: Largest request body a route accepts unless the service gives it its own limit (413 above).
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    mongo_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongo_database: str = "alliance"
    #: Every MongoDB operation as a whole, socket reads included; beyond it the request is 503.
    mongo_operation_timeout_ms: int = Field(default=30000, ge=100)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_consumer_group: str | None = Field(default=None, description="defaults to alliance-<service_name>")
    #: How often a consumer subscribed by pattern (evaluation: every college's reports topic)
    #: refreshes the cluster's metadata, so a newly onboarded college is read within seconds.
    kafka_topic_discovery_ms: int = Field(default=5000, ge=100)

    #: How long a consumer retries a record that meets a transient failure before it restarts.
    kafka_transient_retry_seconds: float = Field(default=600.0, gt=0)

    jwks_url: str | None = None
    jwks_file: str | None = None
    jwt_issuer: str = "https://auth.coopalliance.local"
    jwt_audience: str = "coop-alliance"

    #: How often the relay sweeps for entries its own process did not write (crash recovery).
    outbox_scan_seconds: float = Field(default=10.0, gt=0)
    #: How often the audit chain's head is published as an anchor, and the chain verified.
    audit_anchor_seconds: float = Field(default=3600.0, gt=0)
    audit_verify_seconds: float = Field(default=3600.0, gt=0)
    #: The whole shutdown (consumers leave their groups, tasks end, producers flush) must fit
    #: in the pod's grace period after its preStop sleep (deploy/k8s: 45 s - 10 s); a step
    #: still running at this deadline is abandoned, and what it had not committed is redelivered.
    shutdown_seconds: float = Field(default=30.0, gt=0)
    run_consumers: bool = True
    run_relay: bool = True

    @property
    def consumer_group(self) -> str:
        return self.kafka_consumer_group or f"alliance-{self.service_name}"
