"""The audit chain's anchors, published by every service on its own topic.

Each service periodically announces the head of its hash-chained audit trail (the
sequence number and hash of its newest record). The anchor lives outside the service's
database — in Kafka, and wherever auditors keep what they read — so truncating the trail
or re-hashing it from some record on is detected: the anchored record no longer matches.

Key (``aggregate_field``): ``service``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from alliance_shared.contract.base import EventPayload, UtcDateTime


class AuditChainAnchored(EventPayload):
    """The head of a service's audit trail at a moment."""

    event_type: ClassVar[str] = "org.coopalliance.platform.audit_chain.anchored.v1"
    aggregate_field: ClassVar[str] = "service"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service": "funding",
                    "seq": 1042,
                    "hash": "9f2c" + "0" * 60,
                    "anchored_at": "2026-12-03T08:00:00Z",
                }
            ]
        }
    )

    service: str = Field(min_length=1, max_length=50, description="the service whose trail this is")
    seq: int = Field(ge=1, description="sequence number of the newest record")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of that record (its `hash` field)")
    anchored_at: UtcDateTime


AUDIT_EVENTS: list[type[EventPayload]] = [AuditChainAnchored]
