"""Routing: which event reaches whom, through which channel, in which language, and when.

Rules are data (``RoutingRule``): an event type, recipient selectors, a category, the
channels and a template. ``plan_deliveries`` applies them to one event and returns one
``PlannedDelivery`` per (recipient, channel) — including the ones that will *not* be sent
(muted by preference, no address), so the delivery log shows every decision.

Selectors read the platform's common payload fields:

==================== ================================================
``agreement_parties`` every id in ``party_ids``
``pending_parties``   every id in ``pending_party_ids`` (still to sign)
``applicant``         ``applicant_partner_id``
``award_recipient``   ``recipient_partner_id``
``partner``           ``partner_id``
``college``           ``college_id``
``responsible_party`` ``responsible_party_id``
``evaluator``         the person ``evaluator_id`` (a member, by token subject)
``order_issuer``      the person ``ordered_by`` (a member, by token subject)
``all_partners``      every active partner in the directory
``role_group:<name>`` the members of a role group (``funding_officers`` ...)
==================== ================================================

A person selector names a member by id: a role-group member gets e-mail and inbox, anyone
else (an evaluator in no group) the inbox only, their e-mail recorded unroutable.
A rule may also narrow its event (``when``: payload field → value, e.g. only a membership
*application* asks the registry admins to act) and leave people out (``exclude_field``:
members listed in that payload field, e.g. the panel's evaluators for an appeal).

Channel rules: e-mail needs an address; an e-mail inside the recipient's quiet hours is
delayed to their end (regulatory ones too: delayed, never dropped); a digest-only notice
goes to the daily digest instead of an e-mail of its own; webhooks go to every verified
endpoint of a partner, role-group members have none; inbox entries are immediate.
The delivery key (event id, recipient id, channel) is unique: its delivery id is the
aggregate id the use cases store it under, so the same event never notifies the same
recipient twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.recipients import (
    DEFAULT_TIME_ZONE,
    Audience,
    Locale,
    RecipientDirectory,
    RoleGroup,
    member_recipient_id,
    partner_recipient_id,
)
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.notifications import Channel

#: Namespace of delivery ids: uuid5(namespace, delivery key) is the same on every run.
DELIVERY_NAMESPACE = uuid.UUID("6c3f7d1e-2b4a-5c8d-9e0f-1a2b3c4d5e6f")

ROLE_GROUP_PREFIX = "role_group:"


class SelectorKind(StrEnum):
    AGREEMENT_PARTIES = "agreement_parties"
    PENDING_PARTIES = "pending_parties"
    APPLICANT = "applicant"
    AWARD_RECIPIENT = "award_recipient"
    PARTNER = "partner"
    COLLEGE = "college"
    RESPONSIBLE_PARTY = "responsible_party"
    EVALUATOR = "evaluator"
    ORDER_ISSUER = "order_issuer"
    ALL_PARTNERS = "all_partners"
    GRANTING_AGENCY = "granting_agency"


#: The payload field each partner or person selector reads (a list for parties).
SELECTOR_FIELDS: dict[SelectorKind, str] = {
    SelectorKind.AGREEMENT_PARTIES: "party_ids",
    SelectorKind.PENDING_PARTIES: "pending_party_ids",
    SelectorKind.APPLICANT: "applicant_partner_id",
    SelectorKind.AWARD_RECIPIENT: "recipient_partner_id",
    SelectorKind.PARTNER: "partner_id",
    SelectorKind.COLLEGE: "college_id",
    SelectorKind.RESPONSIBLE_PARTY: "responsible_party_id",
    SelectorKind.EVALUATOR: "evaluator_id",
    SelectorKind.ORDER_ISSUER: "ordered_by",
    SelectorKind.GRANTING_AGENCY: "agency_id",
}

#: Selectors that name a person (a member id), not a partner.
PERSON_SELECTORS = frozenset({SelectorKind.EVALUATOR, SelectorKind.ORDER_ISSUER})


def _check_selector(selector: str) -> str:
    if selector.startswith(ROLE_GROUP_PREFIX):
        RoleGroup(selector.removeprefix(ROLE_GROUP_PREFIX))
    else:
        SelectorKind(selector)
    return selector


class RoutingRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: str = Field(min_length=1, max_length=200)
    selectors: tuple[str, ...] = Field(min_length=1)
    category: Category
    channels: tuple[Channel, ...] = Field(min_length=1)
    template: str = Field(min_length=1, max_length=200)
    when: dict[str, str] = Field(
        default_factory=dict, description="payload field → value: the rule applies only to events that match"
    )
    exclude_field: str | None = Field(
        default=None, max_length=100, description="payload field listing member ids this rule leaves out"
    )

    def applies_to(self, event_type: str, payload: Mapping[str, Any]) -> bool:
        return self.event_type == event_type and all(payload.get(k) == v for k, v in self.when.items())

    def excluded(self, payload: Mapping[str, Any]) -> frozenset[str]:
        """Recipient ids this rule leaves out (``member:<id>`` of each id in ``exclude_field``)."""
        listed = payload.get(self.exclude_field) if self.exclude_field else None
        if not isinstance(listed, list | tuple):
            return frozenset()
        return frozenset(member_recipient_id(m) for m in listed if isinstance(m, str))

    @field_validator("selectors")
    @classmethod
    def _known_selectors(cls, selectors: tuple[str, ...]) -> tuple[str, ...]:
        for selector in selectors:
            try:
                _check_selector(selector)
            except ValueError:
                raise ValueError(f"unknown recipient selector {selector!r}") from None
        return selectors


class Disposition(StrEnum):
    SEND = "send"  # due now
    DELAY = "delay"  # an e-mail held until the recipient's quiet hours end
    DIGEST = "digest"  # collected for the recipient's daily digest
    SKIP = "skip"  # muted by the recipient's preferences
    UNROUTABLE = "unroutable"  # no address to send to


class PlannedDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery_key: str
    delivery_id: str
    event_id: str
    event_type: str
    recipient_id: str
    audience_id: str = Field(description="whose preferences apply: 'partner:<id>' or 'member:<id>'")
    partner_id: str | None
    recipient_name: str
    channel: Channel
    category: Category
    template: str
    locale: Locale
    time_zone: str
    address: str | None = Field(description="e-mail address or webhook URL; None for the inbox")
    endpoint_id: str | None = None
    disposition: Disposition
    not_before: UtcDateTime
    reason_code: str | None = None


def delivery_key(event_id: str, recipient_id: str, channel: Channel) -> str:
    return f"{event_id}|{recipient_id}|{channel.value}"


def delivery_id_of(key: str) -> str:
    return str(uuid.uuid5(DELIVERY_NAMESPACE, key))


def plan_deliveries(
    event_type: str,
    event_id: str,
    payload: Mapping[str, Any],
    directory: RecipientDirectory,
    rules: Sequence[RoutingRule],
    preferences: Mapping[str, Preferences],
    now: datetime,
) -> list[PlannedDelivery]:
    """Every delivery the event calls for, in rule order; a key already planned by an
    earlier rule is not planned again (the first, usually stricter, rule wins)."""
    planned: dict[str, PlannedDelivery] = {}
    for rule in rules:
        if not rule.applies_to(event_type, payload):
            continue
        excluded = rule.excluded(payload)
        for selector in rule.selectors:
            audiences, missing_field = _resolve(selector, payload, directory)
            if missing_field is not None:
                for channel in rule.channels:
                    _keep(planned, _unresolved(rule, selector, missing_field, channel, event_id, event_type, now))
                continue
            for audience in audiences:
                if audience.recipient_id in excluded:
                    continue
                prefs = preferences.get(audience.recipient_id) or Preferences.defaults(audience.recipient_id)
                for channel in rule.channels:
                    for plan in _plan_channel(rule, audience, channel, prefs, directory, event_id, event_type, now):
                        _keep(planned, plan)
    return list(planned.values())


def _keep(planned: dict[str, PlannedDelivery], plan: PlannedDelivery) -> None:
    planned.setdefault(plan.delivery_key, plan)


def _resolve(
    selector: str, payload: Mapping[str, Any], directory: RecipientDirectory
) -> tuple[list[Audience], str | None]:
    """The audiences a selector names, or the payload field it needed and did not find."""
    if selector.startswith(ROLE_GROUP_PREFIX):
        return directory.group_audiences(RoleGroup(selector.removeprefix(ROLE_GROUP_PREFIX))), None
    kind = SelectorKind(selector)
    if kind in PERSON_SELECTORS:
        member_id = payload.get(SELECTOR_FIELDS[kind])
        if not isinstance(member_id, str) or not member_id:
            return [], SELECTOR_FIELDS[kind]
        return [directory.member_audience(member_id)], None
    if kind is SelectorKind.ALL_PARTNERS:
        partner_ids: Iterable[str] = directory.active_partner_ids()
    elif kind is SelectorKind.GRANTING_AGENCY and payload.get(SELECTOR_FIELDS[kind]) is None:
        return [], None  # a special-fund award has no agency: funding hears of the revocation itself
    else:
        field = SELECTOR_FIELDS[kind]
        value = payload.get(field)
        if isinstance(value, str) and value:
            partner_ids = [value]
        elif isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
            partner_ids = sorted(set(value))
        else:
            return [], field
    return [directory.partner_audience(pid) or _unknown_partner(pid) for pid in partner_ids], None


def _unknown_partner(partner_id: str) -> Audience:
    """A partner without a contact on file still has an inbox; its e-mail is unroutable."""
    return Audience(
        recipient_id=partner_recipient_id(partner_id),
        name=partner_id,
        partner_id=partner_id,
        email=None,
        locale=Locale.ZH_CN,
        time_zone=DEFAULT_TIME_ZONE,
    )


def _plan_channel(
    rule: RoutingRule,
    audience: Audience,
    channel: Channel,
    prefs: Preferences,
    directory: RecipientDirectory,
    event_id: str,
    event_type: str,
    now: datetime,
) -> list[PlannedDelivery]:
    def plan(
        disposition: Disposition,
        *,
        recipient_id: str = audience.recipient_id,
        address: str | None = None,
        endpoint_id: str | None = None,
        not_before: datetime = now,
        reason_code: str | None = None,
    ) -> PlannedDelivery:
        key = delivery_key(event_id, recipient_id, channel)
        return PlannedDelivery(
            delivery_key=key,
            delivery_id=delivery_id_of(key),
            event_id=event_id,
            event_type=event_type,
            recipient_id=recipient_id,
            audience_id=audience.recipient_id,
            partner_id=audience.partner_id,
            recipient_name=audience.name,
            channel=channel,
            category=rule.category,
            template=rule.template,
            locale=audience.locale,
            time_zone=audience.time_zone,
            address=address,
            endpoint_id=endpoint_id,
            disposition=disposition,
            not_before=not_before,
            reason_code=reason_code,
        )

    if channel is Channel.WEBHOOK:
        if audience.partner_id is None:
            return []
        endpoints = directory.verified_endpoints(audience.partner_id)
        if not prefs.allows(rule.category, channel):
            return [
                plan(
                    Disposition.SKIP,
                    recipient_id=e.recipient_id,
                    endpoint_id=e.endpoint_id,
                    reason_code="preferences.muted",
                )
                for e in endpoints
            ]
        return [
            plan(Disposition.SEND, recipient_id=e.recipient_id, address=e.url, endpoint_id=e.endpoint_id)
            for e in endpoints
        ]
    if not prefs.allows(rule.category, channel):
        return [plan(Disposition.SKIP, reason_code="preferences.muted")]
    if channel is Channel.INBOX:
        return [plan(Disposition.SEND)]
    if audience.email is None:
        return [plan(Disposition.UNROUTABLE, reason_code="recipient.no_email")]
    if rule.category is Category.DIGEST_ONLY:
        return [plan(Disposition.DIGEST, address=audience.email)]
    release = prefs.quiet_hours.release_at(now, audience.time_zone) if prefs.quiet_hours else None
    if release is not None:
        return [plan(Disposition.DELAY, address=audience.email, not_before=release, reason_code="quiet_hours")]
    return [plan(Disposition.SEND, address=audience.email)]


def _unresolved(
    rule: RoutingRule,
    selector: str,
    missing_field: str,
    channel: Channel,
    event_id: str,
    event_type: str,
    now: datetime,
) -> PlannedDelivery:
    """A selector whose payload field is missing: recorded, so a contract mismatch shows in the log."""
    recipient_id = f"unresolved:{selector}"
    key = delivery_key(event_id, recipient_id, channel)
    return PlannedDelivery(
        delivery_key=key,
        delivery_id=delivery_id_of(key),
        event_id=event_id,
        event_type=event_type,
        recipient_id=recipient_id,
        audience_id=recipient_id,
        partner_id=None,
        recipient_name=selector,
        channel=channel,
        category=rule.category,
        template=rule.template,
        locale=Locale.ZH_CN,
        time_zone=DEFAULT_TIME_ZONE,
        address=None,
        disposition=Disposition.UNROUTABLE,
        not_before=now,
        reason_code=f"routing.missing_field.{missing_field}",
    )
