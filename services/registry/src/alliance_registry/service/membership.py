"""Alliance membership: one record per partner, keyed by partner id."""

from __future__ import annotations

from typing import Literal

from alliance_registry.domain.membership import Membership
from alliance_registry.service.repositories import Repositories
from alliance_shared.clock import Clock
from alliance_shared.contract.registry import MembershipStatus
from alliance_shared.errors import Conflict
from alliance_shared.persistence import write_path
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome

MembershipAction = Literal["admit", "reject", "suspend", "reinstate", "withdraw", "expel"]
NOT_FOUND = ("membership.not_found", "membership of partner")


async def apply(repos: Repositories, clock: Clock, partner_id: str, reason: str, actor_id: str) -> Outcome[Membership]:
    """The partner applies to join (again, after a rejection); 409 when it has any other
    membership record (withdrawn and expelled are final)."""
    partner = await repos.partners.require(partner_id, "partner.not_found", "partner")

    def decide(existing: Loaded[Membership] | None) -> Decision[Membership]:
        if existing is not None and existing.item.status is MembershipStatus.REJECTED:
            membership = existing.item
            membership.apply_again(partner.item.summary(), reason=reason, now=clock.now(), actor_id=actor_id)
            after = {"status": "applied", "reason": reason}
            return Decision(
                membership, AuditNote("membership.applied", "membership", partner_id, {"status": "rejected"}, after)
            )
        if existing is not None:
            raise Conflict(
                "membership.exists",
                f"partner {partner_id} already has a membership; withdrawn and expelled memberships are final",
            )
        membership = Membership.apply(partner.item.summary(), reason=reason, now=clock.now(), actor_id=actor_id)
        after = {"status": "applied", "reason": reason}
        return Decision(membership, AuditNote("membership.applied", "membership", partner_id, None, after))

    return await write_path.execute(repos.memberships, partner_id, decide)


async def change_status(
    repos: Repositories,
    clock: Clock,
    partner_id: str,
    action: MembershipAction,
    reason: str,
    expected: int | None,
    actor_id: str,
) -> Outcome[Membership]:
    """Admit, reject, suspend, reinstate, withdraw or expel; 409 ``membership.illegal_transition``
    when the lifecycle does not allow ``action`` now."""

    def decide(membership: Membership) -> Decision[Membership]:
        before = membership.status.value
        getattr(membership, action)(reason=reason, now=clock.now(), actor_id=actor_id)
        after = {"status": membership.status.value, "reason": reason}
        return Decision(
            membership, AuditNote(f"membership.{action}", "membership", partner_id, {"status": before}, after)
        )

    return await write_path.update(repos.memberships, partner_id, decide, not_found=NOT_FOUND, expected=expected)
