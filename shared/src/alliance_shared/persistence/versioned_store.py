"""The store port every aggregate is saved through, and its MongoDB implementation.

Every state change of an aggregate is ONE insert of a new, immutable version document
into ``<name>_journal``: ``{_id: "<aggregate id>#<version>", ...state, _outbox: [...]}``,
carrying the full new state, the events announcing it and its audit entry — the
transactional outbox without transactions. The unique ``_id`` is the optimistic-
concurrency guard: of two writers of version N+1 exactly one insert succeeds, the other
gets a version conflict. The unique ``_dedupe_key`` makes a consumed event (or a
caller-supplied operation id) apply at most once. The journal is the aggregate's
history; ``<name>`` holds one "current" document per aggregate for queries, refreshed
after each insert and settled by the relay (``messaging.relay``).

Why inserts and not conditional updates: the local MongoDB-wire server (FerretDB v1,
SQLite) runs updates as read-modify-write without isolation — two concurrent
``update_one({version: 1}, ...)`` both succeed and ``$inc`` loses increments (measured,
docs/architecture.md) — while unique indexes hold. And it only uses an index for
``_id`` equality, and a lookup of an ``_id`` that does not exist scans the collection, so
every hot path here is an ``_id`` point lookup that finds its document: loading reads
the current document (the head) by `_id`; a stale head is caught up by the loser of a
write race, never by a read. Those workarounds live
in ``MongoVersionedStore`` alone; use cases see the ``VersionedStore`` port, which the
in-memory twin (``alliance_shared.testing``) implements too.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance_shared import context
from alliance_shared.audit import to_plain_json
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent
from alliance_shared.contract.topics import CONTEXT_TOPIC, max_value_bytes
from alliance_shared.errors import Conflict, DomainError, PreconditionFailed
from alliance_shared.logging import get_logger
from alliance_shared.persistence.mongo import DUPLICATE_KEY as DUPLICATE_KEY  # where services import it from
from alliance_shared.persistence.mongo import Document, GroupInsert, IndexSpec, insert_unordered, retry_when_busy

AGGREGATE_ID = "_aggregate_id"
VERSION = "_version"
OUTBOX = "_outbox"
DEDUPE_KEY = "_dedupe_key"
WRITTEN_AT = "_written_at"
JOURNAL_SUFFIX = "_journal"
SETTLED_SUFFIX = "_settled"
#: On a settled record: when the relay recorded the version as published (or set aside).
SETTLED_AT = "at"
#: Aggregates whose newest known version a store object remembers (least recent dropped).
KNOWN_VERSIONS_KEPT = 10_000

log = get_logger(__name__)

#: Called after a journal insert with (store name, journal document id, the document as
#: inserted), so the relay can publish it without reading it back.
WriteListener = Callable[[str, str, Document], None]

Sort = Sequence[tuple[str, int]]
BY_ID: Sort = (("_id", ASCENDING),)


@dataclass(frozen=True)
class Snapshot:
    """One version of an aggregate: its state (no ``_`` fields) and version number."""

    aggregate_id: str
    version: int
    state: dict[str, Any]
    written_at: datetime


@dataclass(frozen=True)
class AuditNote:
    """What the audit trail records about a change: who is taken from the context."""

    action: str
    entity: str
    entity_id: str
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class NewAggregate:
    """Version 1 of an aggregate, one of many created together (``VersionedStore.create_many``)."""

    aggregate_id: str
    state: Mapping[str, Any]
    events: Sequence[EventPayload] = ()
    audit: AuditNote | None = None
    caused_by: str | None = None
    #: Whose change the audit entry names (a consumed event's context); the caller's when None.
    message_context: context.MessageContext | None = None


class VersionedStore(Protocol):
    """The port: load, list and save one kind of aggregate as a journal of versions."""

    @property
    def name(self) -> str: ...

    async def load(self, aggregate_id: str, *, exact: bool = False) -> Snapshot | None:
        """The newest version whose save completed (``exact``: the newest version written).

        After a crash between a version's insert and its completion it may show the
        version before, until the next save on the aggregate or the relay's sweep; a save
        based on it is refused as a conflict (never applied), so decisions through the
        write path are always on the newest.
        ``exact`` also looks past the head (one more lookup) — for audits and verification."""

    async def read_current(self, aggregate_id: str) -> Snapshot | None:
        """The query-side copy, for reads that show: what ``load`` returns on MongoDB."""

    async def history(self, aggregate_id: str) -> list[Snapshot]:
        """Every version, oldest first."""

    async def find(self, query: Mapping[str, Any], *, sort: Sort = BY_ID, limit: int = 0) -> list[Snapshot]:
        """Current versions whose state matches ``query``; eventually consistent."""

    async def save(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        audit: AuditNote | None = None,
        *,
        caused_by: str | None = None,
        show_later: bool = False,
    ) -> int | None:
        """Write version ``expected_version + 1`` with its events and audit entry atomically.

        ``expected_version`` must be exactly the current version (0: the aggregate is new);
        anything else raises PreconditionFailed (``aggregate.version_conflict``).
        ``caused_by`` (an event id or a caller-supplied operation id) is applied at most
        once per aggregate: a repeat returns None and writes nothing.
        ``show_later``: return once the version is written and let the current document
        (what ``load``, ``find`` and ``read_current`` show) catch up in the background —
        for a writer that decides on its own copy of the aggregate and reads it back
        with ``load(exact=True)`` only (the ledger's book).
        """

    async def create(
        self,
        aggregate_id: str,
        state: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        audit: AuditNote | None = None,
        *,
        caused_by: str | None = None,
    ) -> int | None:
        """Write version 1; Conflict (``aggregate.exists``) if the aggregate exists.

        The same for every implementation (they subclass the port to inherit it)."""
        try:
            return await self.save(aggregate_id, 0, state, events, audit, caused_by=caused_by)
        except PreconditionFailed as exc:
            raise Conflict("aggregate.exists", f"{aggregate_id} already exists") from exc

    async def create_many(self, items: Sequence[NewAggregate]) -> list[bool]:
        """Version 1 of each new aggregate; True where this call wrote it, False where the
        aggregate exists already (or its ``caused_by`` was applied): nothing is written for those.

        Not atomic as a whole: after a crash a repeat of the same items writes the rest and
        nothing twice. This default writes one at a time; stores that can batch override it."""
        written: list[bool] = []
        for item in items:
            try:
                version = await self.create(
                    item.aggregate_id, item.state, item.events, item.audit, caused_by=item.caused_by
                )
            except Conflict:
                version = None
            written.append(version is not None)
        return written


def journal_of(name: str) -> str:
    return name + JOURNAL_SUFFIX


def settled_of(name: str) -> str:
    """The relay's record of the journal versions it published (or set aside): one insert each."""
    return name + SETTLED_SUFFIX


def versioned_indexes(name: str) -> list[IndexSpec]:
    journal = journal_of(name)
    return [
        IndexSpec(journal, ((AGGREGATE_ID, ASCENDING), (VERSION, ASCENDING)), unique=True),
        IndexSpec(journal, ((DEDUPE_KEY, ASCENDING),), unique=True),
        # The relay's crash-recovery scan reads the versions written since its horizon.
        IndexSpec(journal, ((WRITTEN_AT, ASCENDING),)),
        IndexSpec(settled_of(name), ((SETTLED_AT, ASCENDING),)),
    ]


def version_id(aggregate_id: str, version: int) -> str:
    return f"{aggregate_id}#{version:09d}"


def check_state(state: Mapping[str, Any]) -> None:
    if any(key.startswith("_") for key in state):
        raise ValueError("state fields must not start with '_' (reserved for the store)")


def version_conflict(aggregate_id: str, shown: int, expected: int) -> PreconditionFailed:
    return PreconditionFailed(
        "aggregate.version_conflict",
        f"{aggregate_id} is at version {shown}, the change was based on version {expected}",
        current_version=shown,
    )


def snapshot_of(doc: Document) -> Snapshot:
    return Snapshot(
        aggregate_id=doc[AGGREGATE_ID],
        version=int(doc[VERSION]),
        state={k: v for k, v in doc.items() if not k.startswith("_")},
        written_at=doc[WRITTEN_AT],
    )


def current_document(journal_doc: Document) -> Document:
    """The query-side copy of a version: state plus id, version and time."""
    doc = {k: v for k, v in journal_doc.items() if not k.startswith("_")}
    doc.update(
        {
            "_id": journal_doc[AGGREGATE_ID],
            AGGREGATE_ID: journal_doc[AGGREGATE_ID],
            VERSION: journal_doc[VERSION],
            WRITTEN_AT: journal_doc[WRITTEN_AT],
        }
    )
    return doc


async def refresh_current(
    current: AsyncCollection[Document], journal_doc: Document, insert: GroupInsert | None = None
) -> None:
    """Make the current document show this version unless it already shows a newer one.

    The version check is done here rather than in the filter: any filter beyond ``_id``
    makes the local server scan the whole collection. Version 1 is a plain insert (a
    duplicate means a version is shown already): no lookup of an ``_id`` that is not there
    yet, and no upsert. Two first writers may race to insert the current document
    (upserts are not atomic there): the loser looks again. ``insert``: the store's group
    insert into ``current``, so that concurrent first versions go in one command.
    """
    if int(journal_doc[VERSION]) == 1:
        try:
            if insert is not None:
                await insert.insert(current_document(journal_doc))
            else:
                await retry_when_busy(lambda: current.insert_one(current_document(journal_doc)))
        except DuplicateKeyError:
            pass  # the current document exists, so it shows version 1 or newer
        return
    for _ in range(5):
        shown = await current.find_one({"_id": journal_doc[AGGREGATE_ID]}, {VERSION: 1})
        if shown is not None and int(shown[VERSION]) >= int(journal_doc[VERSION]):
            return
        try:
            await retry_when_busy(
                lambda: current.replace_one(
                    {"_id": journal_doc[AGGREGATE_ID]}, current_document(journal_doc), upsert=True
                )
            )
            return
        except DuplicateKeyError:
            continue
    log.warning("current document not refreshed; the relay will settle it", aggregate=journal_doc[AGGREGATE_ID])


class EventTooLarge(DomainError):
    """A change whose event the service's topic could not carry: refused before anything is written."""

    status = 413
    title = "Too large"


def check_event_size(source: str, event: CloudEvent) -> None:
    """The event's Kafka value must fit its topic's one limit (contract.topics.MAX_VALUE_BYTES);
    a larger one would be set aside by the relay, so the change is refused up front."""
    topic = CONTEXT_TOPIC.get(source)
    if topic is None:
        return
    size = len(json.dumps(event.data, ensure_ascii=False, separators=(",", ":")).encode())
    limit = max_value_bytes(topic)
    if size > limit:
        raise EventTooLarge(
            "event.too_large",
            f"this change would announce a {event.type} of {size} bytes; {topic} carries at most {limit}",
            size=size,
            limit=limit,
        )


def build_entries(source: str, events: Sequence[EventPayload], audit: AuditNote | None) -> list[Document]:
    """The outbox entries of one version: its events, then its audit entry."""
    envelopes = [CloudEvent.wrap(e, source) for e in events]
    for envelope in envelopes:
        check_event_size(source, envelope)
    entries: list[Document] = [{"kind": "event", "event": envelope.to_document()} for envelope in envelopes]
    if audit is not None:
        ctx = context.current()
        entries.append(
            {
                "kind": "audit",
                "audit": {
                    "entry_id": str(uuid.uuid4()),
                    "at": datetime.now(UTC).isoformat(),
                    "actor_id": ctx.actor_id,
                    "actor_role": ctx.actor_role,
                    "action": audit.action,
                    "entity": audit.entity,
                    "entity_id": audit.entity_id,
                    "before": to_plain_json(audit.before),
                    "after": to_plain_json(audit.after),
                    "correlation_id": ctx.correlation_id,
                },
            }
        )
    return entries


def journal_document(
    source: str,
    aggregate_id: str,
    version: int,
    state: Mapping[str, Any],
    events: Sequence[EventPayload],
    audit: AuditNote | None,
    caused_by: str | None,
) -> Document:
    doc_id = version_id(aggregate_id, version)
    return {
        **state,
        "_id": doc_id,
        AGGREGATE_ID: aggregate_id,
        VERSION: version,
        DEDUPE_KEY: f"{aggregate_id}|{caused_by}" if caused_by else doc_id,
        WRITTEN_AT: datetime.now(UTC),
        OUTBOX: build_entries(source, events, audit),
    }


class MongoVersionedStore(VersionedStore):
    """``VersionedStore`` on MongoDB (and the local MongoDB-wire server)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        name: str,
        source: str,
        on_written: WriteListener = lambda name, doc_id, doc: None,
    ) -> None:
        self._name = name
        self.current = db[name]
        self.journal = db[journal_of(name)]
        # Concurrent saves (requests, a consumer's events of different keys) share commands.
        self._journal_inserts = GroupInsert(self.journal)
        self._current_inserts = GroupInsert(self.current)
        # The newest version this object wrote or saw written, per recent aggregate: a
        # version is never removed, so a save based on one of these needs no lookup.
        self._known_versions: OrderedDict[str, int] = OrderedDict()
        # Versions saved with ``show_later`` whose current document is still to be refreshed.
        self._heads_waiting: dict[str, Document] = {}
        self._head_refreshes: dict[str, asyncio.Task[None]] = {}
        self._source = source
        self._on_written = on_written

    @property
    def name(self) -> str:
        return self._name

    async def load(self, aggregate_id: str, *, exact: bool = False) -> Snapshot | None:
        # The head (current document) is trusted: one `_id` hit. It can only be behind
        # after a crash between a journal insert and its refresh; then a save based on it
        # collides with the newer version's unique id, `save` catches the head up, and the
        # write path decides again on the newer version. Nothing stale is ever written.
        head = await self.current.find_one({"_id": aggregate_id})
        if exact:
            newest = await self._newest_from(aggregate_id, int(head[VERSION]) + 1 if head else 1)
            if newest is not None:
                await refresh_current(self.current, newest)
                self._know(aggregate_id, int(newest[VERSION]))
                return snapshot_of(newest)
        if head is None:
            return None
        # A head shows only a version whose journal insert succeeded.
        self._know(aggregate_id, int(head[VERSION]))
        return snapshot_of(head)

    async def read_current(self, aggregate_id: str) -> Snapshot | None:
        return await self.load(aggregate_id)

    async def history(self, aggregate_id: str) -> list[Snapshot]:
        cursor = self.journal.find({AGGREGATE_ID: aggregate_id}, sort=[(VERSION, ASCENDING)])
        return [snapshot_of(doc) async for doc in cursor]

    async def find(self, query: Mapping[str, Any], *, sort: Sort = BY_ID, limit: int = 0) -> list[Snapshot]:
        cursor = self.current.find(dict(query), sort=list(sort))
        if limit:
            cursor = cursor.limit(limit)
        return [snapshot_of(doc) async for doc in cursor]

    async def save(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Mapping[str, Any],
        events: Sequence[EventPayload] = (),
        audit: AuditNote | None = None,
        *,
        caused_by: str | None = None,
        show_later: bool = False,
    ) -> int | None:
        check_state(state)
        # A version from the future would leave a gap that loading never walks past:
        # the version it builds on must exist (an `_id` hit, cheap on every server).
        if (
            expected_version > self._known_versions.get(aggregate_id, 0)
            and await self.journal.find_one({"_id": version_id(aggregate_id, expected_version)}, {"_id": 1}) is None
        ):
            shown = await self._shown_version(aggregate_id)
            raise version_conflict(aggregate_id, shown, expected_version)
        version = expected_version + 1
        doc = journal_document(self._source, aggregate_id, version, state, events, audit, caused_by)
        try:
            await self._journal_inserts.insert(doc)
        except DuplicateKeyError:
            # Only `_id` lookups that find a document are cheap on the local server (a miss,
            # or a filter on any other field, scans the journal). If the version id is free,
            # only the dedupe key can have refused the insert: the change was applied before.
            # If both hold, the conflict wins; the caller's retry on the newer version then
            # meets the dedupe key alone, so nothing is applied twice either way.
            if caused_by and await self.journal.find_one({"_id": doc["_id"]}, {"_id": 1}) is None:
                return None
            shown = await self._catch_up(aggregate_id, version)
            raise version_conflict(aggregate_id, shown, expected_version) from None
        self._know(aggregate_id, version)
        if show_later and version > 1:
            self._show_later(aggregate_id, doc)
        else:
            await refresh_current(self.current, doc, self._current_inserts)
        self._on_written(self._name, doc["_id"], doc)
        return version

    def _show_later(self, aggregate_id: str, doc: Document) -> None:
        """Bring the current document to ``doc`` in the background: one refresh at a time
        per aggregate (so it never shows an older version after a newer one), and only the
        newest version waiting when the one before it ends (a busy aggregate's saves
        share the refreshes). A crash before it leaves the head behind, which loading,
        saving and the relay's sweep already handle."""
        self._heads_waiting[aggregate_id] = doc
        running = self._head_refreshes.get(aggregate_id)
        if running is not None and running.get_loop() is not asyncio.get_running_loop():
            del self._head_refreshes[aggregate_id]  # a store kept across event loops (tests)
        if aggregate_id not in self._head_refreshes:
            self._head_refreshes[aggregate_id] = asyncio.create_task(self._refresh_heads(aggregate_id))

    async def _refresh_heads(self, aggregate_id: str) -> None:
        try:
            while (doc := self._heads_waiting.pop(aggregate_id, None)) is not None:
                try:
                    await refresh_current(self.current, doc)
                except Exception:  # the head stays behind; the next save or the relay's sweep moves it on
                    log.warning("current document not refreshed", aggregate=aggregate_id, exc_info=True)
        finally:
            if self._head_refreshes.get(aggregate_id) is asyncio.current_task():
                del self._head_refreshes[aggregate_id]

    def _know(self, aggregate_id: str, version: int) -> None:
        self._known_versions[aggregate_id] = max(version, self._known_versions.pop(aggregate_id, 0))
        if len(self._known_versions) > KNOWN_VERSIONS_KEPT:
            self._known_versions.popitem(last=False)

    async def create_many(self, items: Sequence[NewAggregate]) -> list[bool]:
        """One unordered insert of every version 1: the unique ``_id`` and dedupe key refuse
        what exists (counted, skipped); then one insert of their current documents. Every
        version is left to the relay, which appends its audit entries and settles it,
        as for a single write: a crash anywhere leaves nothing the relay does not finish."""
        docs: list[Document] = []
        first_of: dict[str, int] = {}
        for item in items:
            check_state(item.state)
            with context.bound(item.message_context or context.current()):
                doc = journal_document(
                    self._source, item.aggregate_id, 1, item.state, item.events, item.audit, item.caused_by
                )
            first_of.setdefault(doc["_id"], len(docs))
            docs.append(doc)
        # A repeat of an aggregate within the call is refused like a repeat across calls.
        unique = [doc for i, doc in enumerate(docs) if first_of[doc["_id"]] == i]
        refused = await insert_unordered(self.journal, unique)
        inserted = [doc for i, doc in enumerate(unique) if i not in refused]
        await insert_unordered(self.current, [current_document(doc) for doc in inserted])
        for doc in inserted:
            self._on_written(self._name, doc["_id"], doc)
        written_ids = {doc["_id"] for doc in inserted}
        return [first_of[doc["_id"]] == i and doc["_id"] in written_ids for i, doc in enumerate(docs)]

    async def _catch_up(self, aggregate_id: str, taken: int) -> int:
        """After version ``taken`` proved to exist: walk to the newest version and make the
        head show it, so the caller's next load decides on it. The walk ends on the one
        `_id` miss of the write path, paid only by the loser of a race."""
        newest = await self._newest_from(aggregate_id, taken)
        if newest is None:
            return await self._shown_version(aggregate_id)
        await refresh_current(self.current, newest)
        return int(newest[VERSION])

    async def _newest_from(self, aggregate_id: str, version: int) -> Document | None:
        """The newest journal version from ``version`` on, walking `_id`s (None: none there)."""
        newest: Document | None = None
        while (doc := await self.journal.find_one({"_id": version_id(aggregate_id, version)})) is not None:
            newest, version = doc, version + 1
        return newest

    async def _shown_version(self, aggregate_id: str) -> int:
        head = await self.current.find_one({"_id": aggregate_id}, {VERSION: 1})
        return int(head[VERSION]) if head else 0
