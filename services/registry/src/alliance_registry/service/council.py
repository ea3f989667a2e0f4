"""The alliance council: constituted once, then seats assigned and vacated."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_registry.domain.council import Council, SeatAssignment
from alliance_registry.service.repositories import COUNCIL_ID, Repositories
from alliance_shared.clock import Clock
from alliance_shared.contract.registry import MembershipStatus
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import Conflict, NotFound
from alliance_shared.persistence import write_path
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome

NOT_FOUND = ("council.not_constituted", "council")


async def admitted_members(repos: Repositories) -> dict[str, PartnerKind]:
    """Who may hold a seat: admitted members and their kinds."""
    members = await repos.memberships.find({"status": MembershipStatus.ADMITTED.value})
    return {m.item.partner_id: m.item.partner_kind for m in members}


async def constitute(
    repos: Repositories, clock: Clock, seats: Sequence[SeatAssignment], reason: str, actor_id: str
) -> Outcome[Council]:
    """The first seats (≥ 1 college, ≥ 1 enterprise, ≥ 1 agency or association, ≤ 1 chair);
    409 ``council.exists`` once constituted."""
    members = await admitted_members(repos)

    def decide(existing: Loaded[Council] | None) -> Decision[Council]:
        if existing is not None:
            raise Conflict("council.exists", "the council is constituted; assign or vacate seats")
        council = Council.constitute(
            council_id=COUNCIL_ID, seats=seats, members=members, reason=reason, now=clock.now(), actor_id=actor_id
        )
        after = {"seats": len(council.seats), "reason": reason}
        return Decision(council, AuditNote("council.constituted", "council", COUNCIL_ID, None, after))

    return await write_path.execute(repos.council, COUNCIL_ID, decide)


async def assign_seat(
    repos: Repositories,
    clock: Clock,
    assignment: SeatAssignment,
    reason: str,
    expected: int | None,
    actor_id: str,
) -> Outcome[Council]:
    """Give an admitted member a seat, or change its position, representative or term."""
    members = await admitted_members(repos)

    def decide(council: Council) -> Decision[Council]:
        partner_id = assignment.partner_id
        before = next((s.position.value for s in council.seats if s.partner_id == partner_id), None)
        council.assign_seat(assignment, members=members, reason=reason, now=clock.now(), actor_id=actor_id)
        after = {"partner_id": partner_id, "position": assignment.position.value, "reason": reason}
        return Decision(
            council,
            AuditNote(
                "council.seat_assigned", "council", COUNCIL_ID, {"partner_id": partner_id, "position": before}, after
            ),
        )

    return await write_path.update(repos.council, COUNCIL_ID, decide, not_found=NOT_FOUND, expected=expected)


async def vacate_seat(
    repos: Repositories, clock: Clock, partner_id: str, reason: str, expected: int | None, actor_id: str
) -> Outcome[Council]:
    """Vacate a seat; 422 ``council.composition`` when the composition rule would break."""

    def decide(council: Council) -> Decision[Council]:
        seat = next((s for s in council.seats if s.partner_id == partner_id), None)
        if seat is None:
            raise NotFound("council.no_seat", f"partner {partner_id} holds no council seat")
        council.vacate_seat(partner_id, reason=reason, now=clock.now(), actor_id=actor_id)
        before = {"partner_id": partner_id, "position": seat.position.value}
        after = {"partner_id": partner_id, "position": None, "reason": reason}
        return Decision(council, AuditNote("council.seat_vacated", "council", COUNCIL_ID, before, after))

    return await write_path.update(repos.council, COUNCIL_ID, decide, not_found=NOT_FOUND, expected=expected)
