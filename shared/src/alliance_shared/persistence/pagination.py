"""Cursor pagination over a store's current documents, ordered by aggregate id or by a
stored position."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING

from alliance_shared.errors import InvalidInput
from alliance_shared.persistence.versioned_store import Snapshot, VersionedStore

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page:
    items: list[Snapshot]
    next_cursor: str | None


def encode_cursor(after_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("pagination.bad_cursor", "the cursor is not one this API issued") from exc
    if not isinstance(value, str):
        raise InvalidInput("pagination.bad_cursor", "the cursor is not one this API issued")
    return value


async def paginate(
    store: VersionedStore, query: Mapping[str, Any], *, limit: int, cursor: str | None, order_by: str = "_id"
) -> Page:
    """One page of ``query``'s matches in ``order_by`` order: ``_id``, or a stored string field
    whose values are unique (a derived position ending with the aggregate id), so that the
    cursor — the last item's value — never skips or repeats an item."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    filters: dict[str, Any] = dict(query)
    if cursor:
        filters[order_by] = {"$gt": decode_cursor(cursor)}
    items = await store.find(filters, sort=[(order_by, ASCENDING)], limit=limit + 1)
    has_more = len(items) > limit
    items = items[:limit]
    if not (has_more and items):
        return Page(items, None)
    last = items[-1]
    return Page(items, encode_cursor(last.aggregate_id if order_by == "_id" else str(last.state[order_by])))
