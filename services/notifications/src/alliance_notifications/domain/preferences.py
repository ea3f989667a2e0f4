"""A recipient's choices: which categories reach them on which channel, and quiet hours.

Everything is on by default, with quiet hours 22:00–07:00. Regulatory notices (decisions
with legal or financial effect: certification, funding decisions, evaluation results,
rectification orders) cannot be switched off on any channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.domain.quiet_hours import DEFAULT_QUIET_HOURS, QuietHours
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import DomainError


class Category(StrEnum):
    """How a notice is treated: regulatory ones cannot be muted, digest-only ones wait for
    the daily digest instead of an e-mail of their own."""

    REGULATORY = "regulatory"
    OPERATIONAL = "operational"
    DIGEST_ONLY = "digest_only"


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    recipient_id: str = Field(min_length=1, max_length=200)
    #: Only switched-off pairs are stored; anything not listed is on.
    muted: dict[Category, list[Channel]] = Field(default_factory=dict)
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS
    updated_at: UtcDateTime | None = None
    updated_by: str | None = None
    version: int = 0

    @classmethod
    def defaults(cls, recipient_id: str) -> Preferences:
        return cls(recipient_id=recipient_id)

    def allows(self, category: Category, channel: Channel) -> bool:
        return channel not in self.muted.get(category, [])

    def set_channel(self, category: Category, channel: Channel, enabled: bool, now: datetime, actor_id: str) -> None:
        if category is Category.REGULATORY and not enabled:
            raise DomainError(
                "preferences.regulatory_mandatory",
                "regulatory notices cannot be muted",
                category=category.value,
                channel=channel.value,
            )
        channels = [c for c in self.muted.get(category, []) if c is not channel]
        if not enabled:
            channels.append(channel)
        muted = {k: v for k, v in self.muted.items() if k is not category}
        if channels:
            muted[category] = sorted(channels)
        self.muted = muted
        self._touch(now, actor_id)

    def set_quiet_hours(self, quiet_hours: QuietHours | None, now: datetime, actor_id: str) -> None:
        """``None`` switches quiet hours off."""
        self.quiet_hours = quiet_hours
        self._touch(now, actor_id)

    def _touch(self, now: datetime, actor_id: str) -> None:
        self.updated_at = now
        self.updated_by = actor_id

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Preferences:
        return cls.model_validate(dict(document))
