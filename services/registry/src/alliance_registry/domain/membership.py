"""The Membership aggregate: one partner's membership of the alliance.

    applied ──admit──▶ admitted ──suspend──▶ suspended ──reinstate──▶ admitted
       │ └──reject──▶ rejected ──apply again──▶ applied
       │                  │                      │
       └──withdraw──▶ withdrawn ◀──withdraw──────┤   (from applied, admitted, suspended)
                          expelled ◀──expel──────┘   (from admitted, suspended)

The admin decides an application (admit or reject) with a reason. Withdrawn and expelled
are final; a rejected partner may apply again on the same record. Every transition records its reason, actor and time
in ``history`` and announces itself with ``membership.changed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.domain.common import require_reason
from alliance_registry.domain.partner import PartnerSummary
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.registry import MembershipAction, MembershipChanged, MembershipStatus
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError, InvalidTransition

#: action → (states it may start from, state it leads to)
TRANSITIONS: Mapping[MembershipAction, tuple[frozenset[MembershipStatus], MembershipStatus]] = {
    MembershipAction.ADMIT: (frozenset({MembershipStatus.APPLIED}), MembershipStatus.ADMITTED),
    MembershipAction.REJECT: (frozenset({MembershipStatus.APPLIED}), MembershipStatus.REJECTED),
    MembershipAction.APPLY: (frozenset({MembershipStatus.REJECTED}), MembershipStatus.APPLIED),
    MembershipAction.SUSPEND: (frozenset({MembershipStatus.ADMITTED}), MembershipStatus.SUSPENDED),
    MembershipAction.REINSTATE: (frozenset({MembershipStatus.SUSPENDED}), MembershipStatus.ADMITTED),
    MembershipAction.WITHDRAW: (
        frozenset({MembershipStatus.APPLIED, MembershipStatus.ADMITTED, MembershipStatus.SUSPENDED}),
        MembershipStatus.WITHDRAWN,
    ),
    MembershipAction.EXPEL: (
        frozenset({MembershipStatus.ADMITTED, MembershipStatus.SUSPENDED}),
        MembershipStatus.EXPELLED,
    ),
}


class MembershipStep(BaseModel):
    """One transition in a membership's history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: MembershipAction
    from_status: MembershipStatus | None
    to_status: MembershipStatus
    reason: str
    actor_id: str
    at: UtcDateTime


class Membership(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    partner_id: str = Field(min_length=1, max_length=100)
    partner_kind: PartnerKind
    status: MembershipStatus
    history: list[MembershipStep]
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def apply(cls, partner: PartnerSummary, *, reason: str, now: datetime, actor_id: str) -> Membership:
        """A partner applies to join; a deactivated partner cannot."""
        if not partner.active:
            raise DomainError("membership.inactive_partner", f"partner {partner.partner_id} is deactivated")
        membership = cls(
            partner_id=partner.partner_id, partner_kind=partner.kind, status=MembershipStatus.APPLIED, history=[]
        )
        membership._record(MembershipAction.APPLY, None, MembershipStatus.APPLIED, reason, now, actor_id)
        return membership

    def apply_again(self, partner: PartnerSummary, *, reason: str, now: datetime, actor_id: str) -> None:
        """A rejected applicant applies again; any other existing membership refuses it."""
        if not partner.active:
            raise DomainError("membership.inactive_partner", f"partner {partner.partner_id} is deactivated")
        self._move(MembershipAction.APPLY, reason, now, actor_id)

    def reject(self, *, reason: str, now: datetime, actor_id: str) -> None:
        self._move(MembershipAction.REJECT, reason, now, actor_id)

    def admit(self, *, reason: str, now: datetime, actor_id: str) -> None:
        self._move(MembershipAction.ADMIT, reason, now, actor_id)

    def suspend(self, *, reason: str, now: datetime, actor_id: str) -> None:
        self._move(MembershipAction.SUSPEND, reason, now, actor_id)

    def reinstate(self, *, reason: str, now: datetime, actor_id: str) -> None:
        self._move(MembershipAction.REINSTATE, reason, now, actor_id)

    def withdraw(self, *, reason: str, now: datetime, actor_id: str) -> None:
        self._move(MembershipAction.WITHDRAW, reason, now, actor_id)

    def expel(self, *, reason: str, now: datetime, actor_id: str) -> None:
        self._move(MembershipAction.EXPEL, reason, now, actor_id)

    @property
    def is_member(self) -> bool:
        """Admitted: may hold a council seat."""
        return self.status is MembershipStatus.ADMITTED

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Membership:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})

    def _move(self, action: MembershipAction, reason: str, now: datetime, actor_id: str) -> None:
        allowed_from, target = TRANSITIONS[action]
        if self.status not in allowed_from:
            raise InvalidTransition("membership", self.status, action.value)
        self._record(action, self.status, target, reason, now, actor_id)

    def _record(
        self,
        action: MembershipAction,
        from_status: MembershipStatus | None,
        to_status: MembershipStatus,
        reason: str,
        now: datetime,
        actor_id: str,
    ) -> None:
        reason = require_reason(reason)
        self.status = to_status
        self.history.append(
            MembershipStep(
                action=action, from_status=from_status, to_status=to_status, reason=reason, actor_id=actor_id, at=now
            )
        )
        self.events.append(
            MembershipChanged(
                partner_id=self.partner_id,
                partner_kind=self.partner_kind,
                action=action,
                from_status=from_status,
                to_status=to_status,
                reason=reason,
                occurred_at=now,
                actor_id=actor_id,
            )
        )
