"""Where the local stack keeps downloads (cache, shared by every clone) and run data."""

from __future__ import annotations

import os
from pathlib import Path

KAFKA_VERSION = "4.1.1"
FERRETDB_VERSION = "v1.24.2"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "coop-alliance"
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_root() -> Path:
    """The checkout this package was installed from (deploy/local/src/alliance_devstack → root)."""
    return Path(__file__).resolve().parents[4]


def default_data_dir() -> Path:
    return repo_root() / "var" / "devstack"
