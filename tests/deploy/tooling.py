"""The kustomize binary for the deploy tests, built once from its Go module and cached.

Where: ``$XDG_CACHE_HOME/coop-alliance/tools`` (default ``~/.cache/coop-alliance/tools``),
shared by every checkout and test run; a file lock keeps parallel runs from building twice.
How: ``go install sigs.k8s.io/kustomize/kustomize/v5@<version>``; when the module proxy
refuses the lookups ``go install pkg@version`` makes, the fallback downloads the exact module
with ``go mod download -json`` inside a throwaway module and ``go build``s its directory.
There is deliberately no pure-Python fallback: a rendering that differs from kustomize's
would validate something the cluster never receives.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.7.1"
BUILD_TIMEOUT_S = 900


class ToolUnavailableError(RuntimeError):
    """The tool could be neither found in the cache nor built; the message says why."""


def tools_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "coop-alliance" / "tools"


def kustomize_binary() -> Path:
    """Path of the pinned kustomize, building it on first use."""
    directory = tools_dir()
    binary = directory / f"kustomize-{KUSTOMIZE_VERSION}"
    if os.access(binary, os.X_OK):
        return binary
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "kustomize.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.access(binary, os.X_OK):  # another process built it while we waited
            return binary
        go = shutil.which("go")
        if go is None:
            raise ToolUnavailableError(
                f"kustomize {KUSTOMIZE_VERSION} is not in {directory} and Go is not on PATH to build it; "
                f"install Go >= 1.22 or put a kustomize {KUSTOMIZE_VERSION} binary at {binary}"
            )
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            built = Path(scratch) / "kustomize"
            failures = []
            for build in (_go_install, _go_build_downloaded_module):
                try:
                    build(go, Path(scratch), built)
                    break
                except subprocess.CalledProcessError as error:
                    failures.append(f"{' '.join(map(str, error.cmd))}:\n{error.stderr or error.stdout}")
                except subprocess.TimeoutExpired as error:
                    failures.append(f"{' '.join(map(str, error.cmd))}: timed out after {error.timeout}s")
            else:
                raise ToolUnavailableError(
                    f"could not build kustomize {KUSTOMIZE_VERSION} with {go}:\n" + "\n\n".join(failures)
                )
            os.replace(built, binary)  # atomic: readers never see a half-written binary
    return binary


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        command, cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    return completed.stdout


def _go_install(go: str, scratch: Path, built: Path) -> None:
    env = {**os.environ, "GOBIN": str(built.parent), "GOFLAGS": "-buildvcs=false"}
    _run([go, "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"], cwd=scratch, env=env)


def _go_build_downloaded_module(go: str, scratch: Path, built: Path) -> None:
    module_dir = scratch / "fetch"
    module_dir.mkdir()
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    _run([go, "mod", "init", "coop-alliance.local/fetch-kustomize"], cwd=module_dir, env=env)
    listing = _run([go, "mod", "download", "-json", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"], cwd=module_dir, env=env)
    source_dir = Path(json.loads(listing)["Dir"])
    _run([go, "build", "-o", str(built), "."], cwd=source_dir, env=env)


def kustomize_build(directory: Path) -> str:
    """`kustomize build` of one directory; its YAML stream."""
    completed = subprocess.run(
        [str(kustomize_binary()), "build", str(directory)], check=False, capture_output=True, text=True, timeout=120
    )
    if completed.returncode != 0:
        raise AssertionError(f"kustomize build {directory} failed:\n{completed.stderr}")
    return completed.stdout
