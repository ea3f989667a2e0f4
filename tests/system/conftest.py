"""The four services as separate processes against the session's real servers.

Each test module gets its own platform: fresh databases and consumer groups that start
at the topics' ends (so what other tests left on the shared topics is not replayed),
free ports, logs in the module's temporary folder (printed when a test fails). A module
that asks for ``replicas`` gets two processes of each service on one set of databases
and consumer groups instead.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from alliance_devstack.components import free_port
from alliance_devstack.demo.access import PlatformAccess
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import SERVICES, Platform, available_services, isolated_env, prefix_of
from alliance_shared.contract.topics import EVENT_TOPICS
from tests.support.kafka_io import at_least_partitions, skip_history

#: Partitions every event topic has at least when replicas share a consumer group.
REPLICA_PARTITIONS = 3


def fresh_platform_env(infra: Infrastructure, dev_keys_dir: Path, run_id: str) -> dict[str, str]:
    """Settings of a platform of its own whose consumer groups start at the topics' ends."""
    env = isolated_env(
        infra.kafka_services, infra.mongo_url, infra.smtp.host, infra.smtp.port, dev_keys_dir / "jwks.json",
        f"system_{run_id}",
    )  # fmt: skip

    async def start_at_topic_ends() -> None:
        for name in SERVICES:
            await skip_history(infra.kafka_admin, env[prefix_of(name) + "KAFKA_CONSUMER_GROUP"], EVENT_TOPICS)

    asyncio.run(start_at_topic_ends())
    return env


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, dev_keys_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    run_id = uuid.uuid4().hex[:8]
    env = fresh_platform_env(infra, dev_keys_dir, run_id)
    logs = tmp_path_factory.mktemp(f"platform-{run_id}")
    running = Platform.create(env, logs, ports={name: free_port() for name in available_services()})
    try:
        running.start(timeout_s=120)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def access(platform: Platform, infra: Infrastructure, dev_keys_dir: Path) -> PlatformAccess:
    return platform_access(platform, infra, dev_keys_dir)


def platform_access(platform: Platform, infra: Infrastructure, dev_keys_dir: Path) -> PlatformAccess:
    """How a test reaches ``platform``'s services (one replica of each), Kafka and the mail."""
    return PlatformAccess(
        urls={name: service.url for name, service in platform.services.items()},
        keys_dir=dev_keys_dir,
        kafka=infra.kafka_admin,
        kafka_security=infra.kafka_security,
        maildir=infra.smtp.maildir,
    )


@pytest.fixture(scope="module")
def replicas(
    infra: Infrastructure, dev_keys_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Platform, Platform]]:
    """Two processes of every service, on the same databases and in the same consumer
    groups, each with its own HTTP and ops ports; the event topics have partitions enough
    for both (a broker named by the environment may hold them with fewer)."""
    run_id = uuid.uuid4().hex[:8]
    env = fresh_platform_env(infra, dev_keys_dir, run_id)
    asyncio.run(at_least_partitions(infra.kafka_admin, EVENT_TOPICS, REPLICA_PARTITIONS))
    logs = tmp_path_factory.mktemp(f"replicas-{run_id}")
    first, second = (
        Platform.create(env, logs / replica, ports={name: free_port() for name in available_services()})
        for replica in ("first", "second")
    )
    processes = [*first.services.values(), *second.services.values()]
    try:
        for service in processes:
            service.start()
        for service in processes:
            service.wait_ready(120)
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    funcargs = item.funcargs if hasattr(item, "funcargs") else {}
    running = funcargs.get("platform")
    if report.failed and isinstance(running, Platform):
        for service in running.services.values():
            report.sections.append((f"{service.name} log (tail)", service.log_tail(40)))
    if report.failed and isinstance(funcargs.get("replicas"), tuple):
        for replica in funcargs["replicas"]:
            for service in replica.services.values():
                title = f"{service.name} ({service.log.parent.name} replica) log (tail)"
                report.sections.append((title, service.log_tail(40)))
