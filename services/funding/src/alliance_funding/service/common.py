"""Helpers shared by the use cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from alliance_shared.errors import PreconditionFailed
from alliance_shared.persistence.repository import Loaded


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def check_version(loaded: Loaded[Any], expected: int | None, what: str) -> None:
    """If-Match: the caller must have seen the current version."""
    if expected is not None and expected != loaded.version:
        raise PreconditionFailed(
            "aggregate.version_conflict",
            f"the {what} was changed meanwhile (it is at version {loaded.version}, you sent {expected})",
            current_version=loaded.version,
        )
