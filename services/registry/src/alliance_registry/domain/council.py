"""The Council aggregate: the alliance's governing council and its seats.

Seats (chair, vice chair, director, supervisor) are held by admitted member
organisations, one seat per organisation, each with a representative and a term. Once
constituted, the council always keeps at least one college seat, one enterprise seat
and one seat of a government agency or an industry association: a change that would
break that is refused with ``council.composition``. There is at most one chair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.domain.common import require_reason, storable
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.registry import CouncilChange, CouncilChanged, CouncilPosition, CouncilSeatView
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import DomainError, NotFound

#: Each group must hold at least one seat; a seat counts for the group of its holder's kind.
REQUIRED_SEAT_GROUPS: Mapping[str, frozenset[PartnerKind]] = {
    "college": frozenset({PartnerKind.COLLEGE}),
    "enterprise": frozenset({PartnerKind.ENTERPRISE}),
    "government_agency_or_industry_association": frozenset(
        {PartnerKind.GOVERNMENT_AGENCY, PartnerKind.INDUSTRY_ASSOCIATION}
    ),
}


class SeatAssignment(BaseModel):
    """A seat to give: who holds it, as what, represented by whom, for which term."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: CouncilPosition
    partner_id: str = Field(min_length=1, max_length=100)
    representative: str = Field(min_length=1, max_length=200)
    term_start: date
    term_end: date


class Council(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    council_id: str = Field(min_length=1, max_length=100)
    seats: list[CouncilSeatView]
    constituted_at: UtcDateTime
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)

    @classmethod
    def constitute(
        cls,
        *,
        council_id: str,
        seats: Sequence[SeatAssignment],
        members: Mapping[str, PartnerKind],
        reason: str,
        now: datetime,
        actor_id: str,
    ) -> Council:
        """The first council. ``members``: the admitted members (partner id → kind) the use case found."""
        reason = require_reason(reason)
        new_seats = [_seat(assignment, members) for assignment in seats]
        _check(new_seats)
        council = cls(council_id=council_id, seats=_ordered(new_seats), constituted_at=now)
        council._announce(CouncilChange.CONSTITUTED, None, reason, now, actor_id)
        return council

    def assign_seat(
        self,
        assignment: SeatAssignment,
        *,
        members: Mapping[str, PartnerKind],
        reason: str,
        now: datetime,
        actor_id: str,
    ) -> None:
        """Give a seat to a member; a member that already holds one gets the new position, representative and term."""
        reason = require_reason(reason)
        seat = _seat(assignment, members)
        new_seats = [s for s in self.seats if s.partner_id != seat.partner_id] + [seat]
        _check(new_seats)
        self.seats = _ordered(new_seats)
        self._announce(CouncilChange.SEAT_ASSIGNED, seat.partner_id, reason, now, actor_id)

    def vacate_seat(self, partner_id: str, *, reason: str, now: datetime, actor_id: str) -> None:
        """Free the seat ``partner_id`` holds (e.g. at the end of a term, or after expulsion)."""
        reason = require_reason(reason)
        if all(s.partner_id != partner_id for s in self.seats):
            raise NotFound("council.no_seat", f"partner {partner_id} holds no council seat")
        new_seats = [s for s in self.seats if s.partner_id != partner_id]
        _check(new_seats)
        self.seats = new_seats
        self._announce(CouncilChange.SEAT_VACATED, partner_id, reason, now, actor_id)

    def seats_in_term(self, on: date) -> list[CouncilSeatView]:
        return [s for s in self.seats if s.term_start <= on <= s.term_end]

    def to_document(self) -> dict[str, Any]:
        return storable(self.model_dump(mode="python"))

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Council:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})

    def _announce(
        self, change: CouncilChange, partner_id: str | None, reason: str, now: datetime, actor_id: str
    ) -> None:
        self.events.append(
            CouncilChanged(
                council_id=self.council_id,
                change=change,
                partner_id=partner_id,
                seats=tuple(self.seats),
                reason=reason,
                occurred_at=now,
                actor_id=actor_id,
            )
        )


def missing_seat_groups(seats: Sequence[CouncilSeatView]) -> list[str]:
    """The required groups (see ``REQUIRED_SEAT_GROUPS``) that hold no seat."""
    kinds = {s.partner_kind for s in seats}
    return [group for group, group_kinds in REQUIRED_SEAT_GROUPS.items() if not kinds & group_kinds]


def _seat(assignment: SeatAssignment, members: Mapping[str, PartnerKind]) -> CouncilSeatView:
    kind = members.get(assignment.partner_id)
    if kind is None:
        raise DomainError(
            "council.not_a_member",
            f"partner {assignment.partner_id} is not an admitted member of the alliance",
            partner_id=assignment.partner_id,
        )
    if assignment.term_end <= assignment.term_start:
        raise DomainError("council.term_invalid", "a term ends after it starts", partner_id=assignment.partner_id)
    return CouncilSeatView(partner_kind=kind, **assignment.model_dump())


def _check(seats: Sequence[CouncilSeatView]) -> None:
    holders = [s.partner_id for s in seats]
    duplicates = sorted({p for p in holders if holders.count(p) > 1})
    if duplicates:
        raise DomainError("council.duplicate_partner", "a member holds at most one seat", partner_ids=duplicates)
    if sum(1 for s in seats if s.position is CouncilPosition.CHAIR) > 1:
        raise DomainError("council.single_chair", "the council has at most one chair")
    missing = missing_seat_groups(seats)
    if missing:
        raise DomainError(
            "council.composition",
            "the council must keep at least one college, one enterprise and one government agency or "
            f"industry association seat; missing: {', '.join(missing)}",
            missing=missing,
        )


_POSITION_ORDER = {position: rank for rank, position in enumerate(CouncilPosition)}


def _ordered(seats: Sequence[CouncilSeatView]) -> list[CouncilSeatView]:
    return sorted(seats, key=lambda s: (_POSITION_ORDER[s.position], s.partner_id))
