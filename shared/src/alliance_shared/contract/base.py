"""Building blocks of every event payload: the payload base class, money, ids.

Payload models are the single source of truth of the event contract: the JSON
Schemas and the AsyncAPI document in docs/ are generated from them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

TYPE_PATTERN = re.compile(r"^org\.coopalliance\.[a-z]+\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*$")

#: Three-letter ISO 4217 code. The alliance's funds are in CNY.
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])]

#: An amount in the currency's minor unit (fen for CNY). Never a float.
MinorUnits = Annotated[int, Field(strict=True, ge=0, le=10**15)]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamps must carry a UTC offset")
    return value.astimezone(UTC)


#: A timezone-aware instant, normalised to UTC.
UtcDateTime = Annotated[datetime, AfterValidator(_require_utc)]


class Money(BaseModel):
    """An amount of money as an integer count of the currency's minor unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_minor: MinorUnits = Field(description="amount in minor units (fen for CNY)")
    currency: CurrencyCode = "CNY"


class EventPayload(BaseModel):
    """Base of every event payload.

    Subclasses set ``event_type`` (``org.coopalliance.<context>.<entity>.<happened>.v<N>``)
    and ``aggregate_field``, the payload field whose value is the aggregate id (the
    CloudEvents ``subject`` and the Kafka key). Versions only grow compatibly: a new
    field is optional or defaulted, a field is never removed or retyped in place.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    aggregate_field: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is not None and not TYPE_PATTERN.match(event_type):
            raise TypeError(f"{cls.__name__}.event_type {event_type!r} breaks the naming rule")

    def aggregate_id(self) -> str:
        return str(getattr(self, self.aggregate_field))
