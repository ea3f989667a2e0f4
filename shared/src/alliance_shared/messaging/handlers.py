"""What a service's event handlers see and are: free of any Kafka client, so use cases
may name them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from alliance_shared import context
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent
from alliance_shared.errors import DomainError


@dataclass(frozen=True)
class ConsumedEvent:
    envelope: CloudEvent
    payload: EventPayload
    topic: str
    partition: int
    offset: int

    def context(self) -> context.MessageContext:
        """What the event's effects are done in the name of (correlation, causation, trace)."""
        return context.MessageContext(
            correlation_id=self.envelope.correlationid or self.envelope.id,
            causation_id=self.envelope.id,
            event_id=self.envelope.id,
            traceparent=self.envelope.traceparent,
        )


Handler = Callable[[ConsumedEvent], Awaitable[None]]

#: A service's handlers, declared by the payload type they handle.
Handlers = Mapping[type[EventPayload], Handler]

#: Applies many events of its type together: the valid events of one poll from one
#: partition, in offset order. Returns the refusals by event id — those records are
#: dead-lettered alone, the others count as applied. Must be idempotent per event id, and
#: leave nothing half-applied that a repeat of the same events would not complete.
BatchHandler = Callable[[Sequence[ConsumedEvent]], Awaitable[Mapping[str, DomainError]]]
BatchHandlers = Mapping[type[EventPayload], BatchHandler]


class RawRecord(Protocol):
    """A Kafka record as consumed (aiokafka's ConsumerRecord has these)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class DeadLetter:
    """Why a record was rejected; the hook lets a service tell the sender (college reports)."""

    record: RawRecord
    reason: str
    detail: str
    error_class: str
    envelope: CloudEvent | None


DeadLetterHook = Callable[[DeadLetter], Awaitable[None]]
