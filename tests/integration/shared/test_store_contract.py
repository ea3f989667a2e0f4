"""The versioned store's contract, run on the MongoDB-wire server AND the in-memory twin.

Use-case tests run on the twin; these tests are why that is allowed: whatever a use case
relies on here holds on both, and a query the twin cannot read the way the server does
raises instead of passing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pymongo import DESCENDING, AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_shared.contract.base import EventPayload
from alliance_shared.errors import Conflict, NotFound, PreconditionFailed
from alliance_shared.persistence.mongo import ensure_indexes
from alliance_shared.persistence.repository import Loaded, Repository
from alliance_shared.persistence.versioned_store import (
    AuditNote,
    EventTooLarge,
    MongoVersionedStore,
    VersionedStore,
    journal_document,
    versioned_indexes,
)
from alliance_shared.persistence.write_path import Decision, Retry, create, execute, update
from alliance_shared.testing import InMemoryVersionedStore
from tests.support.insert_commands import InsertCommands
from tests.support.probe import WidgetCreated, WidgetRenamed


class Widget(BaseModel):
    widget_id: str
    label: str
    count: int = 0
    tags: list[str] = Field(default_factory=list)
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)


@pytest.fixture(params=["mongo", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[VersionedStore]:
    """A store of the registry service (its events go to alliance.registry.events)."""
    if request.param == "memory":
        yield InMemoryVersionedStore("widgets", "registry")
        return
    infra: Infrastructure = request.getfixturevalue("infra")  # servers start only for this half
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[f"contract_{uuid.uuid4().hex[:10]}"]
    await ensure_indexes(db, versioned_indexes("widgets"))
    yield MongoVersionedStore(db, "widgets", "registry")
    await client.drop_database(db.name)
    await client.close()


def note(widget_id: str) -> AuditNote:
    return AuditNote("widget.changed", "widget", widget_id)


async def test_versions_count_from_one_and_load_is_exact(store: VersionedStore) -> None:
    assert await store.load("w") is None
    assert await store.create("w", {"label": "a"}) == 1
    assert await store.save("w", 1, {"label": "b"}) == 2
    loaded = await store.load("w")
    assert loaded is not None
    assert (loaded.version, loaded.state) == (2, {"label": "b"})
    assert [s.version for s in await store.history("w")] == [1, 2]
    current = await store.read_current("w")
    assert current is not None
    assert current.version == 2


async def test_only_the_current_version_plus_one_is_accepted(store: VersionedStore) -> None:
    await store.create("w", {"label": "a"})
    await store.save("w", 1, {"label": "b"})
    for stale_or_future in (0, 1, 3, 7):
        with pytest.raises(PreconditionFailed) as refused:
            await store.save("w", stale_or_future, {"label": "x"})
        assert refused.value.code == "aggregate.version_conflict"
    loaded = await store.load("w")
    assert loaded is not None
    assert loaded.version == 2
    assert [s.version for s in await store.history("w")] == [1, 2]


async def test_create_refuses_an_existing_aggregate(store: VersionedStore) -> None:
    await store.create("w", {"label": "a"})
    with pytest.raises(Conflict):
        await store.create("w", {"label": "again"})


async def test_a_cause_applies_once_per_aggregate(store: VersionedStore) -> None:
    assert await store.create("w", {"n": 1}, caused_by="evt-1") == 1
    assert await store.save("w", 1, {"n": 2}, caused_by="evt-1") is None
    assert await store.save("w", 1, {"n": 2}, caused_by="evt-2") == 2
    assert await store.create("v", {"n": 1}, caused_by="evt-1") == 1  # other aggregate, same cause


async def test_reserved_fields_are_refused(store: VersionedStore) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await store.create("w", {"_secret": 1})


async def test_a_change_whose_event_its_topic_cannot_carry_is_refused_and_writes_nothing(
    store: VersionedStore,
) -> None:
    with pytest.raises(EventTooLarge) as refused:
        await store.create("w", {"label": "x"}, [WidgetRenamed(widget_id="w", label="x" * 800_000)])
    assert (refused.value.status, refused.value.code) == (413, "event.too_large")
    assert await store.load("w") is None
    assert await store.create("w", {"label": "x"}, [WidgetRenamed(widget_id="w", label="x" * 700_000)]) == 1


async def test_racing_writers_of_one_version_exactly_one_wins(store: VersionedStore) -> None:
    await store.create("w", {"n": 0})
    results = await asyncio.gather(*(store.save("w", 1, {"n": i}) for i in range(8)), return_exceptions=True)
    assert sum(1 for r in results if r == 2) == 1
    assert all(isinstance(r, PreconditionFailed) for r in results if r != 2)


async def test_concurrent_writers_each_learn_their_own_outcome(store: VersionedStore) -> None:
    """Many saves at once (on MongoDB they share insert commands): a new aggregate is
    written, an existing one refused, a repeated cause applied once — each for its writer."""
    await asyncio.gather(*(store.create(f"old-{i}", {"n": i}) for i in range(5)))
    await store.save("old-0", 1, {"n": 10}, caused_by="op-1")
    outcomes = await asyncio.gather(
        *(store.create(f"new-{i}", {"n": i}) for i in range(20)),
        *(store.create(f"old-{i}", {"n": -1}) for i in range(1, 5)),
        store.save("old-0", 2, {"n": 11}, caused_by="op-1"),
        return_exceptions=True,
    )
    assert outcomes[:20] == [1] * 20
    assert all(isinstance(outcome, Conflict) for outcome in outcomes[20:24]), outcomes[20:24]
    assert outcomes[24] is None  # op-1 was applied at version 2
    assert [(await store.load(f"new-{i}")) is not None for i in range(20)] == [True] * 20
    old = await store.load("old-1")
    assert old is not None
    assert old.state == {"n": 1}


async def test_concurrent_saves_share_insert_commands(infra: Infrastructure) -> None:
    """Group commit: twenty writers at once need far fewer than twenty insert commands."""
    commands = InsertCommands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongo_url, tz_aware=True, event_listeners=[commands]
    )
    db = client[f"contract_{uuid.uuid4().hex[:10]}"]
    await ensure_indexes(db, versioned_indexes("widgets"))
    store = MongoVersionedStore(db, "widgets", "test")
    assert await asyncio.gather(*(store.create(f"w-{i}", {"n": i}) for i in range(20))) == [1] * 20
    assert sum(commands.into("widgets_journal")) == 20
    assert len(commands.into("widgets_journal")) <= 2, commands.seen
    assert len(commands.into("widgets")) <= 2, commands.seen
    await client.drop_database(db.name)
    await client.close()


async def test_find_filters_sorts_and_limits_current_versions(store: VersionedStore) -> None:
    await store.create("a", {"kind": "x", "rank": 3, "tags": ["red", "blue"], "gone": None})
    await store.create("b", {"kind": "y", "rank": 1, "tags": ["green"]})
    await store.create("c", {"kind": "x", "rank": 2, "tags": []})
    await store.save("c", 1, {"kind": "x", "rank": 5, "tags": ["red"]})
    await store.create("d", {"kind": "z", "rank": 0, "tags": ("amber", "red")})  # a model's tuple field

    async def ids(query: dict[str, Any], **options: Any) -> list[str]:
        return [s.aggregate_id for s in await store.find(query, **options)]

    assert await ids({"kind": {"$ne": "z"}}) == ["a", "b", "c"]
    assert await ids({"kind": "x"}) == ["a", "c"]
    assert await ids({"tags": "red"}) == ["a", "c", "d"]  # an array field matches by element, a stored tuple too
    assert await ids({"tags": "amber"}) == ["d"]
    assert await ids({"kind": {"$in": ["y"]}}) == ["b"]
    assert await ids({"kind": {"$nin": ["y", "z"]}}) == ["a", "c"]
    assert await ids({"rank": {"$gte": 2, "$lt": 5}}) == ["a"]
    assert await ids({"rank": {"$lte": 1}}) == ["b", "d"]
    assert await ids({"_id": {"$gt": "a"}}) == ["b", "c", "d"]
    assert await ids({"gone": None}) == ["a", "b", "c", "d"]  # null or missing
    assert await ids({"$or": [{"kind": "y"}, {"rank": 5}]}) == ["b", "c"]
    assert await ids({}, sort=[("rank", DESCENDING)]) == ["c", "a", "b", "d"]
    assert await ids({}, sort=[("kind", 1), ("rank", DESCENDING)], limit=2) == ["c", "a"]
    found = await store.find({"_id": "c"})
    assert [(s.version, s.state["rank"]) for s in found] == [(2, 5)]


async def test_write_path_checks_if_match_exactly(store: VersionedStore) -> None:
    repo = Repository(store, Widget)
    await create(repo, "w", Widget(widget_id="w", label="a"), note("w"))

    def rename(widget: Widget) -> Decision[Widget]:
        return Decision(widget.model_copy(update={"label": "b"}), note("w"))

    for wrong in (0, 2, 9):
        with pytest.raises(PreconditionFailed):
            await update(repo, "w", rename, not_found=("widget.not_found", "widget"), expected=wrong)
    outcome = await update(repo, "w", rename, not_found=("widget.not_found", "widget"), expected=1)
    assert (outcome.written, outcome.version, outcome.item.label, outcome.item.version) == (True, 2, "b", 2)
    with pytest.raises(NotFound):
        await update(repo, "nope", rename, not_found=("widget.not_found", "widget"))


async def test_write_path_decides_again_after_a_lost_race(store: VersionedStore) -> None:
    repo = Repository(store, Widget)
    await create(repo, "w", Widget(widget_id="w", label="a"), note("w"))

    def bump(loaded: Loaded[Widget] | None) -> Decision[Widget]:
        assert loaded is not None
        return Decision(loaded.item.model_copy(update={"count": loaded.item.count + 1}), note("w"))

    outcomes = await asyncio.gather(
        *(execute(repo, "w", bump, retry=Retry(attempts=200, max_delay_s=0.05)) for _ in range(12))
    )
    assert all(o.written for o in outcomes)
    final = await repo.get("w")
    assert final is not None
    assert (final.item.count, final.version) == (12, 13)


async def test_write_path_carries_events_and_applies_a_cause_once(store: VersionedStore) -> None:
    repo = Repository(store, Widget)
    widget = Widget(widget_id="w", label="a", events=[WidgetCreated(widget_id="w", label="a")])
    first = await create(repo, "w", widget, note("w"), caused_by="evt-1")
    assert (first.written, len(first.events), first.version) == (True, 1, 1)
    assert first.item.events == []  # what was saved, not what is pending
    with pytest.raises(Conflict):  # a version-1 conflict wins over the repeated cause
        await create(repo, "w", widget, note("w"), caused_by="evt-1")

    def bump(loaded: Loaded[Widget] | None) -> Decision[Widget]:
        assert loaded is not None
        return Decision(loaded.item.model_copy(update={"count": loaded.item.count + 1}), note("w"))

    applied = await execute(repo, "w", bump, caused_by="evt-2")
    repeated = await execute(repo, "w", bump, caused_by="evt-2")
    assert (applied.written, applied.item.count) == (True, 1)
    assert (repeated.written, repeated.version, repeated.item.count) == (False, 2, 1)

    def nothing(loaded: Loaded[Widget] | None) -> None:
        return None

    unchanged = await execute(repo, "w", nothing)
    assert (unchanged.written, unchanged.version) == (False, 2)


async def test_a_head_shown_later_catches_up_in_order_and_an_exact_load_never_waits(store: VersionedStore) -> None:
    """``show_later`` (the ledger's book): the save returns before the current document
    moves; an exact load sees each version at once, and the current document reaches the
    newest without ever showing an older version after a newer one."""
    await store.create("w", {"label": "v1"})
    newest = 40
    for version in range(1, newest):
        assert await store.save("w", version, {"label": f"v{version + 1}"}, show_later=True) == version + 1
        exact = await store.load("w", exact=True)
        assert exact is not None
        assert (exact.version, exact.state["label"]) == (version + 1, f"v{version + 1}")
    shown: list[int] = []
    for _ in range(500):
        current = await store.read_current("w")
        assert current is not None
        shown.append(current.version)
        if current.version == newest:
            break
        await asyncio.sleep(0.01)
    assert shown[-1] == newest
    assert shown == sorted(shown)
    # A plain save after it builds on the newest and shows at once.
    assert await store.save("w", newest, {"label": "last"}) == newest + 1
    current = await store.read_current("w")
    assert current is not None
    assert current.version == newest + 1


async def test_a_head_left_behind_by_a_crash_is_caught_up_by_the_next_write(
    infra: Infrastructure, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """MongoDB only: a writer killed between its journal insert and the head's refresh.

    Loading trusts the head (one `_id` hit), so it shows the version before; the next
    command decides on it, collides with the newer version, catches the head up and
    decides again — the crashed writer's version is built on, never overwritten.
    """
    db = mongo_client[f"contract_{uuid.uuid4().hex[:10]}"]
    await ensure_indexes(db, versioned_indexes("widgets"))
    store = MongoVersionedStore(db, "widgets", "test")
    repo = Repository(store, Widget)
    await create(repo, "w", Widget(widget_id="w", label="a"), note("w"))
    crashed = journal_document("test", "w", 2, {"widget_id": "w", "label": "a", "count": 7, "tags": []}, (), None, None)
    await store.journal.insert_one(crashed)  # ... and the process died before refreshing the head

    behind = await store.load("w")
    assert behind is not None
    assert behind.version == 1

    def bump(loaded: Loaded[Widget] | None) -> Decision[Widget]:
        assert loaded is not None
        return Decision(loaded.item.model_copy(update={"count": loaded.item.count + 1}), note("w"))

    outcome = await execute(repo, "w", bump)
    assert (outcome.version, outcome.item.count) == (3, 8)
    head = await store.load("w")
    assert head is not None
    assert (head.version, head.state["count"]) == (3, 8)
    with pytest.raises(PreconditionFailed):  # a client that saw version 1 is told, not overwritten
        await update(repo, "w", lambda w: Decision(w, note("w")), not_found=("widget.not_found", "widget"), expected=1)
    await mongo_client.drop_database(db.name)


async def test_an_exact_load_and_an_if_match_on_the_newer_version_see_past_a_stale_head(
    infra: Infrastructure, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    db = mongo_client[f"contract_{uuid.uuid4().hex[:10]}"]
    await ensure_indexes(db, versioned_indexes("widgets"))
    store = MongoVersionedStore(db, "widgets", "test")
    repo = Repository(store, Widget)
    await create(repo, "w", Widget(widget_id="w", label="a"), note("w"))
    crashed = journal_document("test", "w", 2, {"widget_id": "w", "label": "b", "count": 0, "tags": []}, (), None, None)
    await store.journal.insert_one(crashed)

    def rename(widget: Widget) -> Decision[Widget]:
        return Decision(widget.model_copy(update={"label": "c"}), note("w"))

    # A client that read version 2 (from the journal's history) is not refused by a stale head.
    outcome = await update(repo, "w", rename, not_found=("widget.not_found", "widget"), expected=2)
    assert (outcome.version, outcome.item.label) == (3, "c")
    await store.journal.insert_one(journal_document("test", "w", 4, {"widget_id": "w", "label": "d"}, (), None, None))
    stale = await store.load("w")
    exact = await store.load("w", exact=True)
    assert stale is not None
    assert exact is not None
    assert (stale.version, exact.version, exact.state["label"]) == (3, 4, "d")
    repaired = await store.load("w")
    assert repaired is not None
    assert repaired.version == 4  # the exact load caught the head up
    await mongo_client.drop_database(db.name)
