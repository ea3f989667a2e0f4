"""MongoDB client factory and index bootstrap (PyMongo's AsyncMongoClient).

Everything here stays within what both MongoDB and FerretDB v1 support
(DESIGN.md §6): no transactions, no change streams, no partial/TTL indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

Document = dict[str, Any]

#: Errors that mean "the database is not reachable right now": retry, answer 503.
TRANSIENT_DB_ERRORS: tuple[type[Exception], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)


def create_client(url: str, *, app_name: str, timeout_ms: int = 5000) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
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
