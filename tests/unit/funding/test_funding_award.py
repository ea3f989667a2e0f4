from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_funding.domain.award import Award, AwardStatus
from alliance_funding.domain.execution import budget_execution
from alliance_funding.domain.ledger import AccountKind, Ledger, award_account, check_invariants, programme_account
from alliance_funding.domain.tranche import TrancheStatus, split_by_shares
from alliance_shared.contract import funding
from alliance_shared.contract.funding import EligibleTrigger, SettlementMethod
from alliance_shared.contract.vocabulary import CycleKind, Grade
from alliance_shared.errors import Conflict, DomainError, Forbidden, InvalidTransition
from tests.unit.funding.funding_support import (
    APPROVER,
    NOW,
    OFFICER,
    PROGRAMME_ID,
    approved_application,
    granted,
    open_programme,
    post_all,
)

AWARD = 1_000_000_00
T1, T2, T3 = "awd-1-t1", "awd-1-t2", "awd-1-t3"
AVAILABLE = programme_account(PROGRAMME_ID, AccountKind.AVAILABLE)


def bal(ledger: Ledger, kind: AccountKind) -> int:
    return ledger.balance(award_account("awd-1", kind))


def approve(award: Award, tranche_id: str, amount: int | None = None, **kwargs: Any) -> None:
    award.approve_tranche(
        tranche_id,
        approved_minor=amount if amount is not None else award.tranche(tranche_id).scheduled_minor,
        release_remainder=kwargs.pop("release_remainder", False),
        reason=kwargs.pop("reason", None),
        now=NOW,
        approver_id=kwargs.pop("approver_id", APPROVER),
    )


def pay_first_tranche(award: Award, ledger: Ledger) -> None:
    award.request_tranche(T1, NOW, OFFICER)
    approve(award, T1)
    award.confirm_payment(T1, "BANK-001", NOW, OFFICER)
    post_all(award, ledger)


def status(award: Award, tranche_id: str) -> TrancheStatus:
    return award.tranche(tranche_id).status


# --- grant ----------------------------------------------------------------------------


def test_granting_commits_the_award_and_releases_the_on_award_tranche() -> None:
    programme = open_programme()
    ledger = Ledger(PROGRAMME_ID)
    ledger.post(*programme.transfers)
    award = Award.grant(
        award_id="awd-1", application=approved_application(programme), programme=programme, now=NOW, actor_id=OFFICER
    )
    assert [t.scheduled_minor for t in award.tranches] == [300_000_00, 400_000_00, 300_000_00]
    [commit] = award.transfers
    assert (commit.transfer_id, commit.amount_minor) == ("awd-1:commit", AWARD)
    granted_event, eligible = award.events
    assert isinstance(granted_event, funding.AwardGranted)
    assert [t.scheduled_minor for t in granted_event.tranches] == [300_000_00, 400_000_00, 300_000_00]
    assert granted_event.tranches[1].cycle_kind is CycleKind.MID_TERM
    assert isinstance(eligible, funding.TrancheEligible)
    assert (eligible.tranche_id, eligible.trigger) == (T1, EligibleTrigger.ON_AWARD)
    post_all(award, ledger)
    assert bal(ledger, AccountKind.COMMITTED) == AWARD
    assert ledger.balance(AVAILABLE) == programme.appropriated_minor - AWARD
    assert [status(award, t) for t in (T1, T2, T3)] == [
        TrancheStatus.ELIGIBLE,
        TrancheStatus.SCHEDULED,
        TrancheStatus.SCHEDULED,
    ]


def test_an_award_too_small_to_split_is_refused() -> None:
    programme = open_programme()
    with pytest.raises(DomainError) as raised:
        Award.grant(
            award_id="awd-1", application=approved_application(programme, 2), programme=programme, now=NOW, actor_id="o"
        )
    assert raised.value.code == "award.amount_too_small"


def test_only_an_approved_application_is_awarded() -> None:
    programme = open_programme()
    application = approved_application(programme)
    application.status = application.status.SUBMITTED
    with pytest.raises(InvalidTransition):
        Award.grant(award_id="awd-1", application=application, programme=programme, now=NOW, actor_id="o")


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(0, 10**15),
    cuts=st.lists(st.integers(1, 9_999), max_size=8, unique=True),
)
def test_tranche_split_sums_exactly_with_the_remainder_on_the_last(amount: int, cuts: list[int]) -> None:
    points = [0, *sorted(cuts), 10_000]
    shares = [b - a for a, b in itertools.pairwise(points)]
    parts = split_by_shares(amount, shares)
    assert sum(parts) == amount
    assert parts[:-1] == [amount * share // 10_000 for share in shares[:-1]]
    assert 0 <= parts[-1] - amount * shares[-1] // 10_000 < len(shares)


# --- maker-checker, partial approval, payment -------------------------------------------


def test_the_preparer_cannot_approve_and_the_approval_disburses() -> None:
    award, ledger = granted()
    award.request_tranche(T1, NOW, OFFICER)
    requested = award.events[-1]
    assert isinstance(requested, funding.TrancheRequested)
    assert requested.prepared_by == OFFICER
    with pytest.raises(Forbidden) as raised:
        approve(award, T1, approver_id=OFFICER)
    assert raised.value.code == "tranche.maker_checker"
    assert status(award, T1) is TrancheStatus.REQUESTED
    approve(award, T1)
    approved = award.events[-1]
    assert isinstance(approved, funding.TrancheApproved)
    assert (approved.prepared_by, approved.approved_by, approved.approved_minor) == (OFFICER, APPROVER, 300_000_00)
    post_all(award, ledger)
    assert bal(ledger, AccountKind.DISBURSED) == 300_000_00
    assert bal(ledger, AccountKind.COMMITTED) == 700_000_00

    with pytest.raises(DomainError) as bank:
        award.confirm_payment(T1, " ", NOW, OFFICER)
    assert bank.value.code == "tranche.bank_reference_required"
    award.confirm_payment(T1, "BANK-001", NOW, OFFICER)
    [paid] = post_all(award, ledger)
    assert isinstance(paid, funding.TranchePaid)
    assert (paid.paid_minor, paid.offset_minor, paid.bank_reference) == (300_000_00, 0, "BANK-001")
    assert (bal(ledger, AccountKind.DISBURSED), bal(ledger, AccountKind.PAID)) == (0, 300_000_00)
    assert ledger.journal[-1].refs["bank_reference"] == "BANK-001"


@pytest.mark.parametrize("release", [False, True])
def test_partial_approval_keeps_or_releases_the_remainder(release: bool) -> None:
    award, ledger = granted()
    available_before = ledger.balance(AVAILABLE)
    award.request_tranche(T1, NOW, OFFICER)
    with pytest.raises(DomainError) as raised:
        approve(award, T1, 250_000_00, release_remainder=release)
    assert raised.value.code == "tranche.reason_required"
    with pytest.raises(DomainError) as raised:
        approve(award, T1, 300_000_01, reason="more")
    assert raised.value.code == "tranche.approval_out_of_range"
    approve(award, T1, 250_000_00, release_remainder=release, reason="equipment came in under quote")
    approved = post_all(award, ledger)[-1]
    assert isinstance(approved, funding.TrancheApproved)
    assert (approved.remainder_minor, approved.remainder_released) == (50_000_00, release)
    assert bal(ledger, AccountKind.DISBURSED) == 250_000_00
    if release:
        assert bal(ledger, AccountKind.COMMITTED) == 700_000_00
        assert ledger.balance(AVAILABLE) == available_before + 50_000_00
    else:
        assert bal(ledger, AccountKind.COMMITTED) == 750_000_00
        assert ledger.balance(AVAILABLE) == available_before
    assert award.committed_minor == bal(ledger, AccountKind.COMMITTED)


@pytest.mark.parametrize(
    ("action", "tranche_id"),
    [
        ("request", T2),  # scheduled: its evaluation has not come
        ("approve", T1),  # eligible but not requested
        ("pay", T1),
        ("release", T3),  # a manual tranche may be released …
    ],
)
def test_illegal_tranche_transitions_are_refused(action: str, tranche_id: str) -> None:
    award, _ = granted()
    if action == "release":
        award.release_manually(T3, NOW, OFFICER)
    calls = {
        "request": lambda: award.request_tranche(tranche_id, NOW, OFFICER),
        "approve": lambda: approve(award, tranche_id),
        "pay": lambda: award.confirm_payment(tranche_id, "B", NOW, OFFICER),
        "release": lambda: award.release_manually(tranche_id, NOW, OFFICER),  # … but only once
    }
    before = status(award, tranche_id)
    with pytest.raises(InvalidTransition):
        calls[action]()
    assert status(award, tranche_id) is before


def test_only_a_manual_tranche_is_released_by_hand() -> None:
    award, _ = granted()
    with pytest.raises(DomainError) as raised:
        award.release_manually(T2, NOW, OFFICER)
    assert raised.value.code == "tranche.not_manual"
    award.release_manually(T3, NOW, OFFICER)
    event = award.events[-1]
    assert isinstance(event, funding.TrancheEligible)
    assert event.trigger is EligibleTrigger.MANUAL


def test_a_paid_tranche_cannot_be_requested_or_paid_again() -> None:
    award, ledger = granted()
    pay_first_tranche(award, ledger)
    with pytest.raises(InvalidTransition):
        award.request_tranche(T1, NOW, OFFICER)
    with pytest.raises(InvalidTransition):
        award.confirm_payment(T1, "BANK-002", NOW, OFFICER)


# --- evaluations and rectifications -----------------------------------------------------


def test_the_evaluation_tranche_needs_its_cycle_kind_and_grade() -> None:
    award, _ = granted()
    award.apply_evaluation(result_id="r1", cycle_kind=CycleKind.ANNUAL, grade=Grade.EXCELLENT, now=NOW)
    award.apply_evaluation(result_id="r2", cycle_kind=CycleKind.MID_TERM, grade=Grade.FAIL, now=NOW)
    assert status(award, T2) is TrancheStatus.SCHEDULED
    award.events.clear()
    award.apply_evaluation(result_id="r3", cycle_kind=CycleKind.MID_TERM, grade=Grade.PASS, now=NOW)
    [eligible] = award.events
    assert isinstance(eligible, funding.TrancheEligible)
    assert (eligible.tranche_id, eligible.trigger, eligible.result_id) == (T2, EligibleTrigger.EVALUATION, "r3")
    assert status(award, T1) is TrancheStatus.ELIGIBLE  # on-award tranches carry no grade


def test_a_poor_evaluation_withholds_and_a_later_pass_releases_again() -> None:
    award, _ = granted()
    award.apply_evaluation(result_id="r1", cycle_kind=CycleKind.MID_TERM, grade=Grade.GOOD, now=NOW)
    award.request_tranche(T2, NOW, OFFICER)
    award.events.clear()
    award.apply_evaluation(result_id="r2", cycle_kind=CycleKind.ANNUAL, grade=Grade.FAIL, now=NOW)
    [withheld] = award.events
    assert isinstance(withheld, funding.TrancheWithheld)
    assert (withheld.tranche_id, withheld.holds, withheld.result_id) == (T2, ("evaluation",), "r2")
    assert award.tranche(T2).prepared_by is None
    with pytest.raises(InvalidTransition):
        approve(award, T2)
    award.apply_evaluation(result_id="r3", cycle_kind=CycleKind.ANNUAL, grade=Grade.PASS, now=NOW)
    lifted = award.events[-1]
    assert isinstance(lifted, funding.TrancheEligible)
    assert lifted.trigger is EligibleTrigger.HOLD_LIFTED
    assert status(award, T2) is TrancheStatus.ELIGIBLE
    award.request_tranche(T2, NOW, OFFICER)  # prepared again, on the new facts
    approve(award, T2)
    assert status(award, T2) is TrancheStatus.APPROVED


def test_an_overdue_rectification_holds_released_tranches_until_it_closes() -> None:
    award, _ = granted()
    award.apply_evaluation(result_id="r1", cycle_kind=CycleKind.MID_TERM, grade=Grade.PASS, now=NOW)
    award.request_tranche(T1, NOW, OFFICER)
    award.events.clear()
    award.rectification_overdue("ord-9", NOW)
    award.rectification_overdue("ord-9", NOW)  # a redelivered event changes nothing
    assert [status(award, t) for t in (T1, T2, T3)] == [
        TrancheStatus.WITHHELD,
        TrancheStatus.WITHHELD,
        TrancheStatus.SCHEDULED,
    ]
    assert [e.order_id for e in award.events if isinstance(e, funding.TrancheWithheld)] == ["ord-9", "ord-9"]
    # a failing evaluation stacks a second hold on the evaluation tranche
    award.apply_evaluation(result_id="r2", cycle_kind=CycleKind.ANNUAL, grade=Grade.FAIL, now=NOW)
    assert award.tranche(T2).holds == ("rectification:ord-9", "evaluation")
    award.release_manually(T3, NOW, OFFICER)  # released while the order is overdue: withheld at once
    assert status(award, T3) is TrancheStatus.WITHHELD
    award.events.clear()
    award.rectification_closed("ord-9", NOW)
    assert [status(award, t) for t in (T1, T2, T3)] == [
        TrancheStatus.ELIGIBLE,
        TrancheStatus.WITHHELD,
        TrancheStatus.ELIGIBLE,
    ]
    assert {e.tranche_id for e in award.events if isinstance(e, funding.TrancheEligible)} == {T1, T3}
    award.apply_evaluation(result_id="r3", cycle_kind=CycleKind.ANNUAL, grade=Grade.GOOD, now=NOW)
    assert status(award, T2) is TrancheStatus.ELIGIBLE


def test_a_grant_during_an_overdue_rectification_withholds_the_on_award_tranche() -> None:
    award, _ = granted(overdue_order_ids=["ord-1"])
    assert status(award, T1) is TrancheStatus.WITHHELD
    assert award.tranche(T1).holds == ("rectification:ord-1",)
    award.rectification_closed("ord-1", NOW)
    assert status(award, T1) is TrancheStatus.ELIGIBLE


def test_an_approved_tranche_is_not_withheld() -> None:
    award, _ = granted()
    award.request_tranche(T1, NOW, OFFICER)
    approve(award, T1)
    award.rectification_overdue("ord-2", NOW)
    assert status(award, T1) is TrancheStatus.APPROVED


# --- termination and recovery -----------------------------------------------------------


def test_termination_voids_the_commitment_cancels_tranches_and_orders_recovery() -> None:
    award, ledger = granted()
    pay_first_tranche(award, ledger)
    with pytest.raises(DomainError) as raised:
        award.terminate(
            reason="students never placed",
            now=NOW,
            actor_id=OFFICER,
            recovery_id="rec-1",
            recovery_minor=300_000_01,
            recovery_due_at=NOW + timedelta(days=30),
        )
    assert raised.value.code == "recovery.exceeds_paid"
    assert award.status is AwardStatus.ACTIVE
    award.terminate(
        reason="students never placed",
        now=NOW,
        actor_id=OFFICER,
        recovery_id="rec-1",
        recovery_minor=120_000_00,
        recovery_due_at=NOW + timedelta(days=30),
    )
    terminated, ordered = post_all(award, ledger)
    assert isinstance(terminated, funding.AwardTerminated)
    assert (terminated.voided_minor, terminated.recovery_ordered_minor) == (700_000_00, 120_000_00)
    assert terminated.cancelled_tranche_ids == (T2, T3)
    assert isinstance(ordered, funding.RecoveryOrdered)
    assert ordered.due_at == NOW + timedelta(days=30)
    assert bal(ledger, AccountKind.COMMITTED) == 0
    assert bal(ledger, AccountKind.PAID) == 180_000_00
    assert bal(ledger, AccountKind.RECOVERY_RECEIVABLE) == 120_000_00
    with pytest.raises(InvalidTransition):
        award.request_tranche(T2, NOW, OFFICER)
    with pytest.raises(InvalidTransition):
        award.terminate(reason="again", now=NOW, actor_id=OFFICER)

    award.settle_by_repayment(
        recovery_id="rec-1", settlement_id="s1", amount_minor=20_000_00, bank_reference="IN-1", now=NOW, actor_id="o"
    )
    with pytest.raises(Conflict):
        award.settle_by_repayment(
            recovery_id="rec-1", settlement_id="s1", amount_minor=1, bank_reference="IN-2", now=NOW, actor_id="o"
        )
    with pytest.raises(DomainError) as raised:
        award.settle_by_repayment(
            recovery_id="rec-1", settlement_id="s2", amount_minor=100_000_01, bank_reference="IN", now=NOW, actor_id="o"
        )
    assert raised.value.code == "recovery.settlement_out_of_range"
    [settled] = post_all(award, ledger)
    assert isinstance(settled, funding.RecoverySettled)
    assert (settled.method, settled.settled_minor, settled.outstanding_minor) == (
        SettlementMethod.REPAYMENT,
        20_000_00,
        100_000_00,
    )
    assert ledger.balance(programme_account(PROGRAMME_ID, AccountKind.RECOVERED)) == 20_000_00
    assert check_invariants(ledger.balances) == []


def test_a_recovery_is_settled_by_offset_against_a_later_tranche() -> None:
    award, ledger = granted()
    pay_first_tranche(award, ledger)
    award.order_recovery(
        recovery_id="rec-1",
        amount_minor=50_000_00,
        reason="ineligible spending on tranche 1",
        due_at=NOW + timedelta(days=30),
        now=NOW,
        actor_id=OFFICER,
    )
    post_all(award, ledger)
    award.release_manually(T3, NOW, OFFICER)
    award.request_tranche(T3, NOW, OFFICER)
    with pytest.raises(InvalidTransition):  # only an approved, unpaid tranche can take an offset
        award.settle_by_offset(
            recovery_id="rec-1", settlement_id="s1", tranche_id=T3, amount_minor=1, now=NOW, actor_id=OFFICER
        )
    approve(award, T3)
    post_all(award, ledger)
    award.settle_by_offset(
        recovery_id="rec-1", settlement_id="s1", tranche_id=T3, amount_minor=50_000_00, now=NOW, actor_id=OFFICER
    )
    assert [t.kind for t in award.transfers] == ["pay", "settle_recovery"]
    [settled] = post_all(award, ledger)
    assert isinstance(settled, funding.RecoverySettled)
    assert (settled.method, settled.tranche_id, settled.outstanding_minor) == (SettlementMethod.OFFSET, T3, 0)
    assert bal(ledger, AccountKind.RECOVERY_RECEIVABLE) == 0
    assert bal(ledger, AccountKind.DISBURSED) == 250_000_00
    award.confirm_payment(T3, "BANK-003", NOW, OFFICER)
    [paid] = post_all(award, ledger)
    assert isinstance(paid, funding.TranchePaid)
    assert (paid.approved_minor, paid.paid_minor, paid.offset_minor) == (300_000_00, 250_000_00, 50_000_00)
    # cash out: 300 + 250; kept by the recipient: 550; recovered by netting: 50
    assert bal(ledger, AccountKind.PAID) == 550_000_00
    figures = budget_execution(PROGRAMME_ID, ledger.balances)
    assert figures.recovered_minor == 50_000_00
    assert figures.committed_minor == 400_000_00
    assert check_invariants(ledger.balances) == []


def test_offsets_that_take_a_whole_tranche_pay_it_without_cash() -> None:
    award, ledger = granted()
    pay_first_tranche(award, ledger)
    award.order_recovery(
        recovery_id="rec-1",
        amount_minor=300_000_00,
        reason="misuse",
        due_at=NOW + timedelta(days=9),
        now=NOW,
        actor_id="o",
    )
    award.release_manually(T3, NOW, OFFICER)
    award.request_tranche(T3, NOW, OFFICER)
    approve(award, T3)
    with pytest.raises(DomainError) as raised:
        award.settle_by_offset(
            recovery_id="rec-1", settlement_id="s0", tranche_id=T3, amount_minor=300_000_01, now=NOW, actor_id="o"
        )
    assert raised.value.code == "recovery.settlement_out_of_range"
    award.settle_by_offset(
        recovery_id="rec-1", settlement_id="s1", tranche_id=T3, amount_minor=100_000_00, now=NOW, actor_id="o"
    )
    award.settle_by_offset(
        recovery_id="rec-1", settlement_id="s2", tranche_id=T3, amount_minor=200_000_00, now=NOW, actor_id="o"
    )
    events = post_all(award, ledger)
    paid = events[-1]
    assert isinstance(paid, funding.TranchePaid)
    assert (paid.paid_minor, paid.offset_minor, paid.bank_reference) == (0, 300_000_00, None)
    assert status(award, T3) is TrancheStatus.PAID
    assert bal(ledger, AccountKind.PAID) == 300_000_00
    assert award.recovery("rec-1").outstanding_minor == 0
    assert check_invariants(ledger.balances) == []


def test_a_recovery_cannot_exceed_what_was_paid_or_be_ordered_twice() -> None:
    award, ledger = granted()
    due = NOW + timedelta(days=5)
    with pytest.raises(DomainError) as raised:
        award.order_recovery(recovery_id="r", amount_minor=1, reason="x", due_at=due, now=NOW, actor_id="o")
    assert raised.value.code == "recovery.exceeds_paid"
    pay_first_tranche(award, ledger)
    award.order_recovery(recovery_id="r", amount_minor=1, reason="x", due_at=due, now=NOW, actor_id="o")
    with pytest.raises(Conflict):
        award.order_recovery(recovery_id="r", amount_minor=1, reason="x", due_at=due, now=NOW, actor_id="o")
    with pytest.raises(DomainError) as raised:
        award.order_recovery(recovery_id="r2", amount_minor=1, reason="x", due_at=NOW, now=NOW, actor_id="o")
    assert raised.value.code == "recovery.due_in_past"


def test_retried_commands_produce_the_same_transfer_ids() -> None:
    first, _ = granted()
    second, _ = granted()
    for award in (first, second):
        award.request_tranche(T1, NOW, OFFICER)
        approve(award, T1)
    assert (
        [t.transfer_id for t in first.transfers]
        == [t.transfer_id for t in second.transfers]
        == ["awd-1:awd-1-t1:disburse"]
    )


def test_an_award_document_round_trips_and_has_no_nested_arrays() -> None:
    award, ledger = granted()
    pay_first_tranche(award, ledger)
    award.order_recovery(
        recovery_id="r", amount_minor=10, reason="x", due_at=NOW + timedelta(days=1), now=NOW, actor_id="o"
    )
    document = award.to_document()

    def no_nested_arrays(value: Any) -> bool:
        if isinstance(value, list | tuple):
            return all(not isinstance(item, list | tuple) and no_nested_arrays(item) for item in value)
        if isinstance(value, dict):
            return all("." not in k and not k.startswith("$") and no_nested_arrays(v) for k, v in value.items())
        return True

    assert no_nested_arrays(document)
    restored = Award.from_document({"_id": "awd-1", **document})
    assert restored.to_document() == document
    assert ledger.to_document()["balances"] == ledger.balances


# --- the agreement stops ---------------------------------------------------------------


def test_a_stopped_agreement_holds_unpaid_tranches_and_a_resumption_releases_them() -> None:
    award, ledger = granted()
    pay_first_tranche(award, ledger)
    award.release_manually(T3, NOW, OFFICER)
    award.request_tranche(T3, NOW, OFFICER)
    award.events.clear()
    award.agreement_stopped("agreement:suspended", "停产整顿", NOW)
    assert (status(award, T1), status(award, T3)) == (TrancheStatus.PAID, TrancheStatus.WITHHELD)
    assert award.tranche(T3).prepared_by is None
    [withheld] = award.events
    assert isinstance(withheld, funding.TrancheWithheld)
    assert withheld.holds == ("agreement:suspended",)
    # a tranche released while the hold is on is held at once
    award.apply_evaluation(result_id="r1", cycle_kind=CycleKind.MID_TERM, grade=Grade.GOOD, now=NOW)
    assert award.tranche(T2).holds == ("agreement:suspended",)
    # suspended, then terminated: one agreement hold with the newest reason
    award.agreement_stopped("agreement:terminated", "企业退出", NOW)
    assert award.tranche(T3).holds == ("agreement:terminated",)
    assert award.agreement_hold_reason == "企业退出"
    award.agreement_reinstated(NOW)
    assert (status(award, T2), status(award, T3)) == (TrancheStatus.ELIGIBLE, TrancheStatus.ELIGIBLE)
    assert award.agreement_hold is None
    assert not award.transfers  # holds move no money


def test_an_award_granted_while_the_agreement_is_stopped_starts_held() -> None:
    award, _ = granted(agreement_hold="agreement:suspended", agreement_hold_reason="停产整顿")
    assert status(award, T1) is TrancheStatus.WITHHELD
    assert award.tranche(T1).holds == ("agreement:suspended",)
