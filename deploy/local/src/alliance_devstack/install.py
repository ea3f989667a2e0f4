"""One-time installs into the cache: Apache Kafka's jars (Maven) and FerretDB (Go).

Both are guarded by a file lock, so tests and `make run` starting at once do not race,
and by a marker file written only after a complete install.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alliance_devstack.errors import StackError
from alliance_devstack.paths import FERRETDB_VERSION, KAFKA_VERSION, cache_dir, repo_root

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"


@contextmanager
def install_lock(name: str) -> Iterator[None]:
    lock_path = cache_dir() / f".{name}.lock"
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"`{tool}` is not on PATH. {hint}")
    return path


def kafka_libs() -> Path:
    """The folder of Kafka's jars, assembled with Maven on first use."""
    libs = cache_dir() / "kafka" / KAFKA_VERSION / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    with install_lock("kafka"):
        if marker.exists():
            return libs
        require("java", "Install Java 17+ (Debian: apt-get install openjdk-17-jre-headless).")
        mvn = require("mvn", "Install Maven (Debian: apt-get install maven).")
        pom = repo_root() / "deploy" / "local" / "kafka-pom.xml"
        libs.mkdir(parents=True, exist_ok=True)
        print(f"assembling Apache Kafka {KAFKA_VERSION} from Maven Central into {libs} (once)", flush=True)
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}",
                "-DincludeScope=runtime",
                f"-Dkafka.version={KAFKA_VERSION}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"Maven could not assemble Kafka:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise StackError(f"Maven finished but {libs} has no kafka_2.13 jar")
        marker.write_text(KAFKA_VERSION)
    return libs


def mongod_binary() -> str | None:
    return shutil.which("mongod")


def ferretdb_binary() -> Path:
    """FerretDB v1 (SQLite backend), built from its Go module on first use."""
    target = cache_dir() / "ferretdb" / FERRETDB_VERSION / "ferretdb"
    if _runs(target):
        return target
    with install_lock("ferretdb"):
        if _runs(target):
            return target
        go = require("go", "Install Go >= 1.24 to build FerretDB, or put a `mongod` on PATH.")
        print(f"building FerretDB {FERRETDB_VERSION} with Go into {target} (once, about a minute)", flush=True)
        env = {**os.environ, "GOFLAGS": "-mod=mod"}
        with tempfile.TemporaryDirectory() as scratch:
            # `go install module@version` is refused here (the proxy rejects the @v/list lookup
            # it makes), so download the module and build it in place.
            download = subprocess.run(  # noqa: S603
                [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
                cwd=scratch,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if download.returncode != 0:
                raise StackError(f"go could not download FerretDB:\n{download.stdout[-2000:]}{download.stderr[-2000:]}")
            source = Path(json.loads(download.stdout)["Dir"])
            build_dir = Path(scratch) / "src"
            shutil.copytree(source, build_dir)
            for path in build_dir.rglob("*"):
                path.chmod(path.stat().st_mode | 0o200)
            # Without it the binary panics at start ("Invalid build/version/version.txt").
            (build_dir / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
            target.parent.mkdir(parents=True, exist_ok=True)
            build = subprocess.run(  # noqa: S603
                [go, "build", "-trimpath", "-o", str(target), "./cmd/ferretdb"],
                cwd=build_dir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if build.returncode != 0:
                raise StackError(f"go could not build FerretDB:\n{build.stderr[-3000:]}")
        if not _runs(target):
            raise StackError(f"the FerretDB binary at {target} does not run")
    return target


def _runs(binary: Path) -> bool:
    if not binary.exists():
        return False
    result = subprocess.run([str(binary), "--version"], capture_output=True, check=False)  # noqa: S603
    return result.returncode == 0


def install_all() -> None:
    kafka_libs()
    if mongod_binary() is None:
        ferretdb_binary()
