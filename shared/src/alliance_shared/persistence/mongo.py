"""MongoDB client factory and index bootstrap (PyMongo's AsyncMongoClient).

Everything here stays within what both MongoDB and FerretDB v1 support
(docs/architecture.md): no transactions, no change streams, no partial/TTL indexes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteError,
)

Document = dict[str, Any]
T = TypeVar("T")

DUPLICATE_KEY = 11000
#: How often ``retry_when_busy`` sends a write the server refused as busy.
BUSY_ATTEMPTS = 10

#: Errors that mean "the database is not reachable right now": retry, answer 503.
TRANSIENT_DB_ERRORS: tuple[type[Exception], ...] = (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)


def create_client(
    url: str, *, app_name: str, timeout_ms: int = 5000, operation_timeout_ms: int = 30000
) -> AsyncMongoClient[Document]:
    """``timeout_ms`` bounds finding and connecting to a server; ``operation_timeout_ms``
    every operation as a whole (PyMongo's client-side timeout: socket reads included)."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        timeoutMS=operation_timeout_ms,
        retryWrites=False,  # FerretDB v1 has no retryable writes; we retry explicitly
    )


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


async def ensure_indexes(db: AsyncDatabase[Document], specs: Iterable[IndexSpec]) -> None:
    for spec in specs:
        kwargs: dict[str, Any] = {"unique": spec.unique, **spec.options}
        if spec.name:
            kwargs["name"] = spec.name
        await db[spec.collection].create_index(list(spec.keys), **kwargs)


async def ping(db: AsyncDatabase[Document]) -> None:
    await db.command("ping")


def is_busy(exc: BaseException) -> bool:
    """The local server's SQLite backend refuses a write while another holds the lock."""
    return isinstance(exc, OperationFailure) and ("SQLITE_BUSY" in str(exc) or "database is locked" in str(exc))


async def retry_when_busy(operation: Callable[[], Awaitable[T]], attempts: int = BUSY_ATTEMPTS) -> T:
    """Run a write again when the server was merely busy; a busy refusal wrote nothing."""
    for attempt in range(attempts):
        try:
            return await operation()
        except OperationFailure as exc:
            if not is_busy(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (attempt + 1) + random.random() * 0.02)
    raise AssertionError("unreachable")


async def insert_unordered(collection: AsyncCollection[Document], docs: Sequence[Document]) -> set[int]:
    """Insert all in one command; the positions a unique index refused (they exist)."""
    if not docs:
        return set()
    outcomes = await insert_each(collection, docs)
    for refused in outcomes:
        if refused is not None and not isinstance(refused, DuplicateKeyError):
            raise refused
    return {position for position, refused in enumerate(outcomes) if refused is not None}


async def insert_each(collection: AsyncCollection[Document], docs: Sequence[Document]) -> list[WriteError | None]:
    """Insert all in one unordered command; for each document None (inserted) or the error
    that refused it alone (DuplicateKeyError: a unique index holds it already). A refusal
    of the whole command (connection lost, timeout) is raised: its outcome is unknown."""
    try:
        await retry_when_busy(lambda: collection.insert_many(docs, ordered=False))
    except BulkWriteError as exc:
        outcomes: list[WriteError | None] = [None] * len(docs)
        for error in exc.details.get("writeErrors", []):
            position, code = int(error["index"]), error.get("code")
            message = str(error.get("errmsg", "write refused"))
            if code == DUPLICATE_KEY:
                outcomes[position] = DuplicateKeyError(message, code, error)
            elif is_busy(OperationFailure(message, code)):
                # Refused only because the server was busy: this one alone, sent again.
                outcomes[position] = await _insert_one_alone(collection, docs[position])
            else:
                outcomes[position] = WriteError(message, code, error)
        return outcomes
    return [None] * len(docs)


async def _insert_one_alone(collection: AsyncCollection[Document], doc: Document) -> WriteError | None:
    try:
        await retry_when_busy(lambda: collection.insert_one(doc))
    except WriteError as refused:
        return refused
    return None


class GroupInsert:
    """Single-document inserts into one collection from concurrent writers, sent together.

    Group commit: the first writer's document goes at once; those arriving while its
    command is on its way wait for it and then go together in the next, one unordered
    ``insert_many`` (at most ``max_batch`` documents). No timer: alone, a writer waits for
    nothing; under load, each command carries what queued meanwhile. Every writer learns
    its own document's fate as with ``insert_one``: nothing, or the ``WriteError`` (a
    ``DuplicateKeyError`` from a unique index) that refused it alone; an error of the whole
    command reaches every writer in it. Unordered is safe because the documents are
    independent: each carries its own guard (a unique ``_id``, a dedupe key).
    """

    def __init__(self, collection: AsyncCollection[Document], max_batch: int = 256) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._waiting: list[tuple[Document, asyncio.Future[None]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def insert(self, doc: Document) -> None:
        loop = asyncio.get_running_loop()
        if self._sending is not None and self._sending.get_loop() is not loop:
            self._sending, self._waiting = None, []  # a store kept across event loops (tests)
        outcome: asyncio.Future[None] = loop.create_future()
        self._waiting.append((doc, outcome))
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_waiting())
        await outcome

    async def _send_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            self._waiting = self._waiting[self._max_batch :]
            try:
                outcomes = await insert_each(self._collection, [doc for doc, _ in batch])
            except asyncio.CancelledError:
                for _, outcome in batch + self._waiting:
                    outcome.cancel()
                self._waiting = []
                raise
            except Exception as failure:
                for _, outcome in batch:
                    if not outcome.done():
                        outcome.set_exception(failure)
                continue
            for (_, outcome), refused in zip(batch, outcomes, strict=True):
                if outcome.done():  # its writer was cancelled; the insert stands, as with insert_one
                    continue
                if refused is None:
                    outcome.set_result(None)
                else:
                    outcome.set_exception(refused)
