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
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
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
    try:
        await retry_when_busy(lambda: collection.insert_many(docs, ordered=False))
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {int(error["index"]) for error in errors}
    return set()
