"""Events of the funding context (topic ``alliance.funding.events``).

Keys (``aggregate_field``): programme events by ``programme_id``; application events by
``application_id``; award, tranche and recovery events all by ``award_id``, so everything
that happens to one award's money reaches consumers in order; surcharge statement events by
``enterprise_id``.

Money travels as ``*_minor`` integers (fen for CNY) next to a ``currency`` code, never
as floats. Shares are basis points (``3000`` is 30 %). Every event about an agreement's
money carries ``agreement_id`` and ``party_ids`` (all partners of the agreement), so
notification routing needs no look-up.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from alliance_shared.contract.base import CurrencyCode, EventPayload, MinorUnits, UtcDateTime
from alliance_shared.contract.vocabulary import CycleKind, Grade, Reason

Id = Annotated[str, Field(min_length=1, max_length=100)]
PartyIds = Annotated[tuple[Id, ...], Field(max_length=200)]
#: A share in basis points: 10000 is 100 %.
BasisPoints = Annotated[int, Field(strict=True, ge=0, le=10_000)]
BankReference = Annotated[str, Field(min_length=1, max_length=100)]

_ACTOR = Field(description="who made the change; 'system' for automatic transitions")


class BudgetCategory(StrEnum):
    EQUIPMENT = "equipment"
    TRAINING_BASE_CONSTRUCTION = "training_base_construction"
    TEACHER_TRAINING = "teacher_training"
    STUDENT_SUBSIDIES = "student_subsidies"
    RD = "rd"
    OTHER = "other"


class ReleaseKind(StrEnum):
    """What makes a tranche eligible for payment."""

    ON_AWARD = "on_award"
    EVALUATION = "evaluation"
    MANUAL = "manual"


class EligibleTrigger(StrEnum):
    """Why a tranche became eligible."""

    ON_AWARD = "on_award"
    EVALUATION = "evaluation"
    MANUAL = "manual"
    HOLD_LIFTED = "hold_lifted"


class BudgetLineView(BaseModel):
    """One line of an application's budget."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: BudgetCategory
    amount_minor: MinorUnits


class TrancheScheduleView(BaseModel):
    """One tranche of an award as scheduled at grant time.

    ``cycle_kind`` and ``min_grade`` are set when ``release`` is ``evaluation``: the
    tranche becomes eligible on a result of that cycle kind with at least that grade.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tranche_id: Id
    sequence: int = Field(ge=1, le=100)
    name: str = Field(min_length=1, max_length=200)
    share_bp: BasisPoints
    scheduled_minor: MinorUnits
    release: ReleaseKind
    cycle_kind: CycleKind | None = None
    min_grade: Grade | None = None


# --- programmes ---------------------------------------------------------------------


class ProgrammeOpened(EventPayload):
    """A fund programme opened: its budget is appropriated and it takes applications in its window."""

    event_type: ClassVar[str] = "org.coopalliance.funding.programme.opened.v1"
    aggregate_field: ClassVar[str] = "programme_id"

    programme_id: Id
    name: str = Field(min_length=1, max_length=200)
    fiscal_year: int = Field(ge=2000, le=2100)
    appropriated_minor: MinorUnits
    award_cap_minor: MinorUnits
    min_cofunding_bp: BasisPoints
    currency: CurrencyCode
    opens_at: UtcDateTime
    closes_at: UtcDateTime
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class ProgrammeClosed(EventPayload):
    """A programme stopped taking applications; reviews, awards and payments go on."""

    event_type: ClassVar[str] = "org.coopalliance.funding.programme.closed.v1"
    aggregate_field: ClassVar[str] = "programme_id"

    programme_id: Id
    reason: Reason
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class ProgrammeFinalised(EventPayload):
    """A programme's books were closed; the figures are its final budget execution.

    ``execution_rate_bp`` is paid / appropriated in basis points, rounded down.
    """

    event_type: ClassVar[str] = "org.coopalliance.funding.programme.finalised.v1"
    aggregate_field: ClassVar[str] = "programme_id"

    programme_id: Id
    currency: CurrencyCode
    appropriated_minor: MinorUnits
    available_minor: MinorUnits
    committed_minor: MinorUnits
    disbursed_minor: MinorUnits
    paid_minor: MinorUnits
    recovery_receivable_minor: MinorUnits
    recovered_minor: MinorUnits
    written_off_minor: MinorUnits = Field(default=0, description="recoveries written off (never collected)")
    execution_rate_bp: BasisPoints
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


# --- applications -------------------------------------------------------------------


class _ApplicationEvent(EventPayload):
    aggregate_field: ClassVar[str] = "application_id"

    application_id: Id
    programme_id: Id
    agreement_id: Id
    applicant_partner_id: Id
    party_ids: PartyIds
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class ApplicationSubmitted(_ApplicationEvent):
    """An application for funds was submitted (again, after a return) for review."""

    event_type: ClassVar[str] = "org.coopalliance.funding.application.submitted.v1"

    requested_minor: MinorUnits
    cofunding_minor: MinorUnits = Field(description="the enterprise co-funding pledged")
    currency: CurrencyCode
    budget_lines: tuple[BudgetLineView, ...] = Field(min_length=1, max_length=len(BudgetCategory))


class ApplicationApproved(_ApplicationEvent):
    """A reviewer approved an application, possibly for less than requested."""

    event_type: ClassVar[str] = "org.coopalliance.funding.application.approved.v1"

    requested_minor: MinorUnits
    approved_minor: MinorUnits
    currency: CurrencyCode
    reason: Reason


class ApplicationRejected(_ApplicationEvent):
    """A reviewer rejected an application; final."""

    event_type: ClassVar[str] = "org.coopalliance.funding.application.rejected.v1"

    reason: Reason


class ApplicationReturned(_ApplicationEvent):
    """A reviewer returned an application for changes; the applicant may revise and resubmit."""

    event_type: ClassVar[str] = "org.coopalliance.funding.application.returned.v1"

    reason: Reason


class ApplicationWithdrawn(_ApplicationEvent):
    """The applicant withdrew the application; final."""

    event_type: ClassVar[str] = "org.coopalliance.funding.application.withdrawn.v1"

    reason: Reason | None = None


# --- awards, tranches, recoveries -----------------------------------------------------


class _AwardEvent(EventPayload):
    aggregate_field: ClassVar[str] = "award_id"

    award_id: Id
    programme_id: Id
    application_id: Id
    agreement_id: Id
    recipient_partner_id: Id
    party_ids: PartyIds
    currency: CurrencyCode
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


class AwardGranted(_AwardEvent):
    """Funds were awarded and committed; the tranches are scheduled from the programme's template.

    The tranches' ``scheduled_minor`` sum exactly to ``amount_minor`` (the rounding
    remainder of the basis-point split is on the last tranche).
    """

    event_type: ClassVar[str] = "org.coopalliance.funding.award.granted.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "award_id": "awd-2026-0007",
                    "programme_id": "prg-2026-sz",
                    "application_id": "app-0042",
                    "agreement_id": "agr-7f3c",
                    "recipient_partner_id": "col-001",
                    "party_ids": ["col-001", "ent-042"],
                    "currency": "CNY",
                    "amount_minor": 50_000_000,
                    "tranches": [
                        {
                            "tranche_id": "awd-2026-0007-t1",
                            "sequence": 1,
                            "name": "start-up",
                            "share_bp": 3000,
                            "scheduled_minor": 15_000_000,
                            "release": "on_award",
                        },
                        {
                            "tranche_id": "awd-2026-0007-t2",
                            "sequence": 2,
                            "name": "after the mid-term evaluation",
                            "share_bp": 4000,
                            "scheduled_minor": 20_000_000,
                            "release": "evaluation",
                            "cycle_kind": "mid_term",
                            "min_grade": "pass",
                        },
                        {
                            "tranche_id": "awd-2026-0007-t3",
                            "sequence": 3,
                            "name": "final acceptance",
                            "share_bp": 3000,
                            "scheduled_minor": 15_000_000,
                            "release": "evaluation",
                            "cycle_kind": "final_acceptance",
                            "min_grade": "good",
                        },
                    ],
                    "occurred_at": "2026-04-01T02:00:00Z",
                    "actor_id": "officer-zhang",
                }
            ]
        }
    )

    amount_minor: MinorUnits
    tranches: tuple[TrancheScheduleView, ...] = Field(min_length=1, max_length=100)


class AwardTerminated(_AwardEvent):
    """An award was terminated: what was still committed went back to the programme,
    tranches not yet approved were cancelled, and recovery of part of what was paid may
    have been ordered (announced by ``recovery.ordered``)."""

    event_type: ClassVar[str] = "org.coopalliance.funding.award.terminated.v1"

    voided_minor: MinorUnits = Field(description="committed money released back to the programme")
    recovery_ordered_minor: MinorUnits
    cancelled_tranche_ids: tuple[Id, ...] = Field(max_length=100)
    reason: Reason


class _TrancheEvent(_AwardEvent):
    tranche_id: Id
    sequence: int = Field(ge=1, le=100)
    scheduled_minor: MinorUnits


class TrancheEligible(_TrancheEvent):
    """A tranche's release condition is met (or its holds were lifted): it may be requested.

    ``result_id`` names the evaluation result when ``trigger`` is ``evaluation`` or a
    passing result lifted an evaluation hold.
    """

    event_type: ClassVar[str] = "org.coopalliance.funding.tranche.eligible.v1"

    trigger: EligibleTrigger
    result_id: Id | None = None


class TrancheWithheld(_TrancheEvent):
    """A tranche is held back: an evaluation below its grade or an overdue rectification.

    ``holds`` lists every reason in force (``evaluation`` and ``rectification:<order id>``);
    the tranche becomes eligible again when all are lifted.
    """

    event_type: ClassVar[str] = "org.coopalliance.funding.tranche.withheld.v1"

    holds: tuple[Annotated[str, Field(min_length=1, max_length=120)], ...] = Field(min_length=1, max_length=50)
    result_id: Id | None = None
    order_id: Id | None = None


class TrancheRequested(_TrancheEvent):
    """A funding officer prepared the tranche's disbursement (the maker)."""

    event_type: ClassVar[str] = "org.coopalliance.funding.tranche.requested.v1"

    prepared_by: Id


class TrancheApproved(_TrancheEvent):
    """A funding approver other than the preparer approved the disbursement (the checker).

    ``approved_minor`` may be less than scheduled (``reason`` says why); the remainder
    either stays committed to the award or, when ``remainder_released``, went back to
    the programme's available budget.
    """

    event_type: ClassVar[str] = "org.coopalliance.funding.tranche.approved.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "award_id": "awd-2026-0007",
                    "programme_id": "prg-2026-sz",
                    "application_id": "app-0042",
                    "agreement_id": "agr-7f3c",
                    "recipient_partner_id": "col-001",
                    "party_ids": ["col-001", "ent-042"],
                    "currency": "CNY",
                    "tranche_id": "awd-2026-0007-t2",
                    "sequence": 2,
                    "scheduled_minor": 20_000_000,
                    "approved_minor": 18_000_000,
                    "remainder_minor": 2_000_000,
                    "remainder_released": True,
                    "prepared_by": "officer-zhang",
                    "approved_by": "approver-li",
                    "reason": "training-base equipment bought below budget",
                    "occurred_at": "2026-10-12T06:30:00Z",
                    "actor_id": "approver-li",
                }
            ]
        }
    )

    approved_minor: MinorUnits
    remainder_minor: MinorUnits
    remainder_released: bool
    prepared_by: Id
    approved_by: Id
    reason: Reason | None = None


class TranchePaid(_TrancheEvent):
    """The bank confirmed payment of an approved tranche.

    ``paid_minor`` went out in cash under ``bank_reference``; ``offset_minor`` of the
    approved amount settled recoveries instead (``approved = paid + offset``). When
    offsets took the whole tranche no cash moved and ``bank_reference`` is None.
    """

    event_type: ClassVar[str] = "org.coopalliance.funding.tranche.paid.v1"

    approved_minor: MinorUnits
    paid_minor: MinorUnits
    offset_minor: MinorUnits
    bank_reference: BankReference | None = None


class RecoveryOrdered(_AwardEvent):
    """Repayment of part of what was paid under an award was ordered, with a deadline."""

    event_type: ClassVar[str] = "org.coopalliance.funding.recovery.ordered.v1"

    recovery_id: Id
    amount_minor: MinorUnits
    due_at: UtcDateTime
    reason: Reason


class SettlementMethod(StrEnum):
    REPAYMENT = "repayment"
    OFFSET = "offset"


class RecoverySettled(_AwardEvent):
    """(Part of) a recovery was settled, by the recipient's repayment or by offset against
    a later tranche of the award (``tranche_id``). ``outstanding_minor`` is what is still owed."""

    event_type: ClassVar[str] = "org.coopalliance.funding.recovery.settled.v1"

    recovery_id: Id
    settlement_id: Id
    method: SettlementMethod
    settled_minor: MinorUnits
    outstanding_minor: MinorUnits
    bank_reference: BankReference | None = None
    tranche_id: Id | None = None


class _RecoveryDeadlineEvent(_AwardEvent):
    recovery_id: Id
    amount_minor: MinorUnits
    outstanding_minor: MinorUnits
    due_at: UtcDateTime


class RecoveryDueSoon(_RecoveryDeadlineEvent):
    """A reminder: a recovery with something outstanding falls due within the configured
    number of calendar days (``FUNDING_RECOVERY_REMINDER_DAYS``). Sent once per recovery."""

    event_type: ClassVar[str] = "org.coopalliance.funding.recovery.due_soon.v1"


class RecoveryOverdue(_RecoveryDeadlineEvent):
    """A recovery passed its deadline with ``outstanding_minor`` still owed. Sent once per recovery."""

    event_type: ClassVar[str] = "org.coopalliance.funding.recovery.overdue.v1"


class RecoveryEscalated(_RecoveryDeadlineEvent):
    """A recovery has been overdue for longer than the configured period
    (``FUNDING_RECOVERY_ESCALATE_AFTER_DAYS``) and is still owed: the approvers are told. Sent once."""

    event_type: ClassVar[str] = "org.coopalliance.funding.recovery.escalated.v1"

    overdue_since: UtcDateTime


class RecoveryWrittenOff(_AwardEvent):
    """What remained outstanding of a recovery was written off: proposed by ``proposed_by``,
    approved by ``approved_by`` (another person). The recovery is closed."""

    event_type: ClassVar[str] = "org.coopalliance.funding.recovery.written_off.v1"

    recovery_id: Id
    written_off_minor: MinorUnits
    reason: Reason
    proposed_by: Id
    approved_by: Id


class RemainderReleaseTrigger(StrEnum):
    APPROVER = "approver"
    PROGRAMME_CLOSED = "programme_closed"


class TrancheRemainderReleased(_TrancheEvent):
    """The remainder a partial approval of the tranche had kept committed went back to the
    programme's available budget: released by an approver, or on the programme's closing."""

    event_type: ClassVar[str] = "org.coopalliance.funding.tranche.remainder_released.v1"

    released_minor: MinorUnits
    trigger: RemainderReleaseTrigger


# --- education-surcharge credit statements -------------------------------------------


class SurchargeStatementIssued(EventPayload):
    """An enterprise's education-surcharge credit statement for a year was stored: computed,
    recomputed, or recomputed in turn because an earlier year's carry-out changed.

    ``statement_version`` grows with every recomputation of the year's statement, so a
    consumer keeps the figures of the newest version it saw. ``credit_earned_minor`` is the
    credit the year's qualifying investments earned; ``surcharge_offset_minor`` what was set
    against the two surcharges (carry-in included); ``carried_out_minor`` what is left for
    later years.
    """

    event_type: ClassVar[str] = "org.coopalliance.funding.surcharge_statement.issued.v1"
    aggregate_field: ClassVar[str] = "enterprise_id"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "enterprise_id": "ent-042",
                    "year": 2026,
                    "statement_version": 2,
                    "currency": "CNY",
                    "credit_earned_minor": 30_000_000,
                    "surcharge_offset_minor": 30_000_000,
                    "carried_out_minor": 0,
                    "occurred_at": "2027-02-10T03:00:00Z",
                    "actor_id": "officer-zhang",
                }
            ]
        }
    )

    enterprise_id: Id
    year: int = Field(ge=2000, le=2100)
    statement_version: int = Field(ge=1)
    currency: CurrencyCode
    credit_earned_minor: MinorUnits
    surcharge_offset_minor: MinorUnits
    carried_out_minor: MinorUnits
    occurred_at: UtcDateTime
    actor_id: Id = _ACTOR


FUNDING_EVENTS: tuple[type[EventPayload], ...] = (
    ProgrammeOpened,
    ProgrammeClosed,
    ProgrammeFinalised,
    ApplicationSubmitted,
    ApplicationApproved,
    ApplicationRejected,
    ApplicationReturned,
    ApplicationWithdrawn,
    AwardGranted,
    AwardTerminated,
    TrancheEligible,
    TrancheWithheld,
    TrancheRequested,
    TrancheApproved,
    TranchePaid,
    RecoveryOrdered,
    RecoverySettled,
    RecoveryDueSoon,
    RecoveryOverdue,
    RecoveryEscalated,
    RecoveryWrittenOff,
    TrancheRemainderReleased,
    SurchargeStatementIssued,
)
