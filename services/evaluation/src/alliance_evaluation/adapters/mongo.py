"""The evaluation service on MongoDB: an index for every field a query filters on.

Lists page in aggregate-id order (``alliance_shared.persistence.pagination``), so each
list filter's index ends with ``_id``: the server finds a page's matches and their order
in the one index. The local MongoDB-wire server indexes nothing but ``_id`` (docs/architecture.md);
these make the difference on MongoDB.
"""

from __future__ import annotations

from pymongo import ASCENDING

from alliance_evaluation.service.repositories import (
    AGREEMENTS,
    APPEAL_QUEUE_POSITION,
    APPEALS,
    CYCLES,
    EVIDENCE,
    FRAMEWORKS,
    MANUAL_EVIDENCE,
    PANELS,
    PARKED_REPORTS,
    PROGRAMMES,
    RECTIFICATIONS,
    RESULTS,
)
from alliance_shared.persistence.mongo import IndexSpec


def _by(collection: str, *fields: str) -> IndexSpec:
    return IndexSpec(collection, (*((field, ASCENDING) for field in fields), ("_id", ASCENDING)))


def _queued(*fields: str) -> IndexSpec:
    """An appeals list index: its equality filters, then the queue position it sorts and pages by."""
    return IndexSpec(APPEALS, (*((field, ASCENDING) for field in fields), (APPEAL_QUEUE_POSITION, ASCENDING)))


INDEXES: tuple[IndexSpec, ...] = (
    # GET /frameworks, and the latest version of one framework
    _by(FRAMEWORKS, "framework_id"),
    _by(FRAMEWORKS, "status"),
    # GET /cycles
    _by(CYCLES, "status"),
    # GET /rectifications (parties: party_ids holds each party of the agreement, and a party
    # sees only its own, so each filter comes with it too), the overdue sweep, a cycle's dashboard
    _by(RECTIFICATIONS, "status"),
    _by(RECTIFICATIONS, "agreement_id"),
    _by(RECTIFICATIONS, "cycle_id"),
    _by(RECTIFICATIONS, "party_ids"),
    _by(RECTIFICATIONS, "party_ids", "status"),
    _by(RECTIFICATIONS, "party_ids", "agreement_id"),
    _by(RECTIFICATIONS, "party_ids", "cycle_id"),
    _by(RECTIFICATIONS, "cycle_id", "status"),
    # GET /appeals, in queue order (parties: party_ids, as for orders); upheld appeals for housekeeping
    *(
        _queued(*party, *filtered)
        for party in ((), ("party_ids",))
        for filtered in ((), ("status",), ("agreement_id",), ("cycle_id",), ("result_id",))
    ),
    _by(APPEALS, "status"),
    # an agreement's results and a cycle's ranking
    _by(RESULTS, "agreement_id"),
    _by(RESULTS, "cycle_id"),
    # an agreement's evidence and panels
    _by(EVIDENCE, "agreement_id"),
    _by(MANUAL_EVIDENCE, "agreement_id"),
    _by(PANELS, "agreement_id"),
    # the active agreements a cycle is opened for; reports parked until their agreement is known
    _by(AGREEMENTS, "status"),
    _by(PARKED_REPORTS, "status"),
    _by(PARKED_REPORTS, "agreement_id", "status"),
    # the programmes funding an agreement (rankings and dashboards group by them)
    _by(PROGRAMMES, "agreement_ids"),
)
