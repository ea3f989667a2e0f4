"""A typed repository over a ``VersionedStore``: pydantic models in, snapshots out.

The model's state is stored as ``model_dump``; the store's version is the aggregate's
version (its ETag), filled into ``version_field`` on load and never stored. Pending
domain events (an ``events`` list on the model) ride in the same insert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING

from alliance_shared.contract.base import EventPayload
from alliance_shared.errors import NotFound
from alliance_shared.messaging.outbox import AuditNote, Snapshot, VersionedStore

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """An aggregate and the store version it was loaded at (its ETag)."""

    item: M
    version: int


class Repository(Generic[M]):
    """Maps one model type to its versioned store."""

    def __init__(self, store: VersionedStore, model: type[M], *, version_field: str | None = "version") -> None:
        self.store = store
        self.model = model
        self._version_field = version_field

    def state_of(self, item: M) -> dict[str, Any]:
        state = item.model_dump(mode="python")
        if self._version_field:
            state.pop(self._version_field, None)
        return state

    def from_snapshot(self, snapshot: Snapshot) -> Loaded[M]:
        state = dict(snapshot.state)
        if self._version_field:
            state[self._version_field] = snapshot.version
        return Loaded(self.model.model_validate(state), snapshot.version)

    async def get(self, aggregate_id: str) -> Loaded[M] | None:
        snapshot = await self.store.load(aggregate_id)
        return None if snapshot is None else self.from_snapshot(snapshot)

    async def require(self, aggregate_id: str, code: str, what: str) -> Loaded[M]:
        loaded = await self.get(aggregate_id)
        if loaded is None:
            raise NotFound(code, f"no {what} {aggregate_id}")
        return loaded

    async def find(
        self, query: Mapping[str, Any], *, sort: Sequence[tuple[str, int]] = (("_id", ASCENDING),), limit: int = 0
    ) -> list[Loaded[M]]:
        return [self.from_snapshot(s) for s in await self.store.find(query, sort=sort, limit=limit)]

    async def save(
        self,
        aggregate_id: str,
        expected_version: int,
        item: M,
        audit: AuditNote,
        *,
        events: Sequence[EventPayload] | None = None,
        caused_by: str | None = None,
    ) -> int | None:
        """Write the new state with the item's pending events (or ``events``) and the audit note."""
        pending = list(events) if events is not None else list(getattr(item, "events", []))
        return await self.store.save(
            aggregate_id, expected_version, self.state_of(item), pending, audit, caused_by=caused_by
        )
