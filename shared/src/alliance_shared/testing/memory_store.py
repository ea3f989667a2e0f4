"""``VersionedStore`` in memory, with the same contract as ``MongoVersionedStore``.

Queries support the operators the services use (equality with MongoDB's array
semantics, ``$in``, ``$nin``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$exists``,
``$regex``/``$options``, ``$or``, ``$and``); any other operator raises, so a use case
never passes here with a query the real store would read differently.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from alliance_shared.contract.base import EventPayload
from alliance_shared.persistence.versioned_store import (
    BY_ID,
    AuditNote,
    Snapshot,
    Sort,
    VersionedStore,
    build_entries,
    check_state,
    version_conflict,
)

_MISSING = object()


class InMemoryVersionedStore(VersionedStore):
    def __init__(self, name: str, source: str = "test") -> None:
        self._name = name
        self._source = source
        self._journals: dict[str, list[Snapshot]] = {}
        self._dedupe_keys: set[str] = set()
        #: Every outbox entry written, in order (what the relay would publish).
        self.outbox: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def published_events(self) -> list[dict[str, Any]]:
        return [entry["event"] for entry in self.outbox if entry["kind"] == "event"]

    async def load(self, aggregate_id: str, *, exact: bool = False) -> Snapshot | None:
        versions = self._journals.get(aggregate_id)
        return _copy(versions[-1]) if versions else None

    async def read_current(self, aggregate_id: str) -> Snapshot | None:
        return await self.load(aggregate_id)

    async def history(self, aggregate_id: str) -> list[Snapshot]:
        return [_copy(s) for s in self._journals.get(aggregate_id, [])]

    async def find(self, query: Mapping[str, Any], *, sort: Sort = BY_ID, limit: int = 0) -> list[Snapshot]:
        found = [
            versions[-1]
            for aggregate_id, versions in self._journals.items()
            if matches({**versions[-1].state, "_id": aggregate_id}, query)
        ]
        for field, direction in reversed(list(sort)):  # stable sorts, last key first
            found.sort(key=_sort_by(field), reverse=direction < 0)
        return [_copy(s) for s in (found[:limit] if limit else found)]

    async def save(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        audit: AuditNote | None = None,
        *,
        caused_by: str | None = None,
        show_later: bool = False,  # nothing to catch up: the twin's current version is its newest
    ) -> int | None:
        check_state(state)
        entries = build_entries(self._source, events, audit)  # refuses an event too large, before anything
        versions = self._journals.setdefault(aggregate_id, [])
        current = len(versions)
        if expected_version != current:
            if not versions:
                del self._journals[aggregate_id]
            raise version_conflict(aggregate_id, current, expected_version)
        dedupe_key = f"{aggregate_id}|{caused_by}" if caused_by else None
        if dedupe_key in self._dedupe_keys:
            if not versions:
                del self._journals[aggregate_id]
            return None
        if dedupe_key:
            self._dedupe_keys.add(dedupe_key)
        version = current + 1
        versions.append(Snapshot(aggregate_id, version, copy.deepcopy(dict(state)), datetime.now(UTC)))
        self.outbox.extend(entries)
        return version


def _copy(snapshot: Snapshot) -> Snapshot:
    return Snapshot(snapshot.aggregate_id, snapshot.version, copy.deepcopy(snapshot.state), snapshot.written_at)


def _sort_by(path: str) -> Callable[[Snapshot], tuple[int, Any]]:
    return lambda snapshot: _sort_key(_field(snapshot, path))


def _field(snapshot: Snapshot, path: str) -> Any:
    return snapshot.aggregate_id if path == "_id" else _lookup(snapshot.state, path)


def _lookup(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    # MongoDB orders missing/null before numbers, strings and dates.
    if value is _MISSING or value is None:
        return (0, 0)
    return (1, value)


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether a document matches a MongoDB query (the subset documented above)."""
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(doc, q) for q in condition):
                return False
        elif key == "$and":
            if not all(matches(doc, q) for q in condition):
                return False
        elif key.startswith("$"):
            raise ValueError(f"query operator {key} is not supported by the in-memory store")
        elif not _matches_field(_lookup(doc, key), condition):
            return False
    return True


def _matches_field(value: Any, condition: Any) -> bool:
    if isinstance(condition, Mapping) and any(str(k).startswith("$") for k in condition):
        options = str(condition.get("$options", ""))
        return all(_operator(value, op, arg, options) for op, arg in condition.items() if op != "$options")
    return _equals(value, condition)


def _candidates(value: Any) -> list[Any]:
    """A field holding an array matches by any element, or as the whole array (a tuple is an
    array too: BSON stores a model's tuple field as one)."""
    return [*value, value] if isinstance(value, (list, tuple)) else [value]


def _equals(value: Any, expected: Any) -> bool:
    if expected is None:
        return value is _MISSING or value is None or (isinstance(value, (list, tuple)) and None in value)
    return value is not _MISSING and any(c == expected for c in _candidates(value))


def _compare(value: Any, op: str, arg: Any) -> bool:
    if value is _MISSING or value is None:
        return False
    for candidate in _candidates(value):
        try:
            if (
                (op == "$gt" and candidate > arg)
                or (op == "$gte" and candidate >= arg)
                or (op == "$lt" and candidate < arg)
                or (op == "$lte" and candidate <= arg)
            ):
                return True
        except TypeError:
            continue  # MongoDB compares only values of the same type family
    return False


def _operator(value: Any, op: str, arg: Any, options: str) -> bool:
    if op == "$in":
        return any(_equals(value, a) for a in arg)
    if op == "$nin":
        return not any(_equals(value, a) for a in arg)
    if op == "$ne":
        return not _equals(value, arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _compare(value, op, arg)
    if op == "$exists":
        return (value is not _MISSING) == bool(arg)
    if op == "$regex":
        flags = re.IGNORECASE if "i" in options else 0
        return value is not _MISSING and any(
            isinstance(c, str) and re.search(arg, c, flags) is not None for c in _candidates(value)
        )
    raise ValueError(f"query operator {op} is not supported by the in-memory store")
