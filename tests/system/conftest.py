"""The four services as separate processes against the session's real servers.

Each test module gets its own platform: fresh databases and consumer groups that start
at the topics' ends (so what other tests left on the shared topics is not replayed),
free ports, logs in the module's temporary folder (printed when a test fails).
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
from tests.support.kafka_io import skip_history


@pytest.fixture(scope="module")
def platform(infra: Infrastructure, dev_keys_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    run_id = uuid.uuid4().hex[:8]
    env = isolated_env(
        infra.kafka_services, infra.mongo_url, infra.smtp.host, infra.smtp.port, dev_keys_dir / "jwks.json",
        f"system_{run_id}",
    )  # fmt: skip

    async def start_at_topic_ends() -> None:
        for name in SERVICES:
            await skip_history(infra.kafka_admin, env[prefix_of(name) + "KAFKA_CONSUMER_GROUP"], EVENT_TOPICS)

    asyncio.run(start_at_topic_ends())
    logs = tmp_path_factory.mktemp(f"platform-{run_id}")
    running = Platform.create(env, logs, ports={name: free_port() for name in available_services()})
    try:
        running.start(timeout_s=120)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def access(platform: Platform, infra: Infrastructure, dev_keys_dir: Path) -> PlatformAccess:
    return PlatformAccess(
        urls={name: service.url for name, service in platform.services.items()},
        keys_dir=dev_keys_dir,
        kafka=infra.kafka_admin,
        kafka_security=infra.kafka_security,
        maildir=infra.smtp.maildir,
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    running = item.funcargs.get("platform") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(running, Platform):
        for service in running.services.values():
            report.sections.append((f"{service.name} log (tail)", service.log_tail(40)))
