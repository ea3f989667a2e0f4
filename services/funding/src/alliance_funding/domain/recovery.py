"""Recoveries: money ordered back from a recipient, and how it was settled.

A recovery is settled, in one or several parts, by the recipient's repayment (with a
bank reference) or by offset against an approved, not yet paid tranche of the same
award, or what is outstanding is written off (proposed by an officer, approved by a
second person). It is open while anything is outstanding.

Deadlines act (``Award.check_recovery_deadlines``, run by the funding service's
scheduled pass): a reminder before ``due_at``, overdue once past it with something
outstanding, escalated once overdue for longer than the configured period. Each step is
recorded on the recovery (``reminded_at``, ``overdue_at``, ``escalated_at``) so it
happens once, however often the pass runs.
"""

from __future__ import annotations

from enum import StrEnum

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


class WriteOff(BaseModel):
    """What remained outstanding, written off: proposed by one person, approved by another."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_minor: int = Field(strict=True, gt=0)
    reason: str
    proposed_at: UtcDateTime
    proposed_by: str
    approved_at: UtcDateTime | None = None
    approved_by: str | None = None


class RecoveryStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    SETTLED = "settled"
    WRITTEN_OFF = "written_off"


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
    status: RecoveryStatus = RecoveryStatus.OPEN
    proposed_write_off: WriteOff | None = Field(default=None, description="awaiting a second person")
    write_off: WriteOff | None = Field(default=None, description="approved: the recovery is closed")
    reminded_at: UtcDateTime | None = None
    overdue_at: UtcDateTime | None = None
    escalated_at: UtcDateTime | None = None

    @property
    def settled_minor(self) -> int:
        return sum(settlement.amount_minor for settlement in self.settlements)

    @property
    def written_off_minor(self) -> int:
        return self.write_off.amount_minor if self.write_off else 0

    @property
    def outstanding_minor(self) -> int:
        return self.amount_minor - self.settled_minor - self.written_off_minor

    def refresh_status(self) -> None:
        """``status`` from the figures and the deadline steps taken (kept stored, for readers)."""
        if self.write_off is not None:
            self.status = RecoveryStatus.WRITTEN_OFF
        elif not self.outstanding_minor:
            self.status = RecoveryStatus.SETTLED
        else:
            self.status = RecoveryStatus.OVERDUE if self.overdue_at is not None else RecoveryStatus.OPEN


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
