"""Real servers for the tests and benchmarks, by the precedence of DESIGN.md §6:

1. explicit URLs in the environment (``ALLIANCE_TEST_KAFKA_BOOTSTRAP`` and
   ``ALLIANCE_TEST_MONGO_URL``) — used as they are;
2. a reachable Docker engine — Kafka and MongoDB containers via testcontainers;
3. otherwise the local stack on free ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alliance_devstack.components import KafkaBroker, MongoWireServer, SmtpSink
from alliance_devstack.stack import Stack


@dataclass
class Infrastructure:
    kafka_bootstrap: str
    mongo_url: str
    kind: Literal["env", "docker", "local"]
    #: Only for kind "local": the processes themselves, so fault tests can stop and restart them.
    kafka: KafkaBroker | None = None
    mongo: MongoWireServer | None = None
    smtp: SmtpSink | None = None


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)  # noqa: S607
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@contextmanager
def provision_infrastructure(work_dir: Path) -> Iterator[Infrastructure]:
    kafka_url = os.environ.get("ALLIANCE_TEST_KAFKA_BOOTSTRAP")
    mongo_url = os.environ.get("ALLIANCE_TEST_MONGO_URL")
    if kafka_url and mongo_url:
        yield Infrastructure(kafka_url, mongo_url, "env")
    elif docker_available():
        with _containers() as infrastructure:
            yield infrastructure
    else:
        with Stack.create(work_dir) as stack:
            yield Infrastructure(
                stack.kafka.bootstrap_servers,
                stack.mongo.url,
                "local",
                kafka=stack.kafka,
                mongo=stack.mongo,
                smtp=stack.smtp,
            )


@contextmanager
def _containers() -> Iterator[Infrastructure]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    kafka: Any = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    mongo: Any = MongoDbContainer("mongo:8.0")
    with kafka, mongo:
        yield Infrastructure(kafka.get_bootstrap_server(), mongo.get_connection_url(), "docker")
