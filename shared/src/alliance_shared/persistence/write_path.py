"""The one write path every command of every service takes.

load → check the expected version (If-Match: any version other than the current one is
412) → decide (a pure domain function: the new state, its events, its audit note) →
save it all in one insert → on a lost race, load and decide again (bounded).

Two levels, one loop: ``apply_change`` works on snapshots (stores of plain state);
``execute``/``update``/``create`` work on typed models through a ``Repository``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from alliance_shared.contract.base import EventPayload
from alliance_shared.errors import NotFound, PreconditionFailed
from alliance_shared.persistence.repository import Loaded, Repository, pending_events
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot, VersionedStore

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True)
class Retry:
    """How often a decision is made again after another writer won the race."""

    attempts: int = 10
    first_delay_s: float = 0.005
    max_delay_s: float = 0.5

    def delay(self, attempt: int) -> float:
        # Full jitter: racing writers spread out instead of colliding again in step.
        return random.uniform(0, min(self.max_delay_s, self.first_delay_s * 2**attempt))


#: Commands from people and internal steps.
COMMAND_RETRY = Retry()
#: Consumed events, where a busy aggregate is no reason to give up (money included).
EVENT_RETRY = Retry(attempts=40, max_delay_s=2.0)


@dataclass(frozen=True)
class Change:
    """What a decision on plain state writes: the new state, its events, its audit note."""

    state: Mapping[str, Any]
    events: Sequence[EventPayload] = ()
    audit: AuditNote | None = None


@dataclass(frozen=True)
class Decision(Generic[M]):
    """What a decision on a model writes; ``events`` None means the model's pending events."""

    item: M
    audit: AuditNote | None
    events: Sequence[EventPayload] | None = None


@dataclass(frozen=True)
class Outcome(Generic[M]):
    """The aggregate after a command, and whether this command wrote it."""

    loaded: Loaded[M] | None
    written: bool
    events: tuple[EventPayload, ...] = ()

    @property
    def item(self) -> M:
        if self.loaded is None:
            raise LookupError("the command left no aggregate")
        return self.loaded.item

    @property
    def version(self) -> int:
        return self.loaded.version if self.loaded is not None else 0


def check_expected(aggregate_id: str, current_version: int, expected: int | None) -> None:
    """If-Match is exact: the caller must have seen the current version, not an older or a newer one."""
    if expected is not None and expected != current_version:
        raise PreconditionFailed(
            "aggregate.version_conflict",
            f"{aggregate_id} is at version {current_version}, not {expected} (If-Match)",
            current_version=current_version,
        )


async def _race(aggregate_id: str, attempt_once: Callable[[], Awaitable[T]], retry: Retry, expected: int | None) -> T:
    for attempt in range(retry.attempts):
        try:
            return await attempt_once()
        except PreconditionFailed as exc:
            if exc.code != "aggregate.version_conflict" or expected is not None:
                raise  # with If-Match the client's version is now stale: 412 is the answer
            if attempt == retry.attempts - 1:
                raise PreconditionFailed(
                    "aggregate.contended",
                    f"{aggregate_id} kept changing; gave up after {retry.attempts} tries",
                    current_version=exc.extensions.get("current_version"),
                ) from exc
            await asyncio.sleep(retry.delay(attempt))
    raise AssertionError("unreachable")


async def apply_change(
    store: VersionedStore,
    aggregate_id: str,
    decide: Callable[[Snapshot | None], Change | None],
    *,
    expected: int | None = None,
    caused_by: str | None = None,
    retry: Retry = COMMAND_RETRY,
) -> int | None:
    """Load, check ``expected``, decide, save. Returns the new version, or None if nothing
    was written (``decide`` returned None, or ``caused_by`` was applied before)."""

    async def once() -> int | None:
        current = await store.load(aggregate_id)
        if expected is not None and expected > (current.version if current else 0):
            current = await store.load(aggregate_id, exact=True)  # a head a crash left behind?
        check_expected(aggregate_id, current.version if current else 0, expected)
        change = decide(current)
        if change is None:
            return None
        return await store.save(
            aggregate_id,
            current.version if current else 0,
            change.state,
            change.events,
            change.audit,
            caused_by=caused_by,
        )

    return await _race(aggregate_id, once, retry, expected)


async def execute(
    repo: Repository[M],
    aggregate_id: str,
    decide: Callable[[Loaded[M] | None], Decision[M] | None],
    *,
    expected: int | None = None,
    caused_by: str | None = None,
    retry: Retry = COMMAND_RETRY,
) -> Outcome[M]:
    """The typed write path: ``decide`` sees the aggregate as loaded (None if it is new)
    and returns the model to save, or None to write nothing."""

    async def once() -> Outcome[M]:
        loaded = await repo.get(aggregate_id)
        if expected is not None and expected > (loaded.version if loaded else 0):
            loaded = await repo.get(aggregate_id, exact=True)  # a head a crash left behind?
        check_expected(aggregate_id, loaded.version if loaded else 0, expected)
        decision = decide(loaded)
        if decision is None:
            return Outcome(loaded, written=False)
        events = tuple(pending_events(decision.item, decision.events))
        version = await repo.save(
            aggregate_id,
            loaded.version if loaded else 0,
            decision.item,
            decision.audit,
            events=events,
            caused_by=caused_by,
        )
        if version is None:  # applied before: report the aggregate as it stands
            return Outcome(await repo.get(aggregate_id), written=False)
        return Outcome(repo.from_snapshot(_saved(repo, aggregate_id, version, decision.item)), True, events)

    return await _race(aggregate_id, once, retry, expected)


async def update(
    repo: Repository[M],
    aggregate_id: str,
    decide: Callable[[M], Decision[M] | None],
    *,
    not_found: tuple[str, str],
    expected: int | None = None,
    caused_by: str | None = None,
    retry: Retry = COMMAND_RETRY,
) -> Outcome[M]:
    """``execute`` on an aggregate that must exist: NotFound(``not_found`` = code, what) otherwise."""

    def decide_existing(loaded: Loaded[M] | None) -> Decision[M] | None:
        if loaded is None:
            code, what = not_found
            raise NotFound(code, f"no {what} {aggregate_id}")
        return decide(loaded.item)

    return await execute(repo, aggregate_id, decide_existing, expected=expected, caused_by=caused_by, retry=retry)


async def create(
    repo: Repository[M],
    aggregate_id: str,
    item: M,
    audit: AuditNote | None,
    *,
    events: Sequence[EventPayload] | None = None,
    caused_by: str | None = None,
) -> Outcome[M]:
    """Version 1 of a new aggregate; Conflict (``aggregate.exists``) if it exists. With
    ``caused_by`` a repeat of the same creation is not an error: nothing is written."""
    pending = tuple(pending_events(item, events))
    version = await repo.store.create(aggregate_id, repo.state_of(item), pending, audit, caused_by=caused_by)
    if version is None:
        return Outcome(await repo.get(aggregate_id), written=False)
    return Outcome(repo.from_snapshot(_saved(repo, aggregate_id, version, item)), True, pending)


def _saved(repo: Repository[M], aggregate_id: str, version: int, item: M) -> Snapshot:
    """The snapshot just written, without reading it back."""
    return Snapshot(aggregate_id, version, repo.state_of(item), datetime.now(UTC))
