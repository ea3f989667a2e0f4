"""Who can be notified: partner contacts, role-group members and their addresses.

The directory is a local read model — services share no database, so each keeps the
copy of other services' data it needs, fed by their events (docs/architecture.md):
partner contacts come from the registry's ``partner.*`` events, role groups are
maintained by registry admins in this service. Recipient ids are namespaced so they
never collide: ``partner:<partner id>`` for a partner's contact and inbox,
``member:<member id>`` for a role-group member.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_shared.errors import DomainError

DEFAULT_TIME_ZONE = "Asia/Shanghai"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Locale(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


class RoleGroup(StrEnum):
    FUNDING_OFFICERS = "funding_officers"
    FUNDING_APPROVERS = "funding_approvers"
    SUPERVISORS = "supervisors"
    REGISTRY_ADMINS = "registry_admins"


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; DomainError ``recipient.unknown_time_zone`` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError("recipient.unknown_time_zone", f"unknown IANA time zone {name!r}") from None


def _valid_time_zone(name: str) -> str:
    try:
        zone(name)
    except DomainError as error:
        raise ValueError(error.detail) from None
    return name


def _valid_email(address: str) -> str:
    if not _EMAIL.match(address):
        raise ValueError(f"{address!r} is not an e-mail address")
    return address


TimeZoneName = Annotated[str, AfterValidator(_valid_time_zone)]
EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(_valid_email)]


def partner_recipient_id(partner_id: str) -> str:
    return f"partner:{partner_id}"


def member_recipient_id(member_id: str) -> str:
    return f"member:{member_id}"


class PartnerContact(BaseModel):
    """The person a partner named to receive the platform's notices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partner_id: str = Field(min_length=1, max_length=100)
    contact_name: str = Field(min_length=1, max_length=200)
    email: EmailAddress | None = None
    phone: str | None = Field(default=None, max_length=40)
    locale: Locale = Locale.ZH_CN
    time_zone: TimeZoneName = DEFAULT_TIME_ZONE
    active: bool = True

    @property
    def recipient_id(self) -> str:
        return partner_recipient_id(self.partner_id)


class GroupMember(BaseModel):
    """A platform user in a role group (funding officer, approver, supervisor, registry admin)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    member_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    email: EmailAddress
    locale: Locale = Locale.ZH_CN
    time_zone: TimeZoneName = DEFAULT_TIME_ZONE

    @property
    def recipient_id(self) -> str:
        return member_recipient_id(self.member_id)


class RoleGroupRoster(BaseModel):
    """The members of one role group, replaced as a whole (a member listed twice counts once)."""

    model_config = ConfigDict(extra="forbid")

    group: RoleGroup
    members: list[GroupMember] = Field(default_factory=list)

    @classmethod
    def replace(cls, group: RoleGroup, members: Iterable[GroupMember]) -> RoleGroupRoster:
        return cls(group=group, members=list({m.member_id: m for m in members}.values()))


class Audience(BaseModel):
    """One person or organisation a notice is for, before it is split into channels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recipient_id: str
    name: str
    partner_id: str | None
    email: str | None
    locale: Locale
    time_zone: str
    active: bool = True


class RecipientDirectory(BaseModel):
    """Contacts by partner id, members by role group and webhook endpoints by id: the
    view routing reads. The notifier assembles it from its repositories (one aggregate per
    contact, group and endpoint).

    Registry events about partners are applied with ``apply_registry_event``: it reads
    ``partner_id``, ``name_zh`` / ``name_en`` and ``contacts`` (the complete list of
    ``name``, ``email``, ``phone``, ``position``, ``locale``) of ``partner.registered`` and
    ``partner.updated`` (``alliance_shared.contract.registry``). The first contact listed
    is the partner's recipient of notices; a partner without contacts keeps an inbox and
    its e-mail is unroutable. The registry carries no time zone: a contact keeps the one
    it had (Asia/Shanghai by default).
    """

    model_config = ConfigDict(extra="forbid")

    contacts: dict[str, PartnerContact] = Field(default_factory=dict)
    groups: dict[RoleGroup, list[GroupMember]] = Field(default_factory=dict)
    endpoints: dict[str, WebhookEndpoint] = Field(default_factory=dict)

    def upsert_contact(self, contact: PartnerContact) -> None:
        self.contacts[contact.partner_id] = contact

    def set_group_members(self, group: RoleGroup, members: Iterable[GroupMember]) -> None:
        unique: dict[str, GroupMember] = {}
        for member in members:
            unique[member.member_id] = member
        self.groups[group] = list(unique.values())

    def apply_registry_event(self, event_type: str, payload: Mapping[str, Any]) -> bool:
        """Fold a registry ``partner.*`` event into the directory; False when it is not one."""
        short = _short_type(event_type)
        partner_id = payload.get("partner_id")
        if not isinstance(partner_id, str):
            return False
        if short in ("registry.partner.registered", "registry.partner.updated"):
            self.upsert_contact(_contact_from_partner_payload(partner_id, payload, self.contacts.get(partner_id)))
            return True
        if short == "registry.partner.deactivated":
            existing = self.contacts.get(partner_id)
            if existing is not None:
                self.contacts[partner_id] = existing.model_copy(update={"active": False})
            return True
        return False

    def partner_audience(self, partner_id: str) -> Audience | None:
        contact = self.contacts.get(partner_id)
        if contact is None:
            return None
        return Audience(
            recipient_id=contact.recipient_id,
            name=contact.contact_name,
            partner_id=partner_id,
            email=contact.email,
            locale=contact.locale,
            time_zone=contact.time_zone,
            active=contact.active,
        )

    def group_audiences(self, group: RoleGroup) -> list[Audience]:
        return [
            Audience(
                recipient_id=member.recipient_id,
                name=member.name,
                partner_id=None,
                email=member.email,
                locale=member.locale,
                time_zone=member.time_zone,
            )
            for member in self.groups.get(group, [])
        ]

    def member_audience(self, member_id: str) -> Audience:
        """A person by id: as a role-group member if they are one (first group in
        ``RoleGroup`` order), else an inbox-only audience (no e-mail address known)."""
        for group in RoleGroup:
            for member in self.groups.get(group, []):
                if member.member_id == member_id:
                    return Audience(
                        recipient_id=member.recipient_id,
                        name=member.name,
                        partner_id=None,
                        email=member.email,
                        locale=member.locale,
                        time_zone=member.time_zone,
                    )
        return Audience(
            recipient_id=member_recipient_id(member_id),
            name=member_id,
            partner_id=None,
            email=None,
            locale=Locale.ZH_CN,
            time_zone=DEFAULT_TIME_ZONE,
        )

    def active_partner_ids(self) -> list[str]:
        return sorted(pid for pid, contact in self.contacts.items() if contact.active)

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self.endpoints[endpoint.endpoint_id] = endpoint

    def verified_endpoints(self, partner_id: str) -> list[WebhookEndpoint]:
        return sorted(
            (e for e in self.endpoints.values() if e.partner_id == partner_id and e.receives_notices),
            key=lambda e: e.endpoint_id,
        )


def _short_type(event_type: str) -> str:
    """``org.coopalliance.registry.partner.updated.v1`` → ``registry.partner.updated``."""
    parts = event_type.split(".")
    return ".".join(parts[2:-1]) if len(parts) == 6 else event_type


def _contact_from_partner_payload(
    partner_id: str, payload: Mapping[str, Any], existing: PartnerContact | None
) -> PartnerContact:
    """The partner's recipient from a ``partner.registered`` / ``partner.updated`` payload."""
    contacts = payload.get("contacts")
    primary = contacts[0] if isinstance(contacts, list | tuple) and contacts else None
    fields: dict[str, Any] = {
        "partner_id": partner_id,
        "time_zone": existing.time_zone if existing is not None else DEFAULT_TIME_ZONE,
        "active": True,
    }
    partner_name = payload.get("name_zh") or payload.get("name_en")
    if isinstance(primary, Mapping):
        fields["contact_name"] = primary.get("name") or partner_name or partner_id
        fields["email"] = primary.get("email")
        fields["phone"] = primary.get("phone")
        fields["locale"] = primary.get("locale") or Locale.ZH_CN
    else:
        # No contact (any more): the partner keeps an inbox, its e-mail becomes unroutable.
        fields["contact_name"] = (partner_name or (existing.contact_name if existing else None)) or partner_id
    return PartnerContact.model_validate(fields)
