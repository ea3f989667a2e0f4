"""Installs: clear messages for missing tools and Maven failures; concurrent cold installs (no servers)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from alliance_devstack import install
from alliance_devstack.components import KafkaBroker, MongoWireServer
from alliance_devstack.errors import StackError
from alliance_devstack.install import ferretdb_binary, kafka_libs


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # Offline: the jars come from ~/.m2, where the first `make` put them; tests reach no registry.
    monkeypatch.setenv("ALLIANCE_MAVEN_ARGS", "-o")
    return tmp_path / "cache" / "coop-alliance"


def only_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *tools: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        real = next(Path(d) / tool for d in os.environ["PATH"].split(os.pathsep) if (Path(d) / tool).exists())
        (bin_dir / tool).symlink_to(real)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_without_java_kafka_names_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    only_on_path(tmp_path, monkeypatch)
    with pytest.raises(StackError, match=r"`java` is not on PATH.*openjdk-17-jre-headless"):
        KafkaBroker(tmp_path / "kafka").install()


def test_without_maven_the_jars_cannot_be_assembled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_cache: Path
) -> None:
    only_on_path(tmp_path, monkeypatch, "java")
    with pytest.raises(StackError, match=r"`mvn` is not on PATH.*apt-get install maven"):
        kafka_libs()
    assert not (empty_cache / "kafka" / "4.1.1" / "libs" / ".complete").exists()


def test_without_go_or_mongod_the_message_offers_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_cache: Path
) -> None:
    only_on_path(tmp_path, monkeypatch)
    with pytest.raises(StackError, match=r"`go` is not on PATH.*`mongod`.*Go >= 1\.24"):
        ferretdb_binary()
    with pytest.raises(StackError, match=r"`go` is not on PATH"):
        MongoWireServer(tmp_path / "mongodb").install()


def test_two_cold_installs_at_once_assemble_kafka_once(empty_cache: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: kafka_libs(), range(2)))
    libs = empty_cache / "kafka" / "4.1.1" / "libs"
    assert results == [libs, libs]
    assert (libs / ".complete").exists()
    jars = sorted(p.name for p in libs.glob("*.jar"))
    assert "kafka_2.13-4.1.1.jar" in jars
    # Kafka's own slf4j-api 1.7 would leave the broker without logs: only 2.x may be there.
    assert [j for j in jars if j.startswith("slf4j-api-")] == ["slf4j-api-2.0.16.jar"]
    assert not [j for j in jars if "jetty" in j or j.startswith("connect-")]
    # Only the finished folder is left behind (no staging folders).
    assert [p.name for p in libs.parent.iterdir()] == ["libs"]


def test_a_maven_failure_says_so_and_leaves_nothing_half_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_cache: Path
) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text(
        (install.kafka_pom().read_text()).replace(
            "<artifactId>kafka_2.13</artifactId>", "<artifactId>no-such-kafka</artifactId>"
        )
    )
    monkeypatch.setattr(install, "kafka_pom", lambda: pom)
    with pytest.raises(StackError, match=r"(?s)Maven could not assemble Kafka.*no-such-kafka"):
        kafka_libs()
    assert [p.name for p in (empty_cache / "kafka" / "4.1.1").iterdir()] == []
