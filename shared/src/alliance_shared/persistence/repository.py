"""A typed repository over a ``VersionedStore``: domain models in, snapshots out.

A codec maps a model to the state stored and back. The store's version is the
aggregate's version (its ETag), filled into the model's ``version_field`` on load and
never stored. Pending domain events (an ``events`` list on the model, excluded from its
dump) ride in the same insert as the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from alliance_shared.contract.base import EventPayload
from alliance_shared.errors import NotFound
from alliance_shared.persistence.versioned_store import BY_ID, AuditNote, Snapshot, Sort, VersionedStore

M = TypeVar("M", bound=BaseModel)

#: Stored fields a codec derives for queries only (dropped again on load).
QUERY_PREFIX = "q_"


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """An aggregate and the store version it was loaded at (its ETag)."""

    item: M
    version: int


class Codec(Protocol[M]):
    def to_state(self, item: M) -> dict[str, Any]: ...

    def from_state(self, state: Mapping[str, Any], version: int) -> M: ...


class PydanticCodec(Generic[M]):
    """``model_dump`` in, ``model_validate`` out; optional derived ``q_*`` query fields.

    ``mode="json"`` stores enums, dates and decimals as plain JSON values (for models
    whose fields MongoDB cannot hold natively, such as calendar dates).
    """

    def __init__(
        self,
        model: type[M],
        *,
        version_field: str | None = "version",
        mode: Literal["python", "json"] = "python",
        query_fields: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.model = model
        self._version_field = version_field
        self._mode = mode
        self._query_fields = query_fields

    def to_state(self, item: M) -> dict[str, Any]:
        state = item.model_dump(mode=self._mode)
        if self._version_field:
            state.pop(self._version_field, None)
        if self._query_fields is not None:
            state.update(self._query_fields(state))
        return state

    def from_state(self, state: Mapping[str, Any], version: int) -> M:
        fields = {k: v for k, v in state.items() if not k.startswith(QUERY_PREFIX)}
        if self._version_field:
            fields[self._version_field] = version
        return self.model.model_validate(fields)


class Repository(Generic[M]):
    """Maps one model type to its versioned store."""

    def __init__(
        self, store: VersionedStore, model: type[M] | None = None, *, codec: Codec[M] | None = None, **options: Any
    ) -> None:
        if codec is None:
            if model is None:
                raise TypeError("give the model or a codec")
            codec = PydanticCodec(model, **options)
        self.store = store
        self.codec = codec

    def state_of(self, item: M) -> dict[str, Any]:
        return self.codec.to_state(item)

    def from_snapshot(self, snapshot: Snapshot) -> Loaded[M]:
        return Loaded(self.codec.from_state(snapshot.state, snapshot.version), snapshot.version)

    async def get(self, aggregate_id: str, *, exact: bool = False) -> Loaded[M] | None:
        """The aggregate as ``VersionedStore.load`` returns it (``exact`` for audits)."""
        snapshot = await self.store.load(aggregate_id, exact=exact)
        return None if snapshot is None else self.from_snapshot(snapshot)

    async def require(self, aggregate_id: str, code: str, what: str) -> Loaded[M]:
        loaded = await self.get(aggregate_id)
        if loaded is None:
            raise NotFound(code, f"no {what} {aggregate_id}")
        return loaded

    async def find(self, query: Mapping[str, Any], *, sort: Sort = BY_ID, limit: int = 0) -> list[Loaded[M]]:
        return [self.from_snapshot(s) for s in await self.store.find(query, sort=sort, limit=limit)]

    async def save(
        self,
        aggregate_id: str,
        expected_version: int,
        item: M,
        audit: AuditNote | None,
        *,
        events: Sequence[EventPayload] | None = None,
        caused_by: str | None = None,
    ) -> int | None:
        """Write the new state with the item's pending events (or ``events``) and the audit note.

        Use cases go through ``write_path`` instead, which checks If-Match and retries a
        lost race; this is its last step.
        """
        return await self.store.save(
            aggregate_id,
            expected_version,
            self.state_of(item),
            pending_events(item, events),
            audit,
            caused_by=caused_by,
        )


def pending_events(item: BaseModel, events: Sequence[EventPayload] | None = None) -> list[EventPayload]:
    return list(events) if events is not None else list(getattr(item, "events", []))
