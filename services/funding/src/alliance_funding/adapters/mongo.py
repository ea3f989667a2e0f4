"""The funding service on MongoDB: an index for each field a scan of current documents
filters on (current documents live in the store's own collection). The local
MongoDB-wire server indexes nothing but ``_id`` (docs/architecture.md); these make the
difference on MongoDB."""

from __future__ import annotations

from pymongo import ASCENDING

from alliance_funding.service.ports import APPLICATIONS, AWARDS, STATEMENTS
from alliance_shared.persistence.mongo import IndexSpec

INDEXES: tuple[IndexSpec, ...] = (
    # an agreement's active awards (holds driven by registry and evaluation events)
    IndexSpec(AWARDS, (("agreement_id", ASCENDING), ("status", ASCENDING))),
    # a programme's awards (its closing releases their kept remainders)
    IndexSpec(AWARDS, (("programme_id", ASCENDING), ("_id", ASCENDING))),
    # the recovery deadline pass
    IndexSpec(AWARDS, (("recovery_open", ASCENDING), ("_id", ASCENDING))),
    # GET /awards for a partner (every party of the award)
    IndexSpec(AWARDS, (("party_ids", ASCENDING), ("_id", ASCENDING))),
    # GET /applications by programme and for a partner
    IndexSpec(APPLICATIONS, (("programme_id", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(APPLICATIONS, (("applicant_partner_id", ASCENDING), ("_id", ASCENDING))),
    # GET /surcharge-credit-statements by enterprise and by year; an enterprise's later statements
    IndexSpec(STATEMENTS, (("enterprise_id", ASCENDING), ("_id", ASCENDING))),
    IndexSpec(STATEMENTS, (("year", ASCENDING), ("_id", ASCENDING))),
)
