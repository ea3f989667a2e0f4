"""One-time installs into the cache: Apache Kafka's jars (Maven) and FerretDB (Go).

Each install holds a file lock, so tests and `make run` starting at once do not race,
and is published only when complete (a marker file, or an atomic rename of the binary).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alliance_devstack.errors import StackError
from alliance_devstack.paths import FERRETDB_VERSION, KAFKA_VERSION, cache_dir, repo_root

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
MIN_JAVA = 17
MIN_GO = (1, 24)
JAVA_HINT = "Install Java 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
MAVEN_HINT = "Install Maven (Debian/Ubuntu: apt-get install maven)."
GO_HINT = (
    "A MongoDB-wire server is needed: put a `mongod` on PATH, or install Go >= 1.24 "
    "(https://go.dev/dl/) so FerretDB can be built once."
)


def _say(message: str) -> None:
    print(f"[alliance devstack] {message}", file=sys.stderr, flush=True)


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


def require_java() -> str:
    java = require("java", JAVA_HINT)
    # `java -version` writes to stderr, e.g. 'openjdk version "17.0.15"' or '"1.8.0_392"'.
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if found is None:
        raise StackError(f"could not tell the version of {java}: {result.stderr.strip()[:300]}. {JAVA_HINT}")
    major = int(found.group(1))
    if major == 1 and found.group(2):
        major = int(found.group(2))
    if major < MIN_JAVA:
        raise StackError(f"{java} is Java {major}; Kafka {KAFKA_VERSION} needs Java {MIN_JAVA}+. {JAVA_HINT}")
    return java


def kafka_pom() -> Path:
    return repo_root() / "deploy" / "local" / "kafka-pom.xml"


def _pom_fingerprint() -> str:
    return hashlib.sha256(kafka_pom().read_bytes()).hexdigest()


def kafka_libs() -> Path:
    """The folder of Kafka's jars, assembled with Maven when missing, incomplete or out of date."""
    libs = cache_dir() / "kafka" / KAFKA_VERSION / "libs"
    marker = libs / ".complete"
    if _marker_matches(marker):
        return libs
    with install_lock("kafka"):
        if _marker_matches(marker):
            return libs
        require_java()
        mvn = require("mvn", MAVEN_HINT)
        _say(f"assembling Apache Kafka {KAFKA_VERSION} from Maven Central into {libs} (once)")
        # Copy into a fresh sibling folder and swap it in: jars left over from an older pom
        # (e.g. a second slf4j-api) would otherwise stay on the classpath.
        libs.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
        try:
            result = subprocess.run(  # noqa: S603 - fixed arguments
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    str(kafka_pom()),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={staging}",
                    "-DincludeScope=runtime",
                    # e.g. "-o" (offline, from ~/.m2) or "-s mirror-settings.xml"
                    *shlex.split(os.environ.get("ALLIANCE_MAVEN_ARGS", "")),
                ],
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            if result.returncode != 0:
                raise StackError(
                    "Maven could not assemble Kafka (is Maven Central reachable, or is ~/.m2/settings.xml "
                    f"pointing at a mirror?):\n{_tail(result.stdout)}\n{_tail(result.stderr)}"
                )
            if not any(staging.glob("kafka_2.13-*.jar")):
                raise StackError(f"Maven finished but assembled no kafka_2.13 jar (pom: {kafka_pom()})")
            (staging / ".complete").write_text(_pom_fingerprint())
            shutil.rmtree(libs, ignore_errors=True)
            staging.rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return libs


def _marker_matches(marker: Path) -> bool:
    return marker.exists() and marker.read_text().strip() == _pom_fingerprint()


def mongod_binary() -> str | None:
    return shutil.which("mongod")


def ferretdb_binary() -> Path:
    """FerretDB v1 (SQLite backend), built from its Go module on first use."""
    home = cache_dir() / "ferretdb" / FERRETDB_VERSION
    target = home / "ferretdb"
    if _runs(target):
        return target
    with install_lock("ferretdb"):
        if _runs(target):
            return target
        go = _require_go()
        _say(f"building FerretDB {FERRETDB_VERSION} with Go into {target} (once, about a minute)")
        env = {**os.environ, "GOFLAGS": "-mod=mod"}
        source = home / "src"
        shutil.rmtree(source, ignore_errors=True)
        home.mkdir(parents=True, exist_ok=True)
        try:
            # `go install module@version` is refused here (the proxy rejects the @v/list lookup
            # it makes), so download the module and build it in place.
            with tempfile.TemporaryDirectory() as scratch:
                download = _go(go, ["mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"], scratch, env)
            module_dir = Path(json.loads(download)["Dir"])
            shutil.copytree(module_dir, source)
            for path in [source, *source.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
            # Without it the binary panics at start ("Invalid build/version/version.txt").
            (source / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
            partial = home / "ferretdb.partial"
            _go(go, ["build", "-trimpath", "-o", str(partial), "./cmd/ferretdb"], str(source), env)
            partial.rename(target)
        finally:
            shutil.rmtree(source, ignore_errors=True)
        if not _runs(target):
            raise StackError(f"the FerretDB binary built at {target} does not run (`{target} --version` fails)")
    return target


def _require_go() -> str:
    go = require("go", GO_HINT)
    version = subprocess.run(  # noqa: S603
        [go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=False
    ).stdout.strip()
    found = re.match(r"go(\d+)\.(\d+)", version)
    if found is None or (int(found.group(1)), int(found.group(2))) < MIN_GO:
        raise StackError(
            f"{go} is {version or 'of unknown version'}; FerretDB {FERRETDB_VERSION} needs Go >= 1.24. {GO_HINT}"
        )
    return go


def _go(go: str, arguments: list[str], cwd: str, env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603
        [go, *arguments], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        raise StackError(f"`go {' '.join(arguments)}` failed:\n{_tail(result.stdout)}\n{_tail(result.stderr)}")
    return result.stdout


def _runs(binary: Path) -> bool:
    if not binary.exists():
        return False
    try:
        result = subprocess.run([str(binary), "--version"], capture_output=True, timeout=30, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _tail(text: str, characters: int = 3000) -> str:
    return text[-characters:].strip()


def install_all() -> None:
    """Everything the local stack needs, so a later start is quick (`alliance dev install`)."""
    kafka_libs()
    if mongod_binary() is None:
        ferretdb_binary()
