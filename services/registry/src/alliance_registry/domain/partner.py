"""The Partner aggregate: an organisation registered with the alliance.

Five kinds (``PartnerKind``). Colleges also carry a level and the majors they offer,
enterprises a size class and headcount; the other kinds carry neither. Contacts are
personal data: ``public_view`` leaves them out, and of the events only
``partner.registered`` / ``partner.updated`` carry them (for the notifications
service's recipient directory).

Lifecycle: active ──deactivate──▶ deactivated (final; a deactivated partner cannot be
changed, join agreements or apply for certification).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.domain.codes import validate_major_codes, validate_region_code, validate_sector_code
from alliance_registry.domain.common import require_reason
from alliance_registry.domain.credit_code import validate_credit_code
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.registry import (
    CollegeProfileView,
    ContactView,
    EnterpriseProfileView,
    PartnerDeactivated,
    PartnerRegistered,
    PartnerStatus,
    PartnerUpdated,
)
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError, InvalidTransition, PreconditionFailed

MAX_CONTACTS = 20


class PartnerDetails(BaseModel):
    """What the registry records about an organisation, apart from its contacts."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: PartnerKind
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    credit_code: str
    region_code: str
    sector_code: str
    address: str = Field(min_length=1, max_length=500)
    website: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=500)
    college: CollegeProfileView | None = None
    enterprise: EnterpriseProfileView | None = None


class PartnerSummary(BaseModel):
    """What other aggregates need to know of a partner (agreements, certification, council)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str
    kind: PartnerKind
    region_code: str
    name: str
    active: bool


class Partner(PartnerDetails):
    partner_id: str = Field(min_length=1, max_length=100)
    contacts: tuple[ContactView, ...] = Field(default=(), max_length=MAX_CONTACTS)
    status: PartnerStatus = PartnerStatus.ACTIVE
    registered_at: UtcDateTime
    updated_at: UtcDateTime
    deactivated_at: UtcDateTime | None = None
    deactivation_reason: str | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def register(
        cls,
        *,
        partner_id: str,
        details: PartnerDetails,
        contacts: Sequence[ContactView],
        now: datetime,
        actor_id: str,
    ) -> Partner:
        """A new, active partner; DomainError (with ``field``) when a code or the kind's profile is invalid."""
        details = _checked(details)
        partner = cls(
            partner_id=partner_id,
            **details.model_dump(),
            contacts=_check_contacts(contacts),
            registered_at=now,
            updated_at=now,
        )
        partner.events.append(
            PartnerRegistered(**partner._profile(), contacts=partner.contacts, occurred_at=now, actor_id=actor_id)
        )
        return partner

    def update(self, details: PartnerDetails, *, expected_version: int, now: datetime, actor_id: str) -> None:
        """Replace the profile. The kind cannot change; a stale ``expected_version`` is refused (412)."""
        self._check_changeable("update", expected_version)
        if details.kind is not self.kind:
            raise DomainError("partner.kind_fixed", "a partner's kind cannot change", field="kind")
        details = _checked(details)
        new_values = details.model_dump()
        changed = tuple(name for name, value in new_values.items() if getattr(self, name) != getattr(details, name))
        if not changed:
            return
        for name in changed:
            setattr(self, name, new_values[name])
        self._announce_update(changed, now, actor_id)

    def update_contacts(
        self, contacts: Sequence[ContactView], *, expected_version: int, now: datetime, actor_id: str
    ) -> None:
        """Replace the contact list (personal data; announced in ``partner.updated`` only)."""
        self._check_changeable("update the contacts of", expected_version)
        new_contacts = _check_contacts(contacts)
        if new_contacts == self.contacts:
            return
        self.contacts = new_contacts
        self._announce_update(("contacts",), now, actor_id)

    def deactivate(self, reason: str, *, now: datetime, actor_id: str) -> None:
        if self.status is not PartnerStatus.ACTIVE:
            raise InvalidTransition("partner", self.status, "deactivate")
        reason = require_reason(reason)
        self.status = PartnerStatus.DEACTIVATED
        self.deactivated_at = now
        self.deactivation_reason = reason
        self.updated_at = now
        self.events.append(PartnerDeactivated(**self._profile(), reason=reason, occurred_at=now, actor_id=actor_id))

    @property
    def is_active(self) -> bool:
        return self.status is PartnerStatus.ACTIVE

    def summary(self) -> PartnerSummary:
        return PartnerSummary(
            partner_id=self.partner_id,
            kind=self.kind,
            region_code=self.region_code,
            name=self.name_zh,
            active=self.is_active,
        )

    def public_view(self) -> dict[str, Any]:
        """The profile anyone in the alliance may see: everything but the contacts (personal data)."""
        return self.model_dump(mode="json", exclude={"contacts", "version"})

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Partner:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})

    def _check_changeable(self, action: str, expected_version: int) -> None:
        if expected_version != self.version:
            raise PreconditionFailed(
                "partner.version_mismatch",
                f"partner {self.partner_id} is at version {self.version}, not {expected_version}",
                current_version=self.version,
            )
        if self.status is not PartnerStatus.ACTIVE:
            raise InvalidTransition("partner", self.status, action)

    def _announce_update(self, changed: tuple[str, ...], now: datetime, actor_id: str) -> None:
        self.updated_at = now
        self.events.append(
            PartnerUpdated(
                **self._profile(),
                contacts=self.contacts,
                changed_fields=changed,
                occurred_at=now,
                actor_id=actor_id,
            )
        )

    def _profile(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "status": self.status,
            **{name: getattr(self, name) for name in PartnerDetails.model_fields},
        }


def _checked(details: PartnerDetails) -> PartnerDetails:
    """``details`` with the majors normalised (sorted, unique); DomainError when a rule fails."""
    validate_credit_code(details.credit_code)
    validate_region_code(details.region_code)
    validate_sector_code(details.sector_code)
    is_college = details.kind is PartnerKind.COLLEGE
    is_enterprise = details.kind is PartnerKind.ENTERPRISE
    if is_college != (details.college is not None):
        raise DomainError(
            "partner.profile_mismatch", "a college, and only a college, has a college profile", field="college"
        )
    if is_enterprise != (details.enterprise is not None):
        raise DomainError(
            "partner.profile_mismatch",
            "an enterprise, and only an enterprise, has an enterprise profile",
            field="enterprise",
        )
    if details.college is None:
        return details
    majors = validate_major_codes(details.college.majors, "college.majors")
    return details.model_copy(update={"college": details.college.model_copy(update={"majors": majors})})


def _check_contacts(contacts: Sequence[ContactView]) -> tuple[ContactView, ...]:
    if len(contacts) > MAX_CONTACTS:
        raise DomainError("partner.too_many_contacts", f"at most {MAX_CONTACTS} contacts", field="contacts")
    return tuple(contacts)
