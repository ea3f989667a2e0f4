"""The daily digest: digest-only notices batched into one e-mail per recipient and day.

``plan_deliveries`` marks a digest-only e-mail ``Disposition.DIGEST``; the use case keeps
it as a ``DigestEntry``. Once a day (``DIGEST_SEND_TIME`` in each recipient's time zone)
``build_daily_digests`` groups the pending entries per recipient; ``render_digest``
turns one into a message and ``plan_digest_delivery`` into an ordinary e-mail delivery.
The digest id names the recipient and their local date, so a recipient gets at most one
digest a day even if the job runs twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.recipients import Locale, zone
from alliance_notifications.domain.routing import (
    Disposition,
    PlannedDelivery,
    delivery_id_of,
    delivery_key,
)
from alliance_notifications.domain.templates import RenderedMessage, RenderResult, TemplateRenderer
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.notifications import Channel
from alliance_shared.errors import DomainError

DIGEST_TEMPLATE = "digest.daily"
DIGEST_EVENT_TYPE = "digest.daily"
DIGEST_SEND_TIME = time(8, 0)


class DigestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_id: str
    recipient_id: str
    recipient_name: str
    partner_id: str | None
    address: str
    locale: Locale
    time_zone: str
    event_id: str
    event_type: str
    template: str
    payload: dict[str, Any]
    collected_at: UtcDateTime

    @classmethod
    def from_plan(cls, plan: PlannedDelivery, payload: Mapping[str, Any]) -> DigestEntry:
        if plan.disposition is not Disposition.DIGEST or plan.address is None:
            raise DomainError("digest.not_a_digest_entry", f"delivery {plan.delivery_key} is not for the digest")
        return cls(
            entry_id=plan.delivery_key,
            recipient_id=plan.recipient_id,
            recipient_name=plan.recipient_name,
            partner_id=plan.partner_id,
            address=plan.address,
            locale=plan.locale,
            time_zone=plan.time_zone,
            event_id=plan.event_id,
            event_type=plan.event_type,
            template=plan.template,
            payload=dict(payload),
            collected_at=plan.not_before,
        )


class Digest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    digest_id: str
    digest_date: date
    recipient_id: str
    recipient_name: str
    partner_id: str | None
    address: str
    locale: Locale
    time_zone: str
    entries: tuple[DigestEntry, ...]


def digest_id_of(recipient_id: str, local_date: date) -> str:
    return f"digest:{recipient_id}:{local_date.isoformat()}"


def next_digest_at(now: datetime, time_zone: str, send_time: time = DIGEST_SEND_TIME) -> datetime:
    """The next ``send_time`` in the recipient's zone, strictly after ``now``."""
    tz = zone(time_zone)
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), send_time, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), send_time, tzinfo=tz)
    return candidate


def build_daily_digests(entries: Iterable[DigestEntry], now: datetime) -> list[Digest]:
    """One digest per recipient with the entries given, oldest first; the latest entry's
    name, address and language win (a contact may have changed meanwhile)."""
    by_recipient: dict[str, list[DigestEntry]] = defaultdict(list)
    for entry in entries:
        by_recipient[entry.recipient_id].append(entry)
    digests = []
    for recipient_id in sorted(by_recipient):
        ordered = sorted(by_recipient[recipient_id], key=lambda e: (e.collected_at, e.event_id))
        latest = ordered[-1]
        local_date = now.astimezone(zone(latest.time_zone)).date()
        digests.append(
            Digest(
                digest_id=digest_id_of(recipient_id, local_date),
                digest_date=local_date,
                recipient_id=recipient_id,
                recipient_name=latest.recipient_name,
                partner_id=latest.partner_id,
                address=latest.address,
                locale=latest.locale,
                time_zone=latest.time_zone,
                entries=tuple(ordered),
            )
        )
    return digests


def render_digest(digest: Digest, renderer: TemplateRenderer) -> RenderResult:
    """The digest message: one line per entry, its notice's subject in the recipient's language.

    An entry whose own template fails still appears, by event type and id, so one bad
    template cannot swallow a whole digest.
    """
    lines = []
    for entry in digest.entries:
        rendered = renderer.render(
            entry.template,
            digest.locale,
            payload=entry.payload,
            recipient_name=digest.recipient_name,
            time_zone=digest.time_zone,
            event_id=entry.event_id,
            event_type=entry.event_type,
        )
        title = rendered.subject if isinstance(rendered, RenderedMessage) else f"{entry.event_type} ({entry.event_id})"
        lines.append({"title": title, "collected_at": entry.collected_at})
    return renderer.render(
        DIGEST_TEMPLATE,
        digest.locale,
        payload={"digest_date": digest.digest_date.isoformat(), "count": len(lines)},
        recipient_name=digest.recipient_name,
        time_zone=digest.time_zone,
        event_id=digest.digest_id,
        event_type=DIGEST_EVENT_TYPE,
        extra={"entries": lines},
    )


def plan_digest_delivery(digest: Digest, preferences: Preferences | None, now: datetime) -> PlannedDelivery:
    """The digest as an e-mail delivery; it respects quiet hours like any e-mail."""
    key = delivery_key(digest.digest_id, digest.recipient_id, Channel.EMAIL)
    prefs = preferences or Preferences.defaults(digest.recipient_id)
    release = prefs.quiet_hours.release_at(now, digest.time_zone) if prefs.quiet_hours else None
    return PlannedDelivery(
        delivery_key=key,
        delivery_id=delivery_id_of(key),
        event_id=digest.digest_id,
        event_type=DIGEST_EVENT_TYPE,
        recipient_id=digest.recipient_id,
        audience_id=digest.recipient_id,
        partner_id=digest.partner_id,
        recipient_name=digest.recipient_name,
        channel=Channel.EMAIL,
        category=Category.DIGEST_ONLY,
        template=DIGEST_TEMPLATE,
        locale=digest.locale,
        time_zone=digest.time_zone,
        address=digest.address,
        disposition=Disposition.SEND if release is None else Disposition.DELAY,
        not_before=release or now,
        reason_code=None if release is None else "quiet_hours",
    )
