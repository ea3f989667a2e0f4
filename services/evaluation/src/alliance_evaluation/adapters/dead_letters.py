"""Dead-letter copies published through the runtime's dead-letter producer (the one the
consumer runner uses), for records a use case refuses after the consumer let them by."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_shared.runtime import ServiceRuntime


class RuntimeDeadLetters:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> None:
        # The producer exists once the runtime has started, before any consumer or check runs.
        await self._runtime.dead_letter_producer.send_and_wait(topic, value=value, key=key, headers=list(headers))
