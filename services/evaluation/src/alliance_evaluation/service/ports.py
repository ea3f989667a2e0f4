"""What use cases need from outside besides the stores: a way to dead-letter a record
they decide to refuse later than the consumer (a parked report whose wait ran out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class DeadLetterSink(Protocol):
    async def publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        """Publish a dead-letter copy (at least once)."""
