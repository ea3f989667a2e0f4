"""CloudEvents 1.0 envelope and its Kafka binary-mode codec.

Binary mode: the attributes travel as ``ce_*`` headers, the record value is the
JSON data alone, the record key is the subject (the aggregate id), so Kafka keeps
one aggregate's events in order on one partition.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alliance_shared import context
from alliance_shared.contract.base import EventPayload

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = Sequence[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A record that is not a well-formed CloudEvent; ``code`` says what is wrong."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class CloudEvent(BaseModel):
    """The envelope every event travels in; ``data`` is the JSON form of the payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=200)
    time: datetime
    specversion: str = SPEC_VERSION
    datacontenttype: str = CONTENT_TYPE
    correlationid: str | None = Field(default=None, max_length=200)
    causationid: str | None = Field(default=None, max_length=200)
    traceparent: str | None = Field(default=None, max_length=100)
    data: dict[str, Any]

    @classmethod
    def wrap(cls, payload: EventPayload, source: str, *, event_id: str | None = None) -> CloudEvent:
        """Envelope a payload with the ids of the current context (see alliance_shared.context)."""
        ctx = context.current()
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=payload.event_type,
            subject=payload.aggregate_id(),
            time=datetime.now(UTC),
            correlationid=ctx.correlation_id,
            causationid=ctx.event_id or ctx.request_id,
            traceparent=context.child_traceparent(ctx.traceparent),
            data=payload.model_dump(mode="json"),
        )

    def to_document(self) -> dict[str, Any]:
        """The form stored in an outbox: plain BSON-friendly values."""
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> CloudEvent:
        time = doc["time"]
        if isinstance(time, datetime) and time.tzinfo is None:
            doc = {**doc, "time": time.replace(tzinfo=UTC)}  # BSON dates come back naive
        return cls.model_validate(doc)


_HEADER_ATTRIBUTES = (
    "id",
    "source",
    "type",
    "subject",
    "time",
    "specversion",
    "correlationid",
    "causationid",
    "traceparent",
)
_REQUIRED = ("id", "source", "type", "specversion")


def to_kafka(event: CloudEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Encode as (key, value, headers) in Kafka binary content mode."""
    headers: list[tuple[str, bytes]] = []
    for name in _HEADER_ATTRIBUTES:
        value = getattr(event, name)
        if value is None:
            continue
        text = value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(value)
        headers.append((f"ce_{name}", text.encode()))
    headers.append(("content-type", event.datacontenttype.encode()))
    value_bytes = json.dumps(event.data, ensure_ascii=False, separators=(",", ":")).encode()
    return event.subject.encode(), value_bytes, headers


def from_kafka(key: bytes | None, value: bytes | None, headers: Headers) -> CloudEvent:
    """Decode a binary-mode record; raises EnvelopeError with a machine-readable code."""
    attrs: dict[str, str] = {}
    for name, raw in headers:
        if name.startswith("ce_"):
            if name[3:] in attrs:
                raise EnvelopeError("envelope.duplicate_header", f"header {name} appears more than once")
            try:
                attrs[name[3:]] = raw.decode()
            except UnicodeDecodeError as exc:
                raise EnvelopeError("envelope.bad_header", f"header {name} is not UTF-8") from exc
    missing = [a for a in _REQUIRED if a not in attrs]
    if missing:
        raise EnvelopeError("envelope.missing_attributes", f"missing CloudEvents headers: {missing}")
    if attrs["specversion"] != SPEC_VERSION:
        raise EnvelopeError("envelope.bad_specversion", f"specversion {attrs['specversion']!r} != 1.0")
    if value is None:
        raise EnvelopeError("envelope.no_data", "record has no value")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("envelope.malformed_json", f"value is not JSON: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # an integer of 4,300+ digits, nesting too deep
        raise EnvelopeError("envelope.unreadable_json", f"value cannot be read as JSON: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("envelope.malformed_json", "value must be a JSON object")
    attrs.setdefault("subject", key.decode(errors="replace") if key else "")
    attrs.setdefault("time", datetime.now(UTC).isoformat())
    try:
        return CloudEvent.model_validate({**attrs, "data": data})
    except ValidationError as exc:
        raise EnvelopeError("envelope.invalid_attributes", str(exc.errors(include_url=False))) from exc
