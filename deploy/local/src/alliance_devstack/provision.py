"""Real servers for the tests and benchmarks, by the precedence in docs/architecture.md:

1. explicit URLs in the environment (``ALLIANCE_TEST_KAFKA_BOOTSTRAP`` and
   ``ALLIANCE_TEST_MONGO_URL``, optionally ``ALLIANCE_TEST_SMTP_HOST``/``_PORT``) —
   used as they are, never started or stopped; with ``ALLIANCE_TEST_KAFKA_ADMIN_USERNAME``
   and ``_PASSWORD`` (a SCRAM-SHA-512 super user) the services and colleges get principals
   and ACLs there as on the local stack;
2. a reachable Docker engine — Kafka (apache/kafka, KRaft, without authentication) and
   MongoDB containers via testcontainers;
3. otherwise the local stack on free ports, Kafka with SASL/SCRAM and ACLs.

Without authentication (kinds 2, and 1 without an admin user) every client connects
unauthenticated and the tests that prove the ACLs are skipped.

An SMTP sink comes with every kind (a small local process) unless the environment
names an SMTP server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from alliance_devstack.components import HOST, KafkaBroker, MongoWireServer, SmtpSink, free_port, kafka_answers
from alliance_devstack.errors import StackError
from alliance_devstack.kafka_security import Credentials, KafkaSecurityAdmin
from alliance_devstack.paths import KAFKA_VERSION
from alliance_devstack.services import SERVICES
from alliance_devstack.stack import Stack
from alliance_shared.contract.topics import college_reports_topic
from alliance_shared.messaging.kafka import KafkaAccess, ensure_topics, settings_for

KAFKA_IMAGE = f"apache/kafka:{KAFKA_VERSION}"
MONGO_IMAGE = "mongo:8.0"


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    #: Where the sink files what it receives; None for a server named by the environment.
    maildir: Path | None


@dataclass
class Infrastructure:
    mongo_url: str
    smtp: SmtpEndpoint
    kind: Literal["env", "docker", "local"]
    #: The tests' own Kafka clients: the admin principal (unauthenticated without security).
    kafka_admin: KafkaAccess
    #: Provisions principals, ACLs and topics; None when the broker has no authentication.
    kafka_security: KafkaSecurityAdmin | None = None
    #: Only for kind "local": the processes themselves, so fault tests can stop and restart them.
    kafka: KafkaBroker | None = None
    mongo: MongoWireServer | None = None
    smtp_sink: SmtpSink | None = None

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_admin.bootstrap_servers

    @cached_property
    def kafka_services(self) -> dict[str, KafkaAccess]:
        """Each service's own principal (all the admin's access without security)."""
        if self.kafka_security is None:
            return dict.fromkeys(SERVICES, self.kafka_admin)
        return self.kafka_security.provision_services()

    async def onboard_college(self, college_id: str) -> KafkaAccess:
        """A college's principal, its reports topic and ACL (as `alliance dev college`);
        without security the topics only, and the admin's unauthenticated access."""
        if self.kafka_security is not None:
            return await asyncio.to_thread(self.kafka_security.onboard_college, college_id)
        topic = college_reports_topic(college_id)
        await ensure_topics(settings_for(self.kafka_admin), [topic])
        return self.kafka_admin


def docker_available(timeout_s: float = 5.0) -> bool:
    """Whether a Docker engine answers quickly (the CLI's `docker info`, else testcontainers' client)."""
    if shutil.which("docker") is not None:
        try:
            result = subprocess.run(["docker", "info"], capture_output=True, timeout=timeout_s, check=False)  # noqa: S607
        except (OSError, subprocess.TimeoutExpired):
            return False
        return result.returncode == 0
    try:
        from testcontainers.core.docker_client import DockerClient

        return bool(DockerClient().client.ping())
    except Exception:
        return False


@contextmanager
def provision_infrastructure(work_dir: Path) -> Iterator[Infrastructure]:
    kafka_url = os.environ.get("ALLIANCE_TEST_KAFKA_BOOTSTRAP")
    mongo_url = os.environ.get("ALLIANCE_TEST_MONGO_URL")
    if bool(kafka_url) != bool(mongo_url):
        raise StackError("set both ALLIANCE_TEST_KAFKA_BOOTSTRAP and ALLIANCE_TEST_MONGO_URL, or neither")
    with ExitStack() as cleanup:
        if kafka_url and mongo_url:
            yield Infrastructure(mongo_url, _smtp(work_dir, cleanup), "env", *_env_kafka(kafka_url, work_dir))
        elif docker_available() and _testcontainers_installed():
            kafka_bootstrap, mongo = cleanup.enter_context(_containers())
            yield Infrastructure(mongo, _smtp(work_dir, cleanup), "docker", KafkaAccess(kafka_bootstrap))
        else:
            stack = cleanup.enter_context(Stack.create(work_dir))
            yield Infrastructure(
                stack.mongo.url,
                SmtpEndpoint(HOST, stack.smtp.port, stack.smtp.maildir),
                "local",
                stack.kafka.admin_access,
                stack.kafka.security_admin(),
                kafka=stack.kafka,
                mongo=stack.mongo,
                smtp_sink=stack.smtp,
            )


def _env_kafka(bootstrap: str, work_dir: Path) -> tuple[KafkaAccess, KafkaSecurityAdmin | None]:
    username = os.environ.get("ALLIANCE_TEST_KAFKA_ADMIN_USERNAME")
    password = os.environ.get("ALLIANCE_TEST_KAFKA_ADMIN_PASSWORD")
    if not (username and password):
        return KafkaAccess(bootstrap), None
    admin = KafkaAccess.scram(bootstrap, username, password)
    return admin, KafkaSecurityAdmin(admin, Credentials(work_dir / "kafka-credentials.json"))


def _smtp(work_dir: Path, cleanup: ExitStack) -> SmtpEndpoint:
    host = os.environ.get("ALLIANCE_TEST_SMTP_HOST")
    port = os.environ.get("ALLIANCE_TEST_SMTP_PORT")
    if host and port:
        return SmtpEndpoint(host, int(port), None)
    sink = SmtpSink(work_dir / "smtp")
    sink.start()
    cleanup.callback(sink.stop)
    return SmtpEndpoint(HOST, sink.port, sink.maildir)


def _testcontainers_installed() -> bool:
    try:
        import testcontainers  # noqa: F401
    except ImportError:
        warnings.warn(
            "a Docker engine answers but testcontainers is not installed: using the local stack", stacklevel=3
        )
        return False
    return True


@contextmanager
def _containers() -> Iterator[tuple[str, str]]:
    """Kafka and MongoDB containers; yields (bootstrap servers, MongoDB URL)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient

    try:
        from testcontainers.community.mongodb import MongoDbContainer
    except ImportError:  # testcontainers before the community split
        from testcontainers.mongodb import MongoDbContainer

    # testcontainers' KafkaContainer drives Confluent's image only, so apache/kafka is
    # configured here; the advertised address must be known before the container
    # starts, hence a host port chosen up front.
    host = DockerClient().host()
    kafka_port = free_port()
    kafka: Any = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, kafka_port)
    for key, value in {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{kafka_port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_NUM_PARTITIONS": "3",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }.items():
        kafka.with_env(key, value)
    mongo: Any = MongoDbContainer(MONGO_IMAGE)
    with kafka, mongo:
        bootstrap = f"{host}:{kafka_port}"
        _wait_for_kafka(bootstrap, timeout_s=120)
        yield bootstrap, str(mongo.get_connection_url())


def _wait_for_kafka(bootstrap: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not kafka_answers(KafkaAccess(bootstrap)):
        if time.monotonic() > deadline:
            raise StackError(f"the Kafka container at {bootstrap} did not become ready within {timeout_s:.0f}s")
        time.sleep(1)
