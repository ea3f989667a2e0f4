"""A sliding-window limit per key (how many times a partner may start a handshake)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from alliance_shared.errors import DomainError


class RateLimited(DomainError):
    status = 429
    title = "Too many requests"


class SlidingWindowLimit:
    """At most ``limit`` uses per key within any ``window``; in memory, per process."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._uses: dict[str, deque[datetime]] = {}

    def take(self, key: str, now: datetime, code: str) -> None:
        """Count one use of ``key`` at ``now``, or raise ``RateLimited`` (``code``) with
        ``retry_after_seconds`` when the window is full."""
        uses = self._uses.setdefault(key, deque())
        while uses and uses[0] <= now - self.window:
            uses.popleft()
        if len(uses) >= self.limit:
            wait = uses[0] + self.window - now
            raise RateLimited(
                code,
                f"at most {self.limit} per {int(self.window.total_seconds())} s; try again later",
                retry_after_seconds=max(1, int(wait.total_seconds()) + 1),
            )
        uses.append(now)
