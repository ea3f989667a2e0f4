"""What every registry use case shares: load → decide (domain) → save with events and audit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alliance_registry.adapters.repositories import A, Loaded, Repository
from alliance_shared.errors import PreconditionFailed
from alliance_shared.persistence.versioned_store import AuditNote

#: Attempts of a transition sent without If-Match when another writer keeps winning.
ATTEMPTS = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def check_version(loaded: Loaded[Any], expected: int | None, what: str) -> None:
    if expected is not None and expected != loaded.version:
        raise PreconditionFailed(
            "aggregate.version_conflict",
            f"{what} is at version {loaded.version}, not {expected} (If-Match)",
            current_version=loaded.version,
        )


async def transition(
    repo: Repository[A],
    aggregate_id: str,
    *,
    not_found: tuple[str, str],
    expected: int | None,
    decide: Callable[[A], AuditNote | None],
) -> Loaded[A]:
    """Load, let ``decide`` change the aggregate (returning the audit note, or None for no
    change), save. With ``expected`` (If-Match) a stale version is 412; without it a
    concurrent writer makes us load and decide again."""
    for attempt in range(ATTEMPTS):
        loaded = await repo.require(aggregate_id, *not_found)
        check_version(loaded, expected, f"{not_found[1]} {aggregate_id}")
        audit = decide(loaded.item)
        if audit is None:
            return loaded
        try:
            written = await repo.save(aggregate_id, loaded.version, loaded.item, audit)
        except PreconditionFailed:
            if expected is not None or attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.01)
            continue
        assert written is not None
        loaded.item.version = written
        loaded.item.events.clear()
        return Loaded(loaded.item, written)
    raise AssertionError("unreachable")
