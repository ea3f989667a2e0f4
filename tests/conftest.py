"""Session fixtures: every test run gets its own real Kafka broker and MongoDB-wire server.

Precedence (docs/architecture.md): explicit URLs in the environment (ALLIANCE_TEST_KAFKA_BOOTSTRAP,
ALLIANCE_TEST_MONGO_URL) → Docker via testcontainers when an engine answers → the local
stack (deploy/local) on free ports. Servers start lazily, only for tests that ask.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pymongo import AsyncMongoClient

from alliance_shared.auth.devtokens import ensure_keys

if TYPE_CHECKING:
    from alliance_devstack.provision import Infrastructure

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    from alliance_devstack.provision import provision_infrastructure  # only tests that need servers pay

    with provision_infrastructure(tmp_path_factory.mktemp("stack")) as infrastructure:
        yield infrastructure


@pytest.fixture(scope="session")
def dev_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys = tmp_path_factory.mktemp("dev-keys")
    ensure_keys(keys)
    return keys


@pytest.fixture
def unique() -> str:
    """A short unique suffix so tests never see each other's data, topics or groups."""
    return uuid.uuid4().hex[:10]


def service_env(infra: Infrastructure, prefix: str, database: str, keys_dir: Path, **extra: Any) -> dict[str, str]:
    """A service's settings on the test servers; a named service (``REGISTRY_`` …) signs in to
    Kafka as its own principal (its consumer group must start ``alliance-<service>``), a probe
    (no prefix) as the admin."""
    kafka = infra.kafka_services.get(prefix.removesuffix("_").lower(), infra.kafka_admin)
    env = {
        **kafka.settings_env(prefix),
        f"{prefix}MONGO_URL": infra.mongo_url,
        f"{prefix}MONGO_DATABASE": database,
        f"{prefix}JWKS_FILE": str(keys_dir / "jwks.json"),
        f"{prefix}OUTBOX_SCAN_SECONDS": "2",
    }
    env.update({f"{prefix}{k.upper()}": str(v) for k, v in extra.items()})
    return env


@pytest.fixture
async def mongo_client(infra: Infrastructure) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    return env
