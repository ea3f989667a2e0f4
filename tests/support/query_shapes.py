"""Query shapes and the declared indexes that serve them (the index-shape tests).

A query's shape is what decides whether an index can serve it: the fields its filter
binds by equality, the fields it bounds by range and its sort. An index serves a shape
by the ESR rule (equality, sort, range): the equality fields are the index's prefix in
any order, the sort follows in order with its directions (or all reversed), and every
range field comes after them. A filter that binds every key of a unique index by
equality (``_id``, above all) reads at most one document and is served whatever else
it says. ``$in`` counts as equality (MongoDB explodes it for a sort); ``$regex``,
``$ne``, ``$nin``, ``$exists`` and the comparisons count as range.

``Recorder`` is a pymongo command listener that keeps the commands sent to chosen
databases, with the service frame that sent each (for the failure messages).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pymongo import monitoring

from alliance_shared.persistence.mongo import IndexSpec

ID = "_id"
#: Operators that bind a field to given values: an index seeks them.
EQUALITY_OPERATORS = frozenset({"$eq", "$in"})
#: Commands that read or change documents chosen by a filter.
FILTERING_COMMANDS = frozenset({"find", "aggregate", "count", "distinct", "update", "delete", "findAndModify"})
#: A filter field that no index can hold (``$expr``, ``$where``, ``$text``).
UNINDEXABLE = "<unindexable>"


@dataclass(frozen=True)
class QueryShape:
    collection: str
    equality: frozenset[str] = frozenset()
    ranges: frozenset[str] = frozenset()
    sort: tuple[tuple[str, int], ...] = ()
    #: At most this many documents (0: no limit); tells a head read from a whole read, not
    #: one shape from another.
    limit: int = field(default=0, compare=False)

    def describe(self) -> str:
        sort = ", ".join(f"{name}:{direction}" for name, direction in self.sort)
        limit = f" limit {self.limit}" if self.limit else ""
        return f"{self.collection}: equality {sorted(self.equality)} range {sorted(self.ranges)} sort [{sort}]{limit}"

    @property
    def fields(self) -> frozenset[str]:
        return self.equality | self.ranges | {name for name, _ in self.sort}

    @property
    def by_id(self) -> bool:
        """Reads by `_id`: binds it by equality (at most one document per value), or
        bounds it or reads the first few in its order, and filters by nothing else (a
        whole collection in `_id` order is not read by `_id`)."""
        if ID in self.equality:
            return True
        return bool(self.fields) and self.fields <= {ID} and (ID in self.ranges or self.limit > 0)


def _filter_parts(query: Mapping[str, Any]) -> tuple[set[str], set[str], list[list[Mapping[str, Any]]]]:
    """(equality fields, range fields, the ``$or`` groups) of one filter."""
    equality: set[str] = set()
    ranges: set[str] = set()
    alternatives: list[list[Mapping[str, Any]]] = []
    for key, condition in query.items():
        if key == "$and":
            for part in condition:
                more_equality, more_ranges, more_alternatives = _filter_parts(part)
                equality |= more_equality
                ranges |= more_ranges
                alternatives.extend(more_alternatives)
        elif key == "$or":
            alternatives.append(list(condition))
        elif key == "$nor":
            for part in condition:
                ranges |= {name for name in part if not name.startswith("$")}
        elif key.startswith("$"):
            ranges.add(UNINDEXABLE)
        elif isinstance(condition, Mapping) and condition and all(op.startswith("$") for op in condition):
            (equality if set(condition) <= EQUALITY_OPERATORS else ranges).add(key)
        else:
            equality.add(key)
    return equality, ranges - equality, alternatives


def filter_shapes(
    collection: str, query: Mapping[str, Any] | None, sort: Mapping[str, Any] | None = None, limit: int = 0
) -> list[QueryShape]:
    """The shapes of one filter and sort: one per branch of its ``$or`` (each branch must be served)."""
    equality, ranges, alternatives = _filter_parts(query or {})
    order = tuple((name, int(direction)) for name, direction in (sort or {}).items())
    branches: list[tuple[set[str], set[str]]] = [(equality, ranges)]
    for group in alternatives:
        branches = [
            (eq | branch_eq, (rg | branch_rg) - (eq | branch_eq))
            for eq, rg in branches
            for branch_eq, branch_rg, _ in (_filter_parts(branch) for branch in group)
        ]
    return [QueryShape(collection, frozenset(eq), frozenset(rg), order, limit) for eq, rg in branches]


def command_shapes(name: str, command: Mapping[str, Any]) -> list[QueryShape]:
    """The shapes of one recorded command; none for a command that filters nothing."""
    if name == "find":
        limit = abs(int(command.get("limit", 0)))  # a find_one asks for -1: one, in a single batch
        return filter_shapes(command["find"], command.get("filter"), command.get("sort"), limit)
    if name == "count":
        return filter_shapes(command["count"], command.get("query"))
    if name == "distinct":
        return filter_shapes(command["distinct"], command.get("query"))
    if name == "findAndModify":
        return filter_shapes(command["findAndModify"], command.get("query"), command.get("sort"))
    if name == "update":
        return [s for u in command.get("updates", []) for s in filter_shapes(command["update"], u.get("q"))]
    if name == "delete":
        return [s for d in command.get("deletes", []) for s in filter_shapes(command["delete"], d.get("q"))]
    if name == "aggregate":
        return _pipeline_shapes(command["aggregate"], command.get("pipeline", []))
    return []


def _pipeline_shapes(collection: str, pipeline: Sequence[Mapping[str, Any]]) -> list[QueryShape]:
    """A pipeline's leading ``$match`` (and a ``$sort`` right after it) is what an index can serve."""
    query: dict[str, Any] = {}
    sort: Mapping[str, Any] | None = None
    for stage in pipeline:
        if "$match" in stage:
            query = {"$and": [query, stage["$match"]]} if query else dict(stage["$match"])
        elif "$sort" in stage and sort is None:
            sort = stage["$sort"]
            break
        else:
            break
    return filter_shapes(collection, query, sort)


def serves(spec: IndexSpec, shape: QueryShape) -> bool:
    """Whether the index ``spec`` serves ``shape`` by the ESR rule (see the module's text)."""
    if spec.collection != shape.collection:
        return False
    keys = [name for name, _ in spec.keys]
    if spec.unique and set(keys) <= shape.equality:
        return True
    if set(keys[: len(shape.equality)]) != shape.equality:
        return False
    rest = list(spec.keys[len(shape.equality) :])
    sort = [(name, direction) for name, direction in shape.sort if name not in shape.equality]
    index_order = rest[: len(sort)]
    reversed_order = [(name, -direction) for name, direction in index_order]
    if sort and sort not in (index_order, reversed_order):
        return False
    ranges = shape.ranges - {name for name, _ in sort}
    return ranges <= {name for name, _ in rest[len(sort) : len(sort) + len(ranges)]}


def with_id_index(specs: Iterable[IndexSpec], collections: Iterable[str]) -> list[IndexSpec]:
    """The declared specs plus the `_id` index every collection has."""
    return [*specs, *(IndexSpec(c, ((ID, 1),), unique=True) for c in collections)]


def unserved(specs: Sequence[IndexSpec], shapes: Iterable[QueryShape]) -> list[QueryShape]:
    """The shapes no spec serves, each once, in the order first seen."""
    missing: dict[QueryShape, None] = {}
    for shape in shapes:
        if not shape.fields:
            continue  # a whole collection in `_id` order: the `_id` index is all an index can do
        collections = {spec.collection for spec in specs} | {shape.collection}
        if not any(serves(spec, shape) for spec in with_id_index(specs, collections)):
            missing.setdefault(shape)
    return list(missing)


@dataclass(frozen=True)
class Recorded:
    name: str
    command: Mapping[str, Any]
    #: The innermost frame of the services' or the shared runtime's code that sent it.
    origin: str

    @property
    def shapes(self) -> list[QueryShape]:
        return command_shapes(self.name, self.command)


def _origin() -> str:
    """The innermost service frame (else the shared runtime's) on the stack."""
    stack = traceback.extract_stack()
    for root in ("/services/", "/shared/src/"):
        frames = [f for f in stack if root in f.filename]
        if frames:
            frame = frames[-1]
            return f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} {frame.name}"
    return "?"


@dataclass
class Recorder(monitoring.CommandListener):
    """Keeps every filtering command sent to ``databases`` while ``active``.

    pymongo's listeners are process-wide once registered (``monitoring.register``) and
    reach every client made afterwards: the services' own clients, unchanged."""

    databases: set[str] = field(default_factory=set)
    commands: list[Recorded] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if _PROBING.get():
            return
        if event.database_name in self.databases and event.command_name in FILTERING_COMMANDS:
            self.commands.append(Recorded(event.command_name, dict(event.command), _origin()))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> list[Recorded]:
        """The commands recorded since the last take."""
        taken, self.commands = self.commands, []
        return taken


#: Set in the task of a test's own probe (an in-process request waiting for a result); the
#: services' background tasks were started before and never see it.
_PROBING: ContextVar[bool] = ContextVar("probing", default=False)


@contextmanager
def probing() -> Iterator[None]:
    """Leave out what the calling task sends meanwhile (a test waiting on a read)."""
    token = _PROBING.set(True)
    try:
        yield
    finally:
        _PROBING.reset(token)


_RECORDER = Recorder()
monitoring.register(_RECORDER)


def recorder() -> Recorder:
    """The one process-wide recorder (registering a listener cannot be undone)."""
    return _RECORDER
