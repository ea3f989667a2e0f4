"""Tranches of an award: the schedule split and the state each tranche is in.

State machine (the Award aggregate drives it and emits the events)::

    scheduled ──condition met──▶ eligible ──request (maker)──▶ requested ──approve (checker)──▶ approved ──pay──▶ paid
                                   │  ▲                          │
                 hold added        ▼  │ all holds lifted          │ hold added
                                 withheld ◀───────────────────────┘
    scheduled / eligible / withheld / requested ──award terminated──▶ cancelled

Holds are why a tranche is withheld: ``evaluation`` (a result below the tranche's
grade), ``rectification:<order id>`` (an overdue rectification on the agreement) and
``agreement:suspended|terminated|completed_early`` (the agreement stopped; the award
keeps the registry's reason).
A withheld tranche is eligible again only when every hold is lifted; a request made
before the hold must be prepared again.

An approved tranche not yet paid stays approved (its money is disbursed in the book)
when the agreement stops, but its payment is held (``payment_holds``: the agreement's
hold): the payment cannot be confirmed until the agreement is reinstated or a second
person terminates the award (which decides what is still owed). Offsets of recoveries
against it remain possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.domain.programme import FULL_SHARE_BP, ReleaseCondition
from alliance_shared.contract.base import UtcDateTime

EVALUATION_HOLD = "evaluation"


def rectification_hold(order_id: str) -> str:
    return f"rectification:{order_id}"


def agreement_hold(how: str) -> str:
    """The hold of an agreement that stopped ``how``: suspended, terminated or completed_early."""
    return f"agreement:{how}"


def split_by_shares(amount_minor: int, shares_bp: Sequence[int]) -> list[int]:
    """Split an amount by basis-point shares that sum to 10000.

    Each share is rounded down; the last tranche takes the rounding remainder, so the
    parts always sum to exactly ``amount_minor``.
    """
    if sum(shares_bp) != FULL_SHARE_BP:
        raise ValueError(f"shares sum to {sum(shares_bp)}, not {FULL_SHARE_BP}")
    parts = [amount_minor * share // FULL_SHARE_BP for share in shares_bp[:-1]]
    return [*parts, amount_minor - sum(parts)]


class TrancheStatus(StrEnum):
    SCHEDULED = "scheduled"
    ELIGIBLE = "eligible"
    WITHHELD = "withheld"
    REQUESTED = "requested"
    APPROVED = "approved"
    PAID = "paid"
    CANCELLED = "cancelled"


#: States in which a tranche's release condition has been met but no money has moved.
RELEASED_UNAPPROVED = (TrancheStatus.ELIGIBLE, TrancheStatus.REQUESTED, TrancheStatus.WITHHELD)
#: States a termination cancels.
CANCELLABLE = (TrancheStatus.SCHEDULED, *RELEASED_UNAPPROVED)


class Tranche(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tranche_id: str = Field(min_length=1, max_length=100)
    sequence: int = Field(ge=1)
    name: str
    share_bp: int
    scheduled_minor: int = Field(strict=True, gt=0)
    release: ReleaseCondition
    status: TrancheStatus = TrancheStatus.SCHEDULED
    holds: tuple[str, ...] = ()
    payment_holds: tuple[str, ...] = Field(default=(), description="why an approved tranche may not be paid now")
    prepared_by: str | None = None
    requested_at: UtcDateTime | None = None
    approved_by: str | None = None
    approved_at: UtcDateTime | None = None
    approved_minor: int | None = None
    remainder_released: bool | None = None
    approval_reason: str | None = None
    offset_minor: int = Field(default=0, description="part of the approved amount that settled recoveries")
    paid_minor: int | None = Field(default=None, description="part of the approved amount paid in cash")
    bank_reference: str | None = None
    paid_at: UtcDateTime | None = None

    @property
    def remainder_minor(self) -> int:
        """What an approval for less than scheduled left over (0 before approval)."""
        return 0 if self.approved_minor is None else self.scheduled_minor - self.approved_minor

    @property
    def unpaid_approved_minor(self) -> int:
        """Approved but neither paid in cash nor offset yet."""
        if self.status is not TrancheStatus.APPROVED or self.approved_minor is None:
            return 0
        return self.approved_minor - self.offset_minor
