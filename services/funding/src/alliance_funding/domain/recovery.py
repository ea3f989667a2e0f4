"""Recoveries: money ordered back from a recipient, and how it was settled.

A recovery is settled, in one or several parts, by the recipient's repayment (with a
bank reference) or by offset against an approved, not yet paid tranche of the same
award. It is open while anything is outstanding.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.funding import SettlementMethod


class Settlement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    settlement_id: str = Field(min_length=1, max_length=100)
    method: SettlementMethod
    amount_minor: int = Field(strict=True, gt=0)
    bank_reference: str | None = None
    tranche_id: str | None = None
    at: UtcDateTime
    actor_id: str


class Recovery(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    recovery_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    amount_minor: int = Field(strict=True, gt=0)
    reason: str
    due_at: UtcDateTime
    ordered_at: UtcDateTime
    ordered_by: str
    approved_by: str | None = Field(default=None, description="the second person who approved the order")
    settlements: tuple[Settlement, ...] = ()

    @property
    def settled_minor(self) -> int:
        return sum(settlement.amount_minor for settlement in self.settlements)

    @property
    def outstanding_minor(self) -> int:
        return self.amount_minor - self.settled_minor


class ProposedRecovery(BaseModel):
    """A recovery order an officer proposed (the maker); ordered when a second person approves."""

    model_config = ConfigDict(extra="forbid")

    recovery_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    amount_minor: int = Field(strict=True, gt=0)
    reason: str
    due_at: UtcDateTime
    proposed_at: UtcDateTime
    proposed_by: str


class ProposedTermination(BaseModel):
    """A termination an officer proposed (with the recovery it orders, if any); it takes
    effect when a second person approves it."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    recovery: ProposedRecovery | None = None
    proposed_at: UtcDateTime
    proposed_by: str
