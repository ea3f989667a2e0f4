"""The local Kafka's principals and ACLs: one SCRAM-SHA-512 user per service and per
college, each allowed exactly what ``alliance_shared.contract.topics`` declares.

The admin principal (``alliance-admin``, a super user bootstrapped when the storage is
formatted) provisions the others through confluent-kafka's AdminClient: aiokafka's admin
client can neither alter SCRAM credentials nor create ACLs. Passwords are generated per
stack and kept, readable by the owner only, in the broker's data folder; nothing prints them.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from alliance_devstack.errors import StackError
from alliance_shared.contract.topics import (
    COLLEGE_TOPIC_PREFIX,
    EVENT_TOPICS,
    SERVICE_TOPICS,
    TopicAccess,
    college_access,
    college_principal,
    college_reports_topic,
    dlq_of,
    max_message_bytes,
)
from alliance_shared.messaging.kafka import KafkaAccess

ADMIN_USER = "alliance-admin"
SCRAM_ITERATIONS = 8192
TIMEOUT_S = 30.0


def service_principal(service: str) -> str:
    return f"alliance-{service}"


class Credentials:
    """The stack's Kafka passwords, one per user, generated on first use and kept in a file
    only its owner may read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Two threads onboarding one college at once would each make up a password for it.
        self._making = threading.Lock()

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        loaded = json.loads(self.path.read_text())
        return {str(k): str(v) for k, v in loaded.items()}

    def password(self, user: str) -> str:
        with self._making:
            return self._password(user)

    def _password(self, user: str) -> str:
        passwords = self._load()
        if user not in passwords:
            passwords[user] = secrets.token_urlsafe(24)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial")
            partial.touch(mode=0o600)
            partial.write_text(json.dumps(passwords, indent=2) + "\n")
            os.replace(partial, self.path)
        return passwords[user]


@dataclass(frozen=True)
class Grant:
    """One ALLOW ACL: an operation on a topic or group, by literal name or prefix."""

    resource: ResourceType
    name: str
    operation: AclOperation
    prefixed: bool = False

    def binding(self, principal: str) -> AclBinding:
        pattern = ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL
        return AclBinding(
            self.resource, self.name, pattern, f"User:{principal}", "*", self.operation, AclPermissionType.ALLOW
        )


def _topics(names: Iterable[str], operation: AclOperation) -> list[Grant]:
    return [Grant(ResourceType.TOPIC, name, operation) for name in names]


def service_grants(service: str, access: TopicAccess) -> list[Grant]:
    """Write its own topic, read what it consumes and write those topics' dead-letter twins,
    read its consumer groups (``alliance-<service>`` and ``alliance-<service>-<run>``).
    Write implies Describe and, since Kafka 3.0, the idempotent producer's IdempotentWrite."""
    grants = [
        *_topics(access.produces, AclOperation.WRITE),
        *_topics(access.consumes, AclOperation.READ),
        *_topics(access.dead_letters, AclOperation.WRITE),
    ]
    if access.consumes_college_reports:
        # Kafka's patterns are literal or prefix, never suffix: one prefix covers every
        # college's reports topic (read) and its dead-letter twin (write).
        grants += [
            Grant(ResourceType.TOPIC, COLLEGE_TOPIC_PREFIX, AclOperation.READ, prefixed=True),
            Grant(ResourceType.TOPIC, COLLEGE_TOPIC_PREFIX, AclOperation.WRITE, prefixed=True),
        ]
    if access.consumes or access.consumes_college_reports:
        grants.append(Grant(ResourceType.GROUP, service_principal(service), AclOperation.READ, prefixed=True))
    return grants


def college_grants(college_id: str) -> list[Grant]:
    """Write its own reports topic; nothing else (its news reach it by webhook and inbox)."""
    return _topics(college_access(college_id).produces, AclOperation.WRITE)


class KafkaSecurityAdmin:
    """Provisioning as the admin principal."""

    def __init__(self, admin: KafkaAccess, credentials: Credentials) -> None:
        self.access = admin
        self.credentials = credentials

    def _client(self) -> AdminClient:
        # One per call, gone with it: a client kept past its broker's stop logs connection errors.
        admin = self.access
        return AdminClient(
            {
                "bootstrap.servers": admin.bootstrap_servers,
                "security.protocol": admin.security_protocol,
                "sasl.mechanisms": admin.sasl_mechanism or "",
                "sasl.username": admin.username or "",
                "sasl.password": admin.password or "",
                "socket.timeout.ms": int(TIMEOUT_S * 1000),
                "log_level": 3,
            }
        )

    def provision_services(self, services: Iterable[str] = SERVICE_TOPICS) -> dict[str, KafkaAccess]:
        """The services' users, ACLs and topics (idempotent); each service's client settings."""
        chosen = list(services)
        self.create_topics([*EVENT_TOPICS, *(dlq_of(t) for t in EVENT_TOPICS)])
        principals = {name: service_principal(name) for name in chosen}
        self.upsert_users(principals.values())
        self.grant({principals[name]: service_grants(name, SERVICE_TOPICS[name]) for name in chosen})
        return {name: self.principal(user) for name, user in principals.items()}

    def onboard_college(self, college_id: str) -> KafkaAccess:
        """A college's user, its reports topic and the topic's dead-letter twin, its ACL (idempotent:
        an onboarded college keeps its credential, so its clients logged in meanwhile stay valid)."""
        topic = college_reports_topic(college_id)
        principal = college_principal(college_id)
        self.create_topics([topic, dlq_of(topic)])
        self.upsert_users([principal], only_missing=True)
        self.grant({principal: college_grants(college_id)})
        return self.principal(principal)

    def principal(self, user: str) -> KafkaAccess:
        return self.access.as_user(user, self.credentials.password(user))

    def create_topics(self, topics: Iterable[str], partitions: int = 3) -> None:
        client = self._client()
        existing = set(client.list_topics(timeout=TIMEOUT_S).topics)
        missing = sorted(set(topics) - existing)
        if not missing:
            return
        wanted = [NewTopic(t, partitions, 1, config=self._topic_config(t)) for t in missing]
        for topic, future in client.create_topics(wanted, request_timeout=TIMEOUT_S).items():
            try:
                future.result(TIMEOUT_S)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise StackError(f"creating Kafka topic {topic} failed: {exc}") from exc

    @staticmethod
    def _topic_config(topic: str) -> dict[str, str]:
        limit = max_message_bytes(topic)
        return {"max.message.bytes": str(limit)} if limit is not None else {}

    def upsert_users(self, users: Iterable[str], *, only_missing: bool = False) -> None:
        """Set the users' credentials and wait until the broker knows them, so a login right
        after this call succeeds. ``only_missing``: leave users that have one alone — setting
        it again changes its salt under a client that is logging in at that moment."""
        wanted = list(dict.fromkeys(users))
        client = self._client()  # kept until its futures are done
        if only_missing:
            known = self._known_users(client, wanted)
            wanted = [user for user in wanted if user not in known]
        if not wanted:
            return
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(
                user,
                ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
                self.credentials.password(user).encode(),
            )
            for user in wanted
        ]
        self._wait(client.alter_user_scram_credentials(upserts, request_timeout=TIMEOUT_S), "SCRAM users")
        deadline = time.monotonic() + TIMEOUT_S
        while len(self._known_users(client, wanted)) < len(wanted):
            if time.monotonic() > deadline:
                raise StackError(f"the broker did not take the SCRAM users {wanted} within {TIMEOUT_S} s")
            time.sleep(0.1)

    @staticmethod
    def _known_users(client: AdminClient, users: list[str]) -> set[str]:
        """Which of the users have a SCRAM credential on the broker (its view, which logins use)."""
        known: set[str] = set()
        futures = client.describe_user_scram_credentials(users, request_timeout=TIMEOUT_S)
        assert isinstance(futures, dict)  # one future per user named
        for user, future in futures.items():
            try:
                future.result(TIMEOUT_S)
            except KafkaException:
                continue  # RESOURCE_NOT_FOUND: no credential yet
            known.add(user)
        return known

    def grant(self, grants: Mapping[str, Iterable[Grant]]) -> None:
        bindings = [grant.binding(principal) for principal, each in grants.items() for grant in each]
        client = self._client()
        self._wait(client.create_acls(bindings, request_timeout=TIMEOUT_S), "ACLs")

    @staticmethod
    def _wait(futures: Mapping[Any, Future[Any]], what: str) -> None:
        for key, future in futures.items():
            try:
                future.result(TIMEOUT_S)
            except KafkaException as exc:
                raise StackError(f"provisioning Kafka {what} failed for {key}: {exc}") from exc
