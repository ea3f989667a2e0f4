"""What a service's event handlers see and are: free of any Kafka client, so use cases
may name them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.envelope import CloudEvent


@dataclass(frozen=True)
class ConsumedEvent:
    envelope: CloudEvent
    payload: EventPayload
    topic: str
    partition: int
    offset: int


Handler = Callable[[ConsumedEvent], Awaitable[None]]

#: A service's handlers, declared by the payload type they handle.
Handlers = Mapping[type[EventPayload], Handler]


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
