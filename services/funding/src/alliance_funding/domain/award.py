"""The Award aggregate: funds granted on an approved application, paid out in tranches.

Money: granting commits the award amount; approving a tranche disburses the approved
amount (and, when asked, releases the remainder back to the programme); confirming
payment pays it; terminating voids what is still committed and may order recovery of
part of what was paid. Every method that moves money appends the ledger transfers it
needs to ``transfers`` — with ids derived from the award, the tranche and the caller's
ids, so a retried command produces the same transfer ids and the ledger applies them
once. The use case posts ``transfers`` to the programme's book together (one atomic
write, ``Ledger.post`` / ``plan_transfers``) *before* saving the award: a refused
posting (for instance, the programme's money was committed meanwhile) leaves the award
unsaved, and a crash between the two writes is repaired by retrying the command.

Award lifecycle: active ──terminate──▶ terminated. Tranches: see ``tranche``. A tranche
approved for less than scheduled keeps its remainder committed to the award unless
the approver releases it; a kept remainder is voided when the award is terminated.
Recoveries are settled by repayment or by offset against an approved, not yet paid
tranche of the award (also after termination, while such tranches await payment), or
what is outstanding is written off (proposed by an officer, approved by another person).
Their deadlines act: ``check_recovery_deadlines`` reminds, marks overdue and escalates,
each once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance_funding.domain.application import Application, ApplicationStatus
from alliance_funding.domain.ledger import AccountId, Transfer, TransferKind
from alliance_funding.domain.programme import (
    EvaluationRelease,
    ManualRelease,
    OnAwardRelease,
    Programme,
    ProgrammeStatus,
)
from alliance_funding.domain.recovery import (
    ProposedRecovery,
    ProposedTermination,
    Recovery,
    RecoveryStatus,
    Settlement,
    WriteOff,
)
from alliance_funding.domain.tranche import (
    CANCELLABLE,
    EVALUATION_HOLD,
    RELEASED_UNAPPROVED,
    Tranche,
    TrancheStatus,
    rectification_hold,
    split_by_shares,
)
from alliance_shared.contract.base import EventPayload, UtcDateTime
from alliance_shared.contract.funding import (
    AwardGranted,
    AwardTerminated,
    EligibleTrigger,
    RecoveryDueSoon,
    RecoveryEscalated,
    RecoveryOrdered,
    RecoveryOverdue,
    RecoverySettled,
    RecoveryWrittenOff,
    RemainderReleaseTrigger,
    SettlementMethod,
    TrancheApproved,
    TrancheEligible,
    TranchePaid,
    TrancheRemainderReleased,
    TrancheRequested,
    TrancheScheduleView,
    TrancheWithheld,
)
from alliance_shared.contract.vocabulary import GRADE_ORDER, CycleKind, Grade
from alliance_shared.errors import Conflict, DomainError, Forbidden, InvalidTransition, NotFound

SYSTEM_ACTOR = "system"


class AwardStatus(StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"


class Award(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    award_id: AccountId
    application_id: str
    programme_id: str
    agreement_id: str
    recipient_partner_id: str
    party_ids: tuple[str, ...]
    currency: str
    amount_minor: int = Field(strict=True, gt=0)
    tranches: list[Tranche] = Field(min_length=1)
    status: AwardStatus = AwardStatus.ACTIVE
    overdue_order_ids: tuple[str, ...] = ()
    agreement_hold: str | None = Field(
        default=None, description="agreement:suspended|terminated|completed_early while the agreement stopped"
    )
    agreement_hold_reason: str | None = None
    paid_total_minor: int = Field(default=0, description="everything moved into award:paid (cash and offsets)")
    released_minor: int = Field(default=0, description="partial-approval remainders released to the programme")
    voided_minor: int = Field(default=0, description="committed money voided on termination")
    recoveries: list[Recovery] = Field(default_factory=list)
    recovery_open: bool = Field(
        default=False, description="a recovery still has something outstanding (the deadline pass finds it by this)"
    )
    proposed_termination: ProposedTermination | None = None
    proposed_recoveries: list[ProposedRecovery] = Field(default_factory=list)
    granted_at: UtcDateTime
    granted_by: str
    terminated_at: UtcDateTime | None = None
    termination_reason: str | None = None
    version: int = 0
    events: list[EventPayload] = Field(default_factory=list, exclude=True)
    transfers: list[Transfer] = Field(default_factory=list, exclude=True)

    # --- grant ---------------------------------------------------------------------

    @classmethod
    def grant(
        cls,
        *,
        award_id: str,
        application: Application,
        programme: Programme,
        now: datetime,
        actor_id: str,
        overdue_order_ids: Collection[str] = (),
        agreement_hold: str | None = None,
        agreement_hold_reason: str | None = None,
    ) -> Award:
        """Award the approved amount, commit it, schedule the tranches from the programme's template.

        ``overdue_order_ids``: rectification orders on the agreement that are overdue now
        (from the read model); they hold back the tranches released on award, as does
        ``agreement_hold`` (the agreement stopped, ``agreement_hold_reason`` says why).
        """
        if application.status is not ApplicationStatus.APPROVED or application.approved_minor is None:
            raise InvalidTransition("application", application.status, "award")
        if application.programme_id != programme.programme_id:
            raise DomainError("award.wrong_programme", f"the application is for {application.programme_id}")
        if programme.status not in (ProgrammeStatus.OPEN, ProgrammeStatus.CLOSED):
            raise InvalidTransition("programme", programme.status, "award from")
        amount = application.approved_minor
        parts = split_by_shares(amount, [item.share_bp for item in programme.tranche_template])
        if min(parts) <= 0:
            raise DomainError(
                "award.amount_too_small", f"{amount} cannot be split into {len(parts)} non-empty tranches"
            )
        award = cls(
            award_id=award_id,
            application_id=application.application_id,
            programme_id=programme.programme_id,
            agreement_id=application.agreement_id,
            recipient_partner_id=application.applicant_partner_id,
            party_ids=application.party_ids,
            currency=programme.currency,
            amount_minor=amount,
            tranches=[
                Tranche(
                    tranche_id=f"{award_id}-t{sequence}",
                    sequence=sequence,
                    name=item.name,
                    share_bp=item.share_bp,
                    scheduled_minor=part,
                    release=item.release,
                )
                for sequence, (item, part) in enumerate(zip(programme.tranche_template, parts, strict=True), 1)
            ],
            overdue_order_ids=tuple(overdue_order_ids),
            agreement_hold=agreement_hold,
            agreement_hold_reason=agreement_hold_reason if agreement_hold else None,
            granted_at=now,
            granted_by=actor_id,
        )
        award._move(TransferKind.COMMIT, f"{award_id}:commit", amount, now, actor_id)
        award.events.append(
            AwardGranted(
                **award._common(now, actor_id),
                amount_minor=amount,
                tranches=tuple(award._schedule_view(t) for t in award.tranches),
            )
        )
        for tranche in award.tranches:
            if isinstance(tranche.release, OnAwardRelease):
                award._release(tranche, EligibleTrigger.ON_AWARD, None, now, actor_id)
        return award

    # --- figures -------------------------------------------------------------------

    @property
    def approved_total_minor(self) -> int:
        return sum(t.approved_minor or 0 for t in self.tranches)

    @property
    def committed_minor(self) -> int:
        """What the award still holds in ``award:<id>:committed``."""
        return self.amount_minor - self.approved_total_minor - self.released_minor - self.voided_minor

    @property
    def recovery_ordered_minor(self) -> int:
        return sum(r.amount_minor for r in self.recoveries)

    @property
    def recoverable_minor(self) -> int:
        """What was paid (cash or offset) and not yet ordered back."""
        return self.paid_total_minor - self.recovery_ordered_minor

    def tranche(self, tranche_id: str) -> Tranche:
        for tranche in self.tranches:
            if tranche.tranche_id == tranche_id:
                return tranche
        raise NotFound("tranche.not_found", f"award {self.award_id} has no tranche {tranche_id}")

    def recovery(self, recovery_id: str) -> Recovery:
        for recovery in self.recoveries:
            if recovery.recovery_id == recovery_id:
                return recovery
        raise NotFound("recovery.not_found", f"award {self.award_id} has no recovery {recovery_id}")

    # --- release conditions and holds ------------------------------------------------

    def apply_evaluation(self, *, result_id: str, cycle_kind: CycleKind, grade: Grade, now: datetime) -> None:
        """A result of the agreement's evaluation arrived (``result.completed``).

        Releases scheduled tranches whose condition it meets; withholds released,
        unapproved evaluation tranches when the grade is below theirs; lifts the
        evaluation hold when it is at least theirs.
        """
        if self.status is not AwardStatus.ACTIVE:
            return
        for tranche in self.tranches:
            if not isinstance(tranche.release, EvaluationRelease):
                continue
            passing = GRADE_ORDER[grade] >= GRADE_ORDER[tranche.release.min_grade]
            if tranche.status is TrancheStatus.SCHEDULED:
                if passing and cycle_kind is tranche.release.cycle_kind:
                    self._release(tranche, EligibleTrigger.EVALUATION, result_id, now, SYSTEM_ACTOR)
            elif tranche.status in RELEASED_UNAPPROVED:
                if passing:
                    self._lift_hold(tranche, EVALUATION_HOLD, now, result_id=result_id)
                else:
                    self._add_hold(tranche, EVALUATION_HOLD, now, result_id=result_id)

    def rectification_overdue(self, order_id: str, now: datetime) -> None:
        """An open rectification on the agreement went overdue: hold back released, unapproved tranches."""
        if self.status is not AwardStatus.ACTIVE or order_id in self.overdue_order_ids:
            return
        self.overdue_order_ids = (*self.overdue_order_ids, order_id)
        for tranche in self.tranches:
            if tranche.status in RELEASED_UNAPPROVED:
                self._add_hold(tranche, rectification_hold(order_id), now, order_id=order_id)

    def rectification_closed(self, order_id: str, now: datetime) -> None:
        """The overdue rectification was closed: lift its hold."""
        if self.status is not AwardStatus.ACTIVE or order_id not in self.overdue_order_ids:
            return
        self.overdue_order_ids = tuple(o for o in self.overdue_order_ids if o != order_id)
        for tranche in self.tranches:
            if tranche.status is TrancheStatus.WITHHELD:
                self._lift_hold(tranche, rectification_hold(order_id), now)

    def agreement_stopped(self, hold: str, reason: str, now: datetime) -> None:
        """The agreement was suspended, terminated or completed early: hold back its released,
        unapproved tranches (and any released later) with ``hold`` and the registry's reason.

        Approved tranches not yet paid stay approved (their money is disbursed) but their
        payment is held too (``payment_holds``); they can still take offsets of recoveries.
        """
        if self.status is not AwardStatus.ACTIVE:
            return
        previous = self.agreement_hold
        if previous == hold and self.agreement_hold_reason == reason:
            return
        self.agreement_hold, self.agreement_hold_reason = hold, reason
        for tranche in self.tranches:
            if tranche.status is TrancheStatus.APPROVED:
                self._hold_payment(tranche, hold, previous, now)
                continue
            if tranche.status not in RELEASED_UNAPPROVED:
                continue
            if previous is not None and previous != hold:
                # suspended, then terminated: one agreement hold, the newest reason
                tranche.holds = tuple(h for h in tranche.holds if h != previous)
            self._add_hold(tranche, hold, now)

    def _hold_payment(self, tranche: Tranche, hold: str, previous: str | None, now: datetime) -> None:
        kept = tuple(h for h in tranche.payment_holds if h != previous)
        if hold in kept:
            tranche.payment_holds = kept
            return
        tranche.payment_holds = (*kept, hold)
        self.events.append(TrancheWithheld(**self._tranche_common(tranche, now, SYSTEM_ACTOR), holds=(hold,)))

    def agreement_reinstated(self, now: datetime) -> None:
        """The agreement is active again (a suspension lifted): lift the agreement's hold."""
        hold = self.agreement_hold
        if self.status is not AwardStatus.ACTIVE or hold is None:
            return
        self.agreement_hold = self.agreement_hold_reason = None
        for tranche in self.tranches:
            if tranche.status is TrancheStatus.WITHHELD:
                self._lift_hold(tranche, hold, now)
            tranche.payment_holds = tuple(h for h in tranche.payment_holds if h != hold)

    def release_manually(self, tranche_id: str, now: datetime, actor_id: str) -> None:
        """A funding officer releases a tranche whose condition is ``manual``."""
        self._require_active("release a tranche of")
        tranche = self.tranche(tranche_id)
        if not isinstance(tranche.release, ManualRelease):
            raise DomainError("tranche.not_manual", f"tranche {tranche_id} is released by {tranche.release.kind}")
        if tranche.status is not TrancheStatus.SCHEDULED:
            raise InvalidTransition("tranche", tranche.status, "release")
        self._release(tranche, EligibleTrigger.MANUAL, None, now, actor_id)

    # --- maker-checker and payment ---------------------------------------------------

    def request_tranche(self, tranche_id: str, now: datetime, actor_id: str) -> None:
        """A funding officer prepares the disbursement of an eligible tranche (the maker)."""
        self._require_active("request a tranche of")
        tranche = self.tranche(tranche_id)
        if tranche.status is not TrancheStatus.ELIGIBLE:
            raise InvalidTransition("tranche", tranche.status, "request")
        tranche.status = TrancheStatus.REQUESTED
        tranche.prepared_by = actor_id
        tranche.requested_at = now
        self.events.append(TrancheRequested(**self._tranche_common(tranche, now, actor_id), prepared_by=actor_id))

    def approve_tranche(
        self,
        tranche_id: str,
        *,
        approved_minor: int,
        release_remainder: bool,
        reason: str | None,
        now: datetime,
        approver_id: str,
    ) -> None:
        """A funding approver other than the preparer approves the disbursement (the checker).

        Approving less than scheduled needs a reason; the remainder stays committed to the
        award, or goes back to the programme when ``release_remainder``.
        """
        self._require_active("approve a tranche of")
        tranche = self.tranche(tranche_id)
        if tranche.status is not TrancheStatus.REQUESTED:
            raise InvalidTransition("tranche", tranche.status, "approve")
        if approver_id == tranche.prepared_by:
            raise Forbidden(
                "tranche.maker_checker",
                f"{approver_id} prepared tranche {tranche_id} and cannot also approve it",
            )
        if approved_minor <= 0:
            raise DomainError(
                "tranche.approval_not_positive",
                "an approval is for at least 1 minor unit: approving 0 would pay nothing",
            )
        if approved_minor > tranche.scheduled_minor:
            raise DomainError(
                "tranche.approval_out_of_range",
                f"the approval must be between 1 and the scheduled {tranche.scheduled_minor}",
            )
        prepared_by = tranche.prepared_by
        assert prepared_by is not None  # set by every request, cleared only by a hold (which leaves REQUESTED)
        remainder = tranche.scheduled_minor - approved_minor
        if remainder and not (reason and reason.strip()):
            raise DomainError("tranche.reason_required", "approving less than scheduled needs a reason")
        tranche.status = TrancheStatus.APPROVED
        tranche.approved_minor = approved_minor
        tranche.approved_by = approver_id
        tranche.approved_at = now
        tranche.approval_reason = reason
        tranche.remainder_released = bool(remainder) and release_remainder
        self._move(
            TransferKind.DISBURSE,
            f"{self.award_id}:{tranche_id}:disburse",
            approved_minor,
            now,
            approver_id,
            tranche_id=tranche_id,
        )
        if tranche.remainder_released:
            self.released_minor += remainder
            self._move(
                TransferKind.VOID,
                f"{self.award_id}:{tranche_id}:release",
                remainder,
                now,
                approver_id,
                tranche_id=tranche_id,
            )
        self.events.append(
            TrancheApproved(
                **self._tranche_common(tranche, now, approver_id),
                approved_minor=approved_minor,
                remainder_minor=remainder,
                remainder_released=tranche.remainder_released,
                prepared_by=prepared_by,
                approved_by=approver_id,
                reason=reason,
            )
        )

    def release_remainder(
        self,
        tranche_id: str,
        now: datetime,
        approver_id: str,
        trigger: RemainderReleaseTrigger = RemainderReleaseTrigger.APPROVER,
    ) -> None:
        """Release the remainder a partial approval kept committed back to the programme,
        the award going on (before, only its termination voided it)."""
        self._require_active("release a remainder of")
        tranche = self.tranche(tranche_id)
        remainder = tranche.remainder_minor
        if tranche.approved_minor is None or not remainder or tranche.remainder_released:
            raise DomainError("tranche.no_remainder_kept", f"tranche {tranche_id} keeps no remainder to release")
        tranche.remainder_released = True
        self.released_minor += remainder
        # the id a release at approval would have had: a tranche's remainder is released once
        self._move(
            TransferKind.VOID,
            f"{self.award_id}:{tranche_id}:release",
            remainder,
            now,
            approver_id,
            tranche_id=tranche_id,
        )
        self.events.append(
            TrancheRemainderReleased(
                **self._tranche_common(tranche, now, approver_id), released_minor=remainder, trigger=trigger
            )
        )

    @property
    def kept_remainder_tranche_ids(self) -> tuple[str, ...]:
        """Tranches approved for less than scheduled whose remainder is still committed."""
        return tuple(
            t.tranche_id
            for t in self.tranches
            if t.approved_minor is not None and t.remainder_minor and not t.remainder_released
        )

    def confirm_payment(self, tranche_id: str, bank_reference: str, now: datetime, actor_id: str) -> None:
        """The bank confirmed the cash part of an approved tranche (approved minus offsets)."""
        tranche = self.tranche(tranche_id)
        if tranche.status is not TrancheStatus.APPROVED:
            raise InvalidTransition("tranche", tranche.status, "confirm payment of")
        if not bank_reference.strip():
            raise DomainError("tranche.bank_reference_required", "a payment is confirmed with the bank's reference")
        if tranche.payment_holds:
            holds = ", ".join(tranche.payment_holds)
            raise Conflict(
                "tranche.payment_held",
                f"the payment of tranche {tranche_id} is held ({holds}) until the agreement is reinstated",
                holds=list(tranche.payment_holds),
                reason=self.agreement_hold_reason,
            )
        cash = tranche.unpaid_approved_minor
        self._move(
            TransferKind.PAY,
            f"{self.award_id}:{tranche_id}:pay",
            cash,
            now,
            actor_id,
            tranche_id=tranche_id,
            method="bank",
            bank_reference=bank_reference,
        )
        self._mark_paid(tranche, cash, bank_reference, now, actor_id)

    # --- maker-checker on termination and recovery -----------------------------------

    def propose_termination(
        self,
        *,
        reason: str,
        now: datetime,
        actor_id: str,
        recovery_id: str | None = None,
        recovery_minor: int = 0,
        recovery_due_at: datetime | None = None,
    ) -> None:
        """An officer proposes ending the award (the maker); nothing moves until a second
        person approves (``approve_termination``). A new proposal replaces a pending one."""
        self._require_active("terminate")
        if not reason.strip():
            raise DomainError("award.reason_required", "a termination carries a reason")
        recovery = None
        if recovery_minor:
            if recovery_id is None or recovery_due_at is None:
                raise DomainError("recovery.incomplete", "a recovery needs an id and a due date")
            self._check_recovery(recovery_id, recovery_minor, reason, recovery_due_at, now)
            recovery = ProposedRecovery(
                recovery_id=recovery_id,
                amount_minor=recovery_minor,
                reason=reason,
                due_at=recovery_due_at,
                proposed_at=now,
                proposed_by=actor_id,
            )
        self.proposed_termination = ProposedTermination(
            reason=reason, recovery=recovery, proposed_at=now, proposed_by=actor_id
        )

    def approve_termination(self, *, now: datetime, approver_id: str) -> None:
        """A second person — never the proposer — approves the proposed termination: it
        takes effect with the proposed figures (checked again now)."""
        proposal = self.proposed_termination
        if proposal is None:
            raise Conflict("award.termination_not_proposed", f"no termination of {self.award_id} awaits approval")
        if approver_id == proposal.proposed_by:
            raise Forbidden("award.maker_checker", "the officer who proposed the termination cannot approve it")
        recovery = proposal.recovery
        self.proposed_termination = None
        self.terminate(
            reason=proposal.reason,
            now=now,
            actor_id=approver_id,
            recovery_id=recovery.recovery_id if recovery else None,
            recovery_minor=recovery.amount_minor if recovery else 0,
            recovery_due_at=recovery.due_at if recovery else None,
            proposed_by=proposal.proposed_by,
        )

    def propose_recovery(
        self, *, recovery_id: str, amount_minor: int, reason: str, due_at: datetime, now: datetime, actor_id: str
    ) -> None:
        """An officer proposes ordering recovery of paid money (the maker)."""
        if any(p.recovery_id == recovery_id for p in self.proposed_recoveries):
            raise Conflict("recovery.exists", f"recovery {recovery_id} was already proposed")
        self._check_recovery(recovery_id, amount_minor, reason, due_at, now)
        self.proposed_recoveries = [
            *self.proposed_recoveries,
            ProposedRecovery(
                recovery_id=recovery_id,
                amount_minor=amount_minor,
                reason=reason,
                due_at=due_at,
                proposed_at=now,
                proposed_by=actor_id,
            ),
        ]

    def approve_recovery(self, recovery_id: str, *, now: datetime, approver_id: str) -> None:
        """A second person — never the proposer — orders the proposed recovery (checked again now)."""
        proposal = next((p for p in self.proposed_recoveries if p.recovery_id == recovery_id), None)
        if proposal is None:
            raise NotFound("recovery.not_proposed", f"no recovery {recovery_id} of {self.award_id} awaits approval")
        if approver_id == proposal.proposed_by:
            raise Forbidden("recovery.maker_checker", "the officer who proposed the recovery cannot approve it")
        self.proposed_recoveries = [p for p in self.proposed_recoveries if p.recovery_id != recovery_id]
        self.order_recovery(
            recovery_id=recovery_id,
            amount_minor=proposal.amount_minor,
            reason=proposal.reason,
            due_at=proposal.due_at,
            now=now,
            actor_id=approver_id,
            proposed_by=proposal.proposed_by,
        )

    # --- termination and recovery (the effect; the use cases reach it through approve_*) --

    def terminate(
        self,
        *,
        reason: str,
        now: datetime,
        actor_id: str,
        recovery_id: str | None = None,
        recovery_minor: int = 0,
        recovery_due_at: datetime | None = None,
        proposed_by: str | None = None,
    ) -> None:
        """End the award: cancel unapproved tranches, void what is committed, optionally order recovery.

        Approved tranches are left to be paid: their bank instruction may be under way,
        and they can take offsets of the recovery.
        """
        self._require_active("terminate")
        if not reason.strip():
            raise DomainError("award.reason_required", "a termination carries a reason")
        if recovery_minor:
            if recovery_id is None or recovery_due_at is None:
                raise DomainError("recovery.incomplete", "a recovery needs an id and a due date")
            self._check_recovery(recovery_id, recovery_minor, reason, recovery_due_at, now)
        cancelled = [t for t in self.tranches if t.status in CANCELLABLE]
        for tranche in cancelled:
            tranche.status = TrancheStatus.CANCELLED
            tranche.holds = ()
        for tranche in self.tranches:
            # the second person's termination decides what is owed: approved tranches are payable
            tranche.payment_holds = ()
        voided = self.committed_minor
        self.voided_minor += voided
        self.status = AwardStatus.TERMINATED
        self.terminated_at = now
        self.termination_reason = reason
        self._move(TransferKind.VOID, f"{self.award_id}:terminate:void", voided, now, actor_id)
        self.events.append(
            AwardTerminated(
                **self._common(now, actor_id),
                voided_minor=voided,
                recovery_ordered_minor=recovery_minor,
                cancelled_tranche_ids=tuple(t.tranche_id for t in cancelled),
                reason=reason,
            )
        )
        if recovery_minor:
            assert recovery_id is not None  # checked above
            assert recovery_due_at is not None
            self.order_recovery(
                recovery_id=recovery_id,
                amount_minor=recovery_minor,
                reason=reason,
                due_at=recovery_due_at,
                now=now,
                actor_id=actor_id,
                proposed_by=proposed_by,
            )

    def order_recovery(
        self,
        *,
        recovery_id: str,
        amount_minor: int,
        reason: str,
        due_at: datetime,
        now: datetime,
        actor_id: str,
        proposed_by: str | None = None,
    ) -> None:
        """Order the recipient to pay back part of what was paid (``actor_id`` approves what
        ``proposed_by`` proposed)."""
        self._check_recovery(recovery_id, amount_minor, reason, due_at, now)
        recovery = Recovery(
            recovery_id=recovery_id,
            amount_minor=amount_minor,
            reason=reason,
            due_at=due_at,
            ordered_at=now,
            ordered_by=proposed_by or actor_id,
            approved_by=actor_id if proposed_by else None,
        )
        self.recoveries.append(recovery)
        self._recoveries_changed()
        self._move(
            TransferKind.ORDER_RECOVERY,
            f"{self.award_id}:{recovery_id}:order",
            amount_minor,
            now,
            actor_id,
            recovery_id=recovery_id,
        )
        self.events.append(
            RecoveryOrdered(
                **self._common(now, actor_id),
                recovery_id=recovery_id,
                amount_minor=amount_minor,
                due_at=due_at,
                reason=reason,
            )
        )

    def settle_by_repayment(
        self,
        *,
        recovery_id: str,
        settlement_id: str,
        amount_minor: int,
        bank_reference: str,
        now: datetime,
        actor_id: str,
    ) -> None:
        """The recipient repaid (part of) a recovery."""
        recovery = self._settleable(recovery_id, settlement_id, amount_minor)
        if not bank_reference.strip():
            raise DomainError("recovery.bank_reference_required", "a repayment is recorded with the bank's reference")
        self._move(
            TransferKind.SETTLE_RECOVERY,
            f"{self.award_id}:{recovery_id}:{settlement_id}:settle",
            amount_minor,
            now,
            actor_id,
            recovery_id=recovery_id,
            method=SettlementMethod.REPAYMENT,
            bank_reference=bank_reference,
        )
        self._record_settlement(
            recovery,
            Settlement(
                settlement_id=settlement_id,
                method=SettlementMethod.REPAYMENT,
                amount_minor=amount_minor,
                bank_reference=bank_reference,
                at=now,
                actor_id=actor_id,
            ),
        )

    def settle_by_offset(
        self,
        *,
        recovery_id: str,
        settlement_id: str,
        tranche_id: str,
        amount_minor: int,
        now: datetime,
        actor_id: str,
    ) -> None:
        """Settle (part of) a recovery out of an approved, unpaid tranche of this award.

        That part of the tranche counts as paid without cash moving (a ``pay`` transfer of
        method ``offset``) and settles the recovery, in one posting. If offsets take the
        whole tranche it is paid.
        """
        recovery = self._settleable(recovery_id, settlement_id, amount_minor)
        tranche = self.tranche(tranche_id)
        if tranche.status is not TrancheStatus.APPROVED:
            raise InvalidTransition("tranche", tranche.status, "offset a recovery against")
        if amount_minor > tranche.unpaid_approved_minor:
            raise DomainError(
                "recovery.offset_exceeds_tranche",
                f"tranche {tranche_id} has {tranche.unpaid_approved_minor} left to pay",
            )
        refs = {"recovery_id": recovery_id, "method": SettlementMethod.OFFSET.value, "tranche_id": tranche_id}
        self._move(
            TransferKind.PAY,
            f"{self.award_id}:{recovery_id}:{settlement_id}:offset",
            amount_minor,
            now,
            actor_id,
            **refs,
        )
        self._move(
            TransferKind.SETTLE_RECOVERY,
            f"{self.award_id}:{recovery_id}:{settlement_id}:settle",
            amount_minor,
            now,
            actor_id,
            **refs,
        )
        tranche.offset_minor += amount_minor
        self.paid_total_minor += amount_minor
        self._record_settlement(
            recovery,
            Settlement(
                settlement_id=settlement_id,
                method=SettlementMethod.OFFSET,
                amount_minor=amount_minor,
                tranche_id=tranche_id,
                at=now,
                actor_id=actor_id,
            ),
        )
        if tranche.unpaid_approved_minor == 0:
            self._mark_paid(tranche, 0, None, now, actor_id)

    # --- write-off and deadlines of recoveries --------------------------------------

    def propose_write_off(self, recovery_id: str, *, reason: str, now: datetime, actor_id: str) -> None:
        """An officer proposes writing off what is outstanding of a recovery (the maker);
        nothing moves until another person approves. A new proposal replaces a pending one."""
        recovery = self.recovery(recovery_id)
        if recovery.write_off is not None or not recovery.outstanding_minor:
            raise InvalidTransition("recovery", recovery.status, "write off")
        if not reason.strip():
            raise DomainError("recovery.reason_required", "a write-off carries a reason")
        recovery.proposed_write_off = WriteOff(
            amount_minor=recovery.outstanding_minor, reason=reason, proposed_at=now, proposed_by=actor_id
        )

    def approve_write_off(self, recovery_id: str, *, now: datetime, approver_id: str) -> None:
        """A second person — never the proposer — writes off the proposed amount, which must
        still be what is outstanding (a settlement meanwhile needs a new proposal)."""
        recovery = self.recovery(recovery_id)
        proposal = recovery.proposed_write_off
        if proposal is None:
            raise Conflict("recovery.write_off_not_proposed", f"no write-off of {recovery_id} awaits approval")
        if approver_id == proposal.proposed_by:
            raise Forbidden("recovery.maker_checker", "the officer who proposed the write-off cannot approve it")
        if proposal.amount_minor != recovery.outstanding_minor:
            raise Conflict(
                "recovery.write_off_stale",
                f"{proposal.amount_minor} was proposed, {recovery.outstanding_minor} is outstanding now: "
                "propose the write-off again",
            )
        self._move(
            TransferKind.WRITE_OFF,
            f"{self.award_id}:{recovery_id}:write_off",
            proposal.amount_minor,
            now,
            approver_id,
            recovery_id=recovery_id,
        )
        recovery.proposed_write_off = None
        recovery.write_off = proposal.model_copy(update={"approved_at": now, "approved_by": approver_id})
        self._recoveries_changed()
        self.events.append(
            RecoveryWrittenOff(
                **self._common(now, approver_id),
                recovery_id=recovery_id,
                written_off_minor=proposal.amount_minor,
                reason=proposal.reason,
                proposed_by=proposal.proposed_by,
                approved_by=approver_id,
            )
        )

    def check_recovery_deadlines(self, now: datetime, *, remind_before: timedelta, escalate_after: timedelta) -> None:
        """Act on the deadlines of recoveries still owed, each step once: a reminder within
        ``remind_before`` of ``due_at``; overdue once past it; escalated once ``escalate_after``
        past it. A recovery already overdue is not reminded any more."""
        for recovery in self.recoveries:
            if recovery.write_off is not None or not recovery.outstanding_minor:
                continue
            figures = {
                **self._common(now, SYSTEM_ACTOR),
                "recovery_id": recovery.recovery_id,
                "amount_minor": recovery.amount_minor,
                "outstanding_minor": recovery.outstanding_minor,
                "due_at": recovery.due_at,
            }
            if now < recovery.due_at:
                if recovery.reminded_at is None and now >= recovery.due_at - remind_before:
                    recovery.reminded_at = now
                    self.events.append(RecoveryDueSoon(**figures))
                continue
            if recovery.overdue_at is None:
                recovery.overdue_at = now
                self.events.append(RecoveryOverdue(**figures))
            if recovery.escalated_at is None and now >= recovery.due_at + escalate_after:
                recovery.escalated_at = now
                self.events.append(RecoveryEscalated(**figures, overdue_since=recovery.due_at))
            recovery.refresh_status()

    def _recoveries_changed(self) -> None:
        for recovery in self.recoveries:
            recovery.refresh_status()
        self.recovery_open = any(r.status in (RecoveryStatus.OPEN, RecoveryStatus.OVERDUE) for r in self.recoveries)

    # --- internals -------------------------------------------------------------------

    def _require_active(self, action: str) -> None:
        if self.status is not AwardStatus.ACTIVE:
            raise InvalidTransition("award", self.status, action)

    def _release(
        self, tranche: Tranche, trigger: EligibleTrigger, result_id: str | None, now: datetime, actor_id: str
    ) -> None:
        """The tranche's condition is met: eligible, or withheld while a rectification is overdue."""
        holds = tuple(rectification_hold(order_id) for order_id in self.overdue_order_ids)
        if self.agreement_hold is not None:
            holds = (*holds, self.agreement_hold)
        if holds:
            tranche.status = TrancheStatus.WITHHELD
            tranche.holds = holds
            self.events.append(
                TrancheWithheld(
                    **self._tranche_common(tranche, now, actor_id),
                    holds=holds,
                    result_id=result_id,
                )
            )
            return
        tranche.status = TrancheStatus.ELIGIBLE
        self.events.append(
            TrancheEligible(**self._tranche_common(tranche, now, actor_id), trigger=trigger, result_id=result_id)
        )

    def _add_hold(
        self, tranche: Tranche, hold: str, now: datetime, *, result_id: str | None = None, order_id: str | None = None
    ) -> None:
        if hold in tranche.holds:
            return
        tranche.holds = (*tranche.holds, hold)
        tranche.status = TrancheStatus.WITHHELD
        # A request prepared before the hold was prepared on facts that no longer hold.
        tranche.prepared_by = None
        tranche.requested_at = None
        self.events.append(
            TrancheWithheld(
                **self._tranche_common(tranche, now, SYSTEM_ACTOR),
                holds=tranche.holds,
                result_id=result_id,
                order_id=order_id,
            )
        )

    def _lift_hold(self, tranche: Tranche, hold: str, now: datetime, *, result_id: str | None = None) -> None:
        if hold not in tranche.holds:
            return
        tranche.holds = tuple(h for h in tranche.holds if h != hold)
        if tranche.holds:
            return
        tranche.status = TrancheStatus.ELIGIBLE
        self.events.append(
            TrancheEligible(
                **self._tranche_common(tranche, now, SYSTEM_ACTOR),
                trigger=EligibleTrigger.HOLD_LIFTED,
                result_id=result_id,
            )
        )

    def _mark_paid(
        self, tranche: Tranche, cash_minor: int, bank_reference: str | None, now: datetime, actor_id: str
    ) -> None:
        tranche.status = TrancheStatus.PAID
        tranche.paid_minor = cash_minor
        tranche.bank_reference = bank_reference
        tranche.paid_at = now
        self.paid_total_minor += cash_minor
        self.events.append(
            TranchePaid(
                **self._tranche_common(tranche, now, actor_id),
                approved_minor=tranche.approved_minor or 0,
                paid_minor=cash_minor,
                offset_minor=tranche.offset_minor,
                bank_reference=bank_reference,
            )
        )

    def _check_recovery(
        self, recovery_id: str, amount_minor: int, reason: str, due_at: datetime, now: datetime
    ) -> None:
        if any(r.recovery_id == recovery_id for r in self.recoveries):
            raise Conflict("recovery.exists", f"recovery {recovery_id} was already ordered")
        if amount_minor <= 0:
            raise DomainError("recovery.amount_not_positive", "a recovery is for at least 1 minor unit")
        if amount_minor > self.recoverable_minor:
            raise DomainError(
                "recovery.exceeds_paid",
                f"a recovery is between 1 and what was paid and not yet ordered back ({self.recoverable_minor})",
            )
        if not reason.strip():
            raise DomainError("recovery.reason_required", "a recovery order carries a reason")
        if due_at <= now:
            raise DomainError("recovery.due_in_past", "a recovery deadline lies in the future")

    def _settleable(self, recovery_id: str, settlement_id: str, amount_minor: int) -> Recovery:
        recovery = self.recovery(recovery_id)
        if any(s.settlement_id == settlement_id for r in self.recoveries for s in r.settlements):
            raise Conflict("recovery.settlement_exists", f"settlement {settlement_id} was already recorded")
        if amount_minor <= 0:
            raise DomainError("recovery.settlement_not_positive", "a settlement is for at least 1 minor unit")
        if amount_minor > recovery.outstanding_minor:
            raise DomainError(
                "recovery.settlement_out_of_range",
                f"a settlement is between 1 and the outstanding {recovery.outstanding_minor}",
            )
        return recovery

    def _record_settlement(self, recovery: Recovery, settlement: Settlement) -> None:
        recovery.settlements = (*recovery.settlements, settlement)
        self._recoveries_changed()
        self.events.append(
            RecoverySettled(
                **self._common(settlement.at, settlement.actor_id),
                recovery_id=recovery.recovery_id,
                settlement_id=settlement.settlement_id,
                method=settlement.method,
                settled_minor=settlement.amount_minor,
                outstanding_minor=recovery.outstanding_minor,
                bank_reference=settlement.bank_reference,
                tranche_id=settlement.tranche_id,
            )
        )

    def _move(
        self, kind: TransferKind, transfer_id: str, amount_minor: int, now: datetime, actor_id: str, **refs: str
    ) -> None:
        """Queue a ledger transfer; a zero amount moves nothing and is not recorded."""
        if amount_minor == 0:
            return
        self.transfers.append(
            Transfer(
                transfer_id=transfer_id,
                kind=kind,
                programme_id=self.programme_id,
                award_id=self.award_id,
                amount_minor=amount_minor,
                currency=self.currency,
                at=now,
                actor_id=actor_id,
                refs={"award_id": self.award_id, **refs},
            )
        )

    def _schedule_view(self, tranche: Tranche) -> TrancheScheduleView:
        release = tranche.release
        return TrancheScheduleView(
            tranche_id=tranche.tranche_id,
            sequence=tranche.sequence,
            name=tranche.name,
            share_bp=tranche.share_bp,
            scheduled_minor=tranche.scheduled_minor,
            release=release.kind,
            cycle_kind=release.cycle_kind if isinstance(release, EvaluationRelease) else None,
            min_grade=release.min_grade if isinstance(release, EvaluationRelease) else None,
        )

    def _common(self, now: datetime, actor_id: str) -> dict[str, Any]:
        return {
            "award_id": self.award_id,
            "programme_id": self.programme_id,
            "application_id": self.application_id,
            "agreement_id": self.agreement_id,
            "recipient_partner_id": self.recipient_partner_id,
            "party_ids": self.party_ids,
            "currency": self.currency,
            "occurred_at": now,
            "actor_id": actor_id,
        }

    def _tranche_common(self, tranche: Tranche, now: datetime, actor_id: str) -> dict[str, Any]:
        return {
            **self._common(now, actor_id),
            "tranche_id": tranche.tranche_id,
            "sequence": tranche.sequence,
            "scheduled_minor": tranche.scheduled_minor,
        }

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Award:
        return cls.model_validate({k: v for k, v in document.items() if k != "_id"})
