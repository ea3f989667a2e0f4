"""Alliance membership (one per partner, keyed by partner id) and the council."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from alliance_registry.adapters.repositories import COUNCIL_ID, Loaded, Repositories
from alliance_registry.domain.council import Council, SeatAssignment
from alliance_registry.domain.membership import Membership
from alliance_registry.service.common import transition, utcnow
from alliance_shared.contract.registry import MembershipStatus
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import Conflict, NotFound
from alliance_shared.persistence.versioned_store import AuditNote

MembershipAction = Literal["admit", "suspend", "reinstate", "withdraw", "expel"]
NOT_FOUND = ("membership.not_found", "membership of partner")
COUNCIL_NOT_FOUND = ("council.not_constituted", "council")


async def apply(repos: Repositories, partner_id: str, reason: str, actor_id: str) -> Loaded[Membership]:
    """The partner applies to join; 409 when it already has a membership record."""
    partner = await repos.partners.require(partner_id, "partner.not_found", "partner")
    if await repos.memberships.get(partner_id) is not None:
        raise Conflict(
            "membership.exists",
            f"partner {partner_id} already has a membership; withdrawn and expelled memberships are final",
        )
    membership = Membership.apply(partner.item.summary(), reason=reason, now=utcnow(), actor_id=actor_id)
    await repos.memberships.store.create(
        partner_id,
        repos.memberships.state_of(membership),
        list(membership.events),
        AuditNote("membership.applied", "membership", partner_id, None, {"status": "applied", "reason": reason}),
    )
    membership.version = 1
    membership.events.clear()
    return Loaded(membership, 1)


async def get(repos: Repositories, partner_id: str) -> Loaded[Membership]:
    return await repos.memberships.require(partner_id, *NOT_FOUND)


async def move(
    repos: Repositories,
    partner_id: str,
    action: MembershipAction,
    reason: str,
    expected: int | None,
    actor_id: str,
) -> Loaded[Membership]:
    def decide(membership: Membership) -> AuditNote:
        before = membership.status.value
        getattr(membership, action)(reason=reason, now=utcnow(), actor_id=actor_id)
        return AuditNote(
            f"membership.{action}",
            "membership",
            partner_id,
            {"status": before},
            {"status": membership.status.value, "reason": reason},
        )

    return await transition(repos.memberships, partner_id, not_found=NOT_FOUND, expected=expected, decide=decide)


async def admitted_members(repos: Repositories) -> dict[str, PartnerKind]:
    members = await repos.memberships.find({"status": MembershipStatus.ADMITTED.value})
    return {m.item.partner_id: m.item.partner_kind for m in members}


# --- council ---------------------------------------------------------------------------


async def get_council(repos: Repositories) -> Loaded[Council]:
    return await repos.council.require(COUNCIL_ID, *COUNCIL_NOT_FOUND)


async def constitute(
    repos: Repositories, seats: Sequence[SeatAssignment], reason: str, actor_id: str
) -> Loaded[Council]:
    if await repos.council.get(COUNCIL_ID) is not None:
        raise Conflict("council.exists", "the council is constituted; assign or vacate seats")
    council = Council.constitute(
        council_id=COUNCIL_ID,
        seats=seats,
        members=await admitted_members(repos),
        reason=reason,
        now=utcnow(),
        actor_id=actor_id,
    )
    await repos.council.store.create(
        COUNCIL_ID,
        repos.council.state_of(council),
        list(council.events),
        AuditNote("council.constituted", "council", COUNCIL_ID, None, {"seats": len(council.seats), "reason": reason}),
    )
    council.version = 1
    council.events.clear()
    return Loaded(council, 1)


async def assign_seat(
    repos: Repositories, assignment: SeatAssignment, reason: str, expected: int | None, actor_id: str
) -> Loaded[Council]:
    members = await admitted_members(repos)

    def decide(council: Council) -> AuditNote:
        before = next((s.position.value for s in council.seats if s.partner_id == assignment.partner_id), None)
        council.assign_seat(assignment, members=members, reason=reason, now=utcnow(), actor_id=actor_id)
        return AuditNote(
            "council.seat_assigned",
            "council",
            COUNCIL_ID,
            {"partner_id": assignment.partner_id, "position": before},
            {"partner_id": assignment.partner_id, "position": assignment.position.value, "reason": reason},
        )

    return await transition(repos.council, COUNCIL_ID, not_found=COUNCIL_NOT_FOUND, expected=expected, decide=decide)


async def vacate_seat(
    repos: Repositories, partner_id: str, reason: str, expected: int | None, actor_id: str
) -> Loaded[Council]:
    def decide(council: Council) -> AuditNote:
        seat = next((s for s in council.seats if s.partner_id == partner_id), None)
        if seat is None:
            raise NotFound("council.no_seat", f"partner {partner_id} holds no council seat")
        council.vacate_seat(partner_id, reason=reason, now=utcnow(), actor_id=actor_id)
        return AuditNote(
            "council.seat_vacated",
            "council",
            COUNCIL_ID,
            {"partner_id": partner_id, "position": seat.position.value},
            {"partner_id": partner_id, "position": None, "reason": reason},
        )

    return await transition(repos.council, COUNCIL_ID, not_found=COUNCIL_NOT_FOUND, expected=expected, decide=decide)
