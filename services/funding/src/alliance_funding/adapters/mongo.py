"""The funding service on MongoDB: an index for each field a scan of current documents
filters on (current documents live in the store's own collection). The local
MongoDB-wire server indexes nothing but ``_id`` (docs/architecture.md); these make the
difference on MongoDB."""

from __future__ import annotations

from pymongo import ASCENDING

from alliance_funding.service.ports import AWARDS
from alliance_shared.persistence.mongo import IndexSpec

INDEXES: tuple[IndexSpec, ...] = (
    # an agreement's active awards (holds driven by registry and evaluation events)
    IndexSpec(AWARDS, (("agreement_id", ASCENDING), ("status", ASCENDING))),
    # a programme's awards (its closing releases their kept remainders)
    IndexSpec(AWARDS, (("programme_id", ASCENDING), ("_id", ASCENDING))),
    # the recovery deadline pass
    IndexSpec(AWARDS, (("recovery_open", ASCENDING), ("_id", ASCENDING))),
)
