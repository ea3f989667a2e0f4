"""Hypothesis stateful test: random sequences of awards, tranche releases, approvals
(full and partial), payments, terminations, recoveries (repaid or offset) and racing
commitments, against the domain and the in-memory book, with the invariants checked
after every step:

* debits = credits (the trial balance is zero) and no floored account is negative;
* balances recomputed from the journal equal the stored balances;
* paid <= awarded for every award;
* every award's state agrees with its accounts in the book (``reports.award_sync``);
* replaying any posting changes nothing.

Commands are run the way the use case runs them: decide on a copy of the award, post
its transfers to the book together, keep the new award only if the posting was
accepted (a refused command leaves both untouched). "Racing" commitments plan two
grants on the same balances and apply the second to the balances the first left, as
the store's version check forces (``apply_posting`` re-checks the guards).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from alliance_funding.domain.award import Award, AwardStatus
from alliance_funding.domain.ledger import (
    Ledger,
    apply_posting,
    check_invariants,
    plan_transfers,
    verify,
)
from alliance_funding.domain.tranche import TrancheStatus
from alliance_funding.service.reports import award_sync
from alliance_shared.contract.vocabulary import CycleKind, Grade
from alliance_shared.errors import DomainError
from tests.unit.funding.funding_support import NOW, OFFICER, PROGRAMME_ID, approved_application, open_programme

APPROVER = "approver-li"
BUDGET = 3_000_000_00  # small enough that grants compete for it


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.programme = open_programme(appropriated_minor=BUDGET)
        self.ledger = Ledger(PROGRAMME_ID)
        self.ledger.post(*self.programme.transfers)
        self.awards: dict[str, Award] = {}
        self.counter = 0
        self.clock = NOW
        self.refused = 0

    # --- helpers ----------------------------------------------------------------------

    def tick(self) -> None:
        self.clock += timedelta(minutes=1)

    def run(self, award_id: str, command: object) -> bool:
        """Decide on a copy, post its transfers together, keep it only if the book accepted."""
        award = self.awards[award_id].model_copy(deep=True)
        award.events.clear()
        award.transfers.clear()
        self.tick()
        try:
            command(award)  # type: ignore[operator]
            if award.transfers:
                self.ledger.post(*award.transfers)
        except DomainError as exc:
            self.refused += 1
            event(f"refused: {exc.code}")
            return False
        if award.transfers:  # the same posting again is a no-op
            assert self.ledger.post(*award.transfers) == ()
        event(f"accepted: {[e.event_type.split('.')[-2] for e in award.events] or 'no event'}")
        award.transfers.clear()
        award.events.clear()
        self.awards[award_id] = award
        return True

    def pick(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.awards)))

    def pick_tranche(self, data: st.DataObject, award_id: str, status: TrancheStatus) -> str:
        """Mostly a tranche in ``status`` (the step can succeed), sometimes any (it must be refused)."""
        tranches = self.awards[award_id].tranches
        fitting = [t for t in tranches if t.status is status]
        pool = fitting if fitting and data.draw(st.integers(0, 9)) else tranches
        return data.draw(st.sampled_from([t.tranche_id for t in pool]))

    def new_award(self, amount: int) -> Award:
        self.counter += 1
        self.tick()
        return Award.grant(
            award_id=f"awd-{self.counter}",
            application=approved_application(self.programme, amount),
            programme=self.programme,
            now=self.clock,
            actor_id=OFFICER,
        )

    # --- rules ------------------------------------------------------------------------

    @rule(amount=st.integers(min_value=10_000, max_value=1_000_000_00))
    def grant(self, amount: int) -> None:
        award = self.new_award(amount)
        try:
            self.ledger.post(*award.transfers)
        except DomainError as exc:
            self.refused += 1
            event(f"grant refused: {exc.code}")
            return
        award.transfers.clear()
        award.events.clear()
        self.awards[award.award_id] = award

    @rule(
        a=st.integers(min_value=10_000, max_value=1_000_000_00), b=st.integers(min_value=10_000, max_value=1_000_000_00)
    )
    def racing_grants(self, a: int, b: int) -> None:
        first, second = self.new_award(a), self.new_award(b)
        plans = []
        for award in (first, second):
            try:
                plans.append(
                    plan_transfers(award.transfers, self.ledger.balances, programme_id=PROGRAMME_ID, currency="CNY")
                )
            except DomainError:
                plans.append(None)
        # both decided on the same balances; the store serialises them: the second is
        # applied to what the first left, its guards checked again
        for award, plan in zip((first, second), plans, strict=True):
            if plan is None:
                continue
            try:
                apply_posting(self.ledger.balances, plan)
            except DomainError:
                self.refused += 1
                event("racing grant refused on re-check")
                continue
            self.ledger.post(*award.transfers)
            award.transfers.clear()
            award.events.clear()
            self.awards[award.award_id] = award

    @precondition(lambda self: self.awards)
    @rule(data=st.data(), grade=st.sampled_from(list(Grade)))
    def evaluation(self, data: st.DataObject, grade: Grade) -> None:
        award_id = self.pick(data)
        self.run(
            award_id,
            lambda a: a.apply_evaluation(
                result_id=f"res-{self.counter}-{self.clock.timestamp()}",
                cycle_kind=CycleKind.MID_TERM,
                grade=grade,
                now=self.clock,
            ),
        )

    @precondition(lambda self: self.awards)
    @rule(data=st.data(), overdue=st.booleans(), dice=st.integers(0, 2))
    def rectification(self, data: st.DataObject, overdue: bool, dice: int) -> None:
        if dice:  # rarer than the money steps
            return
        award_id = self.pick(data)
        if overdue:
            self.run(award_id, lambda a: a.rectification_overdue("ord-1", self.clock))
        else:
            self.run(award_id, lambda a: a.rectification_closed("ord-1", self.clock))

    @precondition(lambda self: self.awards)
    @rule(data=st.data())
    def release_manual(self, data: st.DataObject) -> None:
        award_id = self.pick(data)
        self.run(award_id, lambda a: a.release_manually(a.tranches[-1].tranche_id, self.clock, OFFICER))

    @precondition(lambda self: self.awards)
    @rule(data=st.data())
    def request(self, data: st.DataObject) -> None:
        award_id = self.pick(data)
        tranche_id = self.pick_tranche(data, award_id, TrancheStatus.ELIGIBLE)
        self.run(award_id, lambda a: a.request_tranche(tranche_id, self.clock, OFFICER))

    @precondition(lambda self: self.awards)
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100), release=st.booleans(), dice=st.integers(0, 4))
    def approve(self, data: st.DataObject, share: int, release: bool, dice: int) -> None:
        same_person = dice == 0
        award_id = self.pick(data)
        tranche = self.awards[award_id].tranche(self.pick_tranche(data, award_id, TrancheStatus.REQUESTED))
        amount = max(1, tranche.scheduled_minor * share // 100)
        approver = OFFICER if same_person else APPROVER
        accepted = self.run(
            award_id,
            lambda a: a.approve_tranche(
                tranche.tranche_id,
                approved_minor=amount,
                release_remainder=release,
                reason="partial" if amount < tranche.scheduled_minor else None,
                now=self.clock,
                approver_id=approver,
            ),
        )
        if same_person and tranche.prepared_by == OFFICER:
            assert not accepted, "maker-checker: the preparer approved"

    @precondition(lambda self: self.awards)
    @rule(data=st.data(), share=st.integers(min_value=50, max_value=100), release=st.booleans(), pay=st.booleans())
    def push_through(self, data: st.DataObject, share: int, release: bool, pay: bool) -> None:
        """Request, approve (maybe partly) and maybe pay an eligible tranche: reach the deep states."""
        award_id = self.pick(data)
        eligible = [t for t in self.awards[award_id].tranches if t.status is TrancheStatus.ELIGIBLE]
        if not eligible:
            return
        tranche = eligible[0]
        amount = max(1, tranche.scheduled_minor * share // 100)
        self.run(award_id, lambda a: a.request_tranche(tranche.tranche_id, self.clock, OFFICER))
        self.run(
            award_id,
            lambda a: a.approve_tranche(
                tranche.tranche_id,
                approved_minor=amount,
                release_remainder=release,
                reason="partial" if amount < tranche.scheduled_minor else None,
                now=self.clock,
                approver_id=APPROVER,
            ),
        )
        if pay:
            self.run(award_id, lambda a: a.confirm_payment(tranche.tranche_id, "BANK-P", self.clock, OFFICER))

    @precondition(lambda self: self.awards)
    @rule(data=st.data())
    def release_remainder(self, data: st.DataObject) -> None:
        """A remainder a partial approval kept, released later (refused when none is kept)."""
        award_id = self.pick(data)
        tranche = data.draw(st.sampled_from(self.awards[award_id].tranches))
        self.run(award_id, lambda a: a.release_remainder(tranche.tranche_id, self.clock, APPROVER))

    @precondition(lambda self: self.awards)
    @rule(data=st.data(), how=st.sampled_from(["suspended", "terminated", None]))
    def agreement(self, data: st.DataObject, how: str | None) -> None:
        """The registry stops or resumes the agreement: holds move no money."""
        award_id = self.pick(data)
        if how is None:
            self.run(award_id, lambda a: a.agreement_reinstated(self.clock))
        else:
            self.run(award_id, lambda a: a.agreement_stopped(f"agreement:{how}", "registry", self.clock))

    @precondition(lambda self: self.awards)
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        award_id = self.pick(data)
        tranche_id = self.pick_tranche(data, award_id, TrancheStatus.APPROVED)
        self.run(award_id, lambda a: a.confirm_payment(tranche_id, f"BANK-{self.counter}", self.clock, OFFICER))

    @precondition(lambda self: self.awards)
    @rule(data=st.data(), recover=st.integers(min_value=0, max_value=100), dice=st.integers(0, 3))
    def terminate(self, data: st.DataObject, recover: int, dice: int) -> None:
        if dice:  # terminations end awards: keep them rarer than the other steps
            return
        award_id = self.pick(data)
        award = self.awards[award_id]
        amount = award.recoverable_minor * recover // 100
        self.run(
            award_id,
            lambda a: a.terminate(
                reason="ended",
                now=self.clock,
                actor_id=OFFICER,
                recovery_id=f"rec-t-{self.counter}" if amount else None,
                recovery_minor=amount,
                recovery_due_at=self.clock + timedelta(days=30) if amount else None,
            ),
        )

    @precondition(lambda self: self.awards)
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=120))
    def order_recovery(self, data: st.DataObject, share: int) -> None:
        award_id = self.pick(data)
        amount = max(1, self.awards[award_id].recoverable_minor * share // 100)
        self.counter += 1
        self.run(
            award_id,
            lambda a: a.order_recovery(
                recovery_id=f"rec-{self.counter}",
                amount_minor=amount,
                reason="ineligible spend",
                due_at=self.clock + timedelta(days=30),
                now=self.clock,
                actor_id=OFFICER,
            ),
        )

    @precondition(lambda self: any(a.recoveries for a in self.awards.values()))
    @rule(data=st.data(), share=st.integers(min_value=1, max_value=120), offset=st.booleans())
    def settle(self, data: st.DataObject, share: int, offset: bool) -> None:
        award_id = data.draw(st.sampled_from(sorted(k for k, a in self.awards.items() if a.recoveries)))
        award = self.awards[award_id]
        recovery = data.draw(st.sampled_from(award.recoveries))
        amount = max(1, recovery.outstanding_minor * share // 100)
        self.counter += 1
        settlement_id = f"s-{self.counter}"
        if offset:
            tranche_id = self.pick_tranche(data, award_id, TrancheStatus.APPROVED)
            self.run(
                award_id,
                lambda a: a.settle_by_offset(
                    recovery_id=recovery.recovery_id,
                    settlement_id=settlement_id,
                    tranche_id=tranche_id,
                    amount_minor=amount,
                    now=self.clock,
                    actor_id=OFFICER,
                ),
            )
        else:
            self.run(
                award_id,
                lambda a: a.settle_by_repayment(
                    recovery_id=recovery.recovery_id,
                    settlement_id=settlement_id,
                    amount_minor=amount,
                    bank_reference="BOC-1",
                    now=self.clock,
                    actor_id=OFFICER,
                ),
            )

    @precondition(lambda self: any(a.recoveries for a in self.awards.values()))
    @rule(data=st.data(), by_maker=st.booleans())
    def write_off(self, data: st.DataObject, by_maker: bool) -> None:
        """An officer proposes writing off what is outstanding; an approver (sometimes the
        maker himself: refused) approves it in the same step."""
        award_id = data.draw(st.sampled_from(sorted(k for k, a in self.awards.items() if a.recoveries)))
        recovery = data.draw(st.sampled_from(self.awards[award_id].recoveries))

        def write_off(award: Award) -> None:
            award.propose_write_off(recovery.recovery_id, reason="uncollectable", now=self.clock, actor_id=OFFICER)
            award.approve_write_off(recovery.recovery_id, now=self.clock, approver_id=OFFICER if by_maker else APPROVER)

        self.run(award_id, write_off)

    # --- invariants -------------------------------------------------------------------

    @invariant()
    def book_balances(self) -> None:
        assert check_invariants(self.ledger.balances) == []
        assert sum(self.ledger.balances.values()) == 0

    @invariant()
    def journal_matches_balances(self) -> None:
        assert verify(self.ledger.journal, self.ledger.balances) == {}

    @invariant()
    def awards_agree_with_book(self) -> None:
        for award in self.awards.values():
            assert award.paid_total_minor <= award.amount_minor
            assert sum(t.paid_minor or 0 for t in award.tranches) <= award.amount_minor
            sync = award_sync(award, self.ledger.balances)
            assert sync["in_sync"], sync
            owed = [r for r in award.recoveries if r.outstanding_minor]
            assert award.recovery_open == bool(owed)
            assert all(r.status in ("settled", "written_off") for r in award.recoveries if r not in owed)
            if award.status is AwardStatus.TERMINATED:
                assert all(t.status is not TrancheStatus.REQUESTED for t in award.tranches)

    @invariant()
    def never_overcommitted(self) -> None:
        committed = sum(a.amount_minor - a.released_minor - a.voided_minor for a in self.awards.values())
        assert committed <= BUDGET


LedgerMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLedgerMachine = LedgerMachine.TestCase
