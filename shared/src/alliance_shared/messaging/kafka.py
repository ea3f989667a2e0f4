"""Kafka client configuration, the idempotent producer and the topic bootstrapper."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidMessageError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)
from aiokafka.helpers import create_ssl_context

from alliance_shared.contract.topics import EVENT_TOPICS, MAX_REQUEST_BYTES, dlq_of, max_message_bytes
from alliance_shared.logging import get_logger
from alliance_shared.settings import ServiceSettings

log = get_logger(__name__)

#: Broker answers to a record that no retry can change.
REFUSED_RECORD_ERRORS: tuple[type[Exception], ...] = (MessageSizeTooLargeError, InvalidMessageError)
#: ... and, for a dead-letter copy, a topic this service may not write.
UNPUBLISHABLE_DLQ_ERRORS: tuple[type[Exception], ...] = (*REFUSED_RECORD_ERRORS, TopicAuthorizationFailedError)


@dataclass(frozen=True)
class KafkaAccess:
    """Where a Kafka cluster is and who connects to it: tools, tests and the local stack's
    clients (a service reads the same facts from its settings)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def scram(cls, bootstrap_servers: str, username: str, password: str) -> KafkaAccess:
        """A principal of the platform's clusters: SASL/SCRAM-SHA-512 (docs/security.md, Kafka)."""
        return cls(bootstrap_servers, "SASL_PLAINTEXT", "SCRAM-SHA-512", username, password)

    def as_user(self, username: str, password: str) -> KafkaAccess:
        """The same cluster, another principal."""
        return KafkaAccess(self.bootstrap_servers, self.security_protocol, self.sasl_mechanism, username, password)

    def options(self) -> dict[str, Any]:
        """aiokafka's connection options."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options

    def settings_env(self, prefix: str) -> dict[str, str]:
        """The `<PREFIX>KAFKA_*` settings of a service that connects as this principal."""
        env = {
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            f"{prefix}KAFKA_SECURITY_PROTOCOL": self.security_protocol,
        }
        if self.sasl_mechanism and self.username and self.password:
            env[f"{prefix}KAFKA_SASL_MECHANISM"] = self.sasl_mechanism
            env[f"{prefix}KAFKA_SASL_USERNAME"] = self.username
            env[f"{prefix}KAFKA_SASL_PASSWORD"] = self.password
        return env


def access_of(settings: ServiceSettings) -> KafkaAccess:
    """The principal a service's settings name."""
    return KafkaAccess(
        settings.kafka_bootstrap_servers,
        settings.kafka_security_protocol,
        settings.kafka_sasl_mechanism,
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None,
    )


def settings_for(kafka: KafkaAccess, **overrides: Any) -> ServiceSettings:
    """Settings of a tool that connects as ``kafka`` (topic bootstrap, tests, benchmarks)."""
    fields: dict[str, Any] = {key.lower(): value for key, value in kafka.settings_env("").items()}
    return ServiceSettings(**{**fields, **overrides})


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Connection and security options common to producers, consumers and admin clients."""
    options = {**access_of(settings).options(), "client_id": f"alliance-{settings.service_name}"}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    return options


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    # Idempotence keeps one aggregate's events in order and unduplicated across retries.
    return AIOKafkaProducer(
        **client_options(settings),
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_request_size=MAX_REQUEST_BYTES,
        request_timeout_ms=15000,
    )


def create_dead_letter_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """Dead-letter copies go through a producer without idempotence: a copy the broker
    refuses for good would leave a gap in an idempotent producer's sequence, and every later
    send to that partition would wait forever. Duplicates in a dead-letter topic are harmless."""
    return AIOKafkaProducer(
        **client_options(settings),
        enable_idempotence=False,
        acks="all",
        max_request_size=MAX_REQUEST_BYTES,
        request_timeout_ms=15000,
    )


async def partitions_of(kafka: KafkaAccess, topic: str) -> list[int]:
    """The partition numbers of a topic, from the cluster (tools and tests that read a topic whole)."""
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in described[0]["partitions"])
    finally:
        await admin.close()


def _new_topic(topic: str, partitions: int, replication_factor: int) -> NewTopic:
    limit = max_message_bytes(topic)
    configs = {"max.message.bytes": str(limit)} if limit is not None else {}
    return NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor, topic_configs=configs)


async def ensure_topics(
    settings: ServiceSettings,
    topics: Iterable[str] = EVENT_TOPICS,
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
) -> None:
    """Create missing topics and their `.dlq` twins; existing ones are left as they are."""
    wanted = sorted({t for topic in topics for t in (topic, dlq_of(topic))})
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return
        try:
            response = await admin.create_topics([_new_topic(t, partitions, replication_factor) for t in missing])
        except TopicAlreadyExistsError:
            return  # another service created them first
        # A principal sees only the topics its ACLs name, and may create none: the operator
        # (the local stack's admin, Strimzi's KafkaTopics) creates them, so a refusal is no error.
        refused = {str(error[0]): int(error[1]) for error in response.topic_errors if error[1]}
        created = [t for t in missing if t not in refused]
        if created:
            log.info("kafka topics created", topics=created)
        if refused:
            log.info("kafka topics not created here", refused=refused)
    finally:
        await admin.close()
