from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pydantic import ValidationError

from alliance_funding.domain.execution import budget_execution
from alliance_funding.domain.ledger import (
    AccountKind,
    AppliedTransfer,
    JournalEntry,
    Ledger,
    Posting,
    Transfer,
    TransferKind,
    apply_posting,
    award_account,
    balances_from,
    check_invariants,
    is_floored,
    plan_batch,
    plan_transfer,
    plan_transfers,
    programme_account,
    verify,
)
from alliance_shared.errors import Conflict, DomainError
from tests.unit.funding.funding_support import NOW

P = "prg-1"
AVAILABLE = programme_account(P, AccountKind.AVAILABLE)
APPROPRIATION = programme_account(P, AccountKind.APPROPRIATION)
RECOVERED = programme_account(P, AccountKind.RECOVERED)


def transfer(transfer_id: str, kind: TransferKind, amount: int, award_id: str | None = None, **refs: str) -> Transfer:
    return Transfer(
        transfer_id=transfer_id,
        kind=kind,
        programme_id=P,
        award_id=award_id,
        amount_minor=amount,
        at=NOW,
        actor_id="officer",
        refs=refs,
    )


def acct(award_id: str, kind: AccountKind) -> str:
    return award_account(award_id, kind)


# --- the chart, a single transfer, the journal ---------------------------------------


def test_each_transfer_kind_follows_its_route_and_keeps_the_trial_balance_at_zero() -> None:
    ledger = Ledger(P)
    ledger.post(transfer("t1", TransferKind.APPROPRIATE, 1000))
    ledger.post(transfer("t2", TransferKind.COMMIT, 600, "a1"))
    ledger.post(transfer("t3", TransferKind.VOID, 100, "a1"))
    ledger.post(transfer("t4", TransferKind.DISBURSE, 300, "a1"))
    ledger.post(transfer("t5", TransferKind.PAY, 300, "a1", bank_reference="B-1"))
    ledger.post(transfer("t6", TransferKind.ORDER_RECOVERY, 50, "a1"))
    ledger.post(transfer("t7", TransferKind.SETTLE_RECOVERY, 20, "a1"))
    assert ledger.balances == {
        APPROPRIATION: -1000,
        AVAILABLE: 500,
        acct("a1", AccountKind.COMMITTED): 200,
        acct("a1", AccountKind.DISBURSED): 0,
        acct("a1", AccountKind.PAID): 250,
        acct("a1", AccountKind.RECOVERY_RECEIVABLE): 30,
        RECOVERED: 20,
    }
    assert check_invariants(ledger.balances) == []
    assert verify(ledger.journal, ledger.balances) == {}
    pay = ledger.journal[4]
    assert (pay.debit_account, pay.credit_account, pay.refs) == (
        acct("a1", AccountKind.PAID),
        acct("a1", AccountKind.DISBURSED),
        {"bank_reference": "B-1"},
    )
    figures = budget_execution(P, ledger.balances)
    assert (figures.appropriated_minor, figures.paid_minor, figures.recovered_minor) == (1000, 250, 20)
    assert figures.execution_rate_bp == 2500
    parts = (
        figures.available_minor
        + figures.committed_minor
        + figures.disbursed_minor
        + figures.paid_minor
        + figures.recovery_receivable_minor
        + figures.recovered_minor
    )
    assert parts == figures.appropriated_minor


def test_the_execution_rate_rounds_down_and_is_zero_without_appropriation() -> None:
    assert budget_execution(P, {}).execution_rate_bp == 0
    balances = {APPROPRIATION: -3, acct("a", AccountKind.PAID): 2, AVAILABLE: 1}
    assert budget_execution(P, balances).execution_rate_bp == 6666  # 2/3 = 0.66666…


def test_a_posting_gives_exact_deltas_and_guards_only_on_what_decreases() -> None:
    balances = {APPROPRIATION: -1000, AVAILABLE: 1000}
    posting = plan_transfer(transfer("c1", TransferKind.COMMIT, 400, "a1"), balances, programme_id=P, currency="CNY")
    assert posting is not None
    assert posting.deltas == {AVAILABLE: -400, acct("a1", AccountKind.COMMITTED): 400}
    assert posting.guards == {AVAILABLE: 400}
    assert posting.transfer_ids == ("c1",)
    assert all(":" in key and "." not in key and not key.startswith("$") for key in posting.deltas)
    appropriation = plan_transfer(transfer("a", TransferKind.APPROPRIATE, 5), {}, programme_id=P, currency="CNY")
    assert appropriation is not None
    assert appropriation.guards == {}  # the source account may go as negative as the budget is large


def test_a_batch_guards_the_lowest_point_of_each_account_not_only_its_net_change() -> None:
    # committed goes +0 -300 +300: net 0, but it must hold 300 before the batch
    batch = [
        transfer("d", TransferKind.DISBURSE, 300, "a1"),
        transfer("v", TransferKind.VOID, 1, "a1"),
    ]
    posting = plan_transfers(
        batch, {acct("a1", AccountKind.COMMITTED): 301}, programme_id=P, currency="CNY", applied=()
    )
    assert posting is not None
    assert posting.guards == {acct("a1", AccountKind.COMMITTED): 301}
    offset = [
        transfer("op", TransferKind.PAY, 70, "a1", method="offset"),
        transfer("os", TransferKind.SETTLE_RECOVERY, 70, "a1", method="offset"),
    ]
    balances = {acct("a1", AccountKind.DISBURSED): 100, acct("a1", AccountKind.RECOVERY_RECEIVABLE): 70}
    posting = plan_transfers(offset, balances, programme_id=P, currency="CNY")
    assert posting is not None
    assert posting.deltas == {
        acct("a1", AccountKind.DISBURSED): -70,
        acct("a1", AccountKind.PAID): 70,
        acct("a1", AccountKind.RECOVERY_RECEIVABLE): -70,
        RECOVERED: 70,
    }


@pytest.mark.parametrize(
    ("balances", "kind", "amount", "short_account"),
    [
        ({AVAILABLE: 99}, TransferKind.COMMIT, 100, AVAILABLE),
        ({}, TransferKind.VOID, 1, acct("a1", AccountKind.COMMITTED)),
        ({acct("a1", AccountKind.COMMITTED): 5}, TransferKind.DISBURSE, 6, acct("a1", AccountKind.COMMITTED)),
        ({acct("a1", AccountKind.DISBURSED): 0}, TransferKind.PAY, 1, acct("a1", AccountKind.DISBURSED)),
        ({acct("a1", AccountKind.PAID): 10}, TransferKind.ORDER_RECOVERY, 11, acct("a1", AccountKind.PAID)),
        (
            {acct("a1", AccountKind.RECOVERY_RECEIVABLE): 3},
            TransferKind.SETTLE_RECOVERY,
            4,
            acct("a1", AccountKind.RECOVERY_RECEIVABLE),
        ),
    ],
)
def test_no_floored_account_may_go_negative(
    balances: dict[str, int], kind: TransferKind, amount: int, short_account: str
) -> None:
    with pytest.raises(DomainError) as raised:
        plan_transfer(transfer("x", kind, amount, "a1"), balances, programme_id=P, currency="CNY")
    assert raised.value.code == "ledger.insufficient_funds"
    assert raised.value.extensions["account"] == short_account
    assert raised.value.extensions["required"] == amount


def test_a_transfer_for_another_book_or_currency_is_refused() -> None:
    other = Transfer(
        transfer_id="x", kind=TransferKind.APPROPRIATE, programme_id="prg-2", amount_minor=1, at=NOW, actor_id="o"
    )
    with pytest.raises(DomainError, match="prg-2") as raised:
        plan_transfer(other, {}, programme_id=P, currency="CNY")
    assert raised.value.code == "ledger.wrong_programme"
    euros = transfer("y", TransferKind.APPROPRIATE, 1).model_copy(update={"currency": "EUR"})
    with pytest.raises(DomainError) as raised:
        plan_transfer(euros, {}, programme_id=P, currency="CNY")
    assert raised.value.code == "ledger.currency_mismatch"


@pytest.mark.parametrize(
    "fields",
    [
        {"amount_minor": 0},
        {"amount_minor": -5},
        {"amount_minor": 1.5},
        {"amount_minor": True},
        {"kind": TransferKind.COMMIT, "award_id": None},
        {"kind": TransferKind.APPROPRIATE, "award_id": "a1"},
        {"award_id": "a.1"},
        {"award_id": "a:1"},
        {"award_id": "$a"},
        {"at": NOW.replace(tzinfo=None)},
        {"refs": {"bad.key": "v"}},
    ],
)
def test_malformed_transfers_cannot_be_built(fields: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "transfer_id": "t",
        "kind": TransferKind.COMMIT,
        "programme_id": P,
        "award_id": "a1",
        "amount_minor": 10,
        "at": NOW,
        "actor_id": "o",
    }
    with pytest.raises(ValidationError):
        Transfer.model_validate({**base, **fields})


def test_replays_change_nothing_and_a_reused_id_with_other_content_is_a_conflict() -> None:
    ledger = Ledger(P)
    first = transfer("t1", TransferKind.APPROPRIATE, 1000)
    assert len(ledger.post(first)) == 1
    before = dict(ledger.balances)
    assert ledger.post(first) == ()
    assert ledger.balances == before
    assert len(ledger.journal) == 1
    with pytest.raises(Conflict) as raised:
        ledger.post(transfer("t1", TransferKind.APPROPRIATE, 999))
    assert raised.value.code == "ledger.transfer_id_reused"
    with pytest.raises(Conflict) as raised:
        ledger.post(first, transfer("t2", TransferKind.APPROPRIATE, 1))
    assert raised.value.code == "ledger.partial_replay"
    assert ledger.balances == before


def test_a_batch_refuses_a_failing_posting_alone_and_decides_each_on_the_ones_before_it() -> None:
    ledger = Ledger(P)
    ledger.post(transfer("t0", TransferKind.APPROPRIATE, 1000))
    known = {"t0": AppliedTransfer.of(transfer("t0", TransferKind.APPROPRIATE, 1000), posting="t0")}
    requests = [
        [transfer("t1", TransferKind.COMMIT, 600, "a1")],
        [transfer("t2", TransferKind.COMMIT, 500, "a2")],  # 400 left after t1: refused alone
        [transfer("t3", TransferKind.COMMIT, 400, "a3"), transfer("t4", TransferKind.DISBURSE, 100, "a3")],
        [transfer("t0", TransferKind.APPROPRIATE, 1000)],  # applied before: a replay
        [transfer("t1", TransferKind.COMMIT, 600, "a1")],  # applied earlier in this batch: a replay
        [transfer("t3", TransferKind.COMMIT, 1, "a3")],  # same id, other amount: refused alone
        [transfer("t5", TransferKind.VOID, 100, "a1")],  # decided on t1's commitment
    ]
    plan = plan_batch(requests, ledger.balances, programme_id=P, currency="CNY", known=known)

    _, refused, _, replay, repeat, reused, _ = plan.outcomes
    assert isinstance(refused, DomainError)
    assert refused.code == "ledger.insufficient_funds"
    assert isinstance(reused, Conflict)
    assert reused.code == "ledger.transfer_id_reused"
    assert (replay, repeat) == (None, None)
    assert [p.transfer_ids for p in plan.postings] == [("t1",), ("t3", "t4"), ("t5",)]
    assert [(a.transfer_id, a.posting) for a in plan.applied] == [
        ("t1", "t1"),
        ("t3", "t3"),
        ("t4", "t3"),
        ("t5", "t5"),
    ]
    # the batch's balances are the postings applied one after the other
    for posting in plan.postings:
        ledger.balances = apply_posting(ledger.balances, posting)
    assert plan.balances == ledger.balances
    assert plan.balances[AVAILABLE] == 100
    assert plan.balances[acct("a3", AccountKind.DISBURSED)] == 100
    assert check_invariants(plan.balances) == []


def test_verify_names_the_accounts_that_disagree_with_the_journal() -> None:
    ledger = Ledger(P)
    ledger.post(transfer("t1", TransferKind.APPROPRIATE, 1000), transfer("t2", TransferKind.COMMIT, 300, "a1"))
    tampered = {**ledger.balances, AVAILABLE: 800}
    assert verify(ledger.journal, tampered) == {AVAILABLE: 100}
    assert check_invariants(tampered) == ["debits and credits differ by 100"]
    assert check_invariants({AVAILABLE: -1, APPROPRIATION: 1}) == [f"{AVAILABLE} is negative (-1)"]
    document = ledger.to_document()
    assert document["balances"] == ledger.balances
    assert document["applied"] == ["t1", "t2"]


# --- two writers against one programme ledger document --------------------------------


def conditional_update(document: dict[str, Any], posting: Posting) -> bool:
    """What ``update_one({_id, balances.<a>: {$gte: need}, applied: {$nin: ids}}, {$inc, $push})``
    does to a document on a server whose single-document updates are atomic."""
    balances = document["balances"]
    if any(balances.get(account, 0) < needed for account, needed in posting.guards.items()):
        return False
    if set(posting.transfer_ids) & set(document["applied"]):
        return False
    for account, delta in posting.deltas.items():
        balances[account] = balances.get(account, 0) + delta
    document["applied"].extend(posting.transfer_ids)
    document["journal"].extend(posting.entries)
    return True


def test_two_concurrent_commits_the_second_guard_fails_when_the_first_took_the_money() -> None:
    document: dict[str, Any] = {"balances": {APPROPRIATION: -1000, AVAILABLE: 1000}, "applied": ["t0"], "journal": []}
    read_by_both = dict(document["balances"])
    first = plan_transfer(
        transfer("c-a1", TransferKind.COMMIT, 700, "a1"), read_by_both, programme_id=P, currency="CNY"
    )
    second = plan_transfer(
        transfer("c-a2", TransferKind.COMMIT, 600, "a2"), read_by_both, programme_id=P, currency="CNY"
    )
    assert first is not None
    assert second is not None  # each alone fits the balances both read
    assert conditional_update(document, first)
    assert not conditional_update(document, second)
    assert document["balances"][AVAILABLE] == 300
    assert acct("a2", AccountKind.COMMITTED) not in document["balances"]
    # the loser re-plans on fresh balances and is refused outright
    with pytest.raises(DomainError) as raised:
        plan_transfer(
            transfer("c-a2", TransferKind.COMMIT, 600, "a2"), document["balances"], programme_id=P, currency="CNY"
        )
    assert raised.value.code == "ledger.insufficient_funds"
    # a retry of the winner is a replay: planned as nothing, and the applied-guard refuses it anyway
    assert (
        plan_transfer(
            transfer("c-a1", TransferKind.COMMIT, 700, "a1"),
            document["balances"],
            programme_id=P,
            currency="CNY",
            applied=document["applied"],
        )
        is None
    )
    assert not conditional_update(document, first)
    assert [entry.transfer_id for entry in document["journal"]] == ["c-a1"]


def test_apply_posting_rechecks_the_guards_against_the_balances_it_is_given() -> None:
    posting = plan_transfer(
        transfer("c", TransferKind.COMMIT, 700, "a1"), {AVAILABLE: 1000}, programme_id=P, currency="CNY"
    )
    assert posting is not None
    assert apply_posting({AVAILABLE: 1000}, posting)[AVAILABLE] == 300
    with pytest.raises(DomainError) as raised:
        apply_posting({AVAILABLE: 699}, posting)
    assert raised.value.code == "ledger.insufficient_funds"


# --- the stateful property test --------------------------------------------------------

AMOUNTS = st.integers(min_value=1, max_value=3_000)
AWARDS = st.sampled_from(["a1", "a2", "a3"])


def award_figures(journal: Iterable[JournalEntry], award_id: str) -> dict[TransferKind, int]:
    totals = dict.fromkeys(TransferKind, 0)
    for entry in journal:
        if award_id in (entry.debit_account.split(":")[1], entry.credit_account.split(":")[1]):
            totals[entry.kind] += entry.amount_minor
    return totals


class LedgerMachine(RuleBasedStateMachine):
    """Random appropriations, commits, voids, disbursements, payments, recoveries,
    settlements (by repayment and by offset) and replays against one programme's book."""

    @initialize(budget=AMOUNTS)
    def start(self, budget: int) -> None:
        self.ledger = Ledger(P)
        self.ids = itertools.count(1)
        self.applied: list[tuple[Transfer, ...]] = []
        self.attempt(self.new(TransferKind.APPROPRIATE, budget))

    def attempt(self, *transfers: Transfer) -> None:
        before_balances = dict(self.ledger.balances)
        before_journal = len(self.ledger.journal)
        if self.would_go_negative(before_balances, transfers):
            with pytest.raises(DomainError) as refused:
                self.ledger.post(*transfers)
            assert refused.value.code == "ledger.insufficient_funds"
            assert self.ledger.balances == before_balances
            assert len(self.ledger.journal) == before_journal
            return
        entries = self.ledger.post(*transfers)
        assert len(entries) == len(transfers)
        expected = dict(before_balances)
        for t in transfers:
            expected[t.source] = expected.get(t.source, 0) - t.amount_minor
            expected[t.destination] = expected.get(t.destination, 0) + t.amount_minor
        assert self.ledger.balances == expected
        self.applied.append(transfers)

    @staticmethod
    def would_go_negative(balances: Mapping[str, int], transfers: Iterable[Transfer]) -> bool:
        running = dict(balances)
        for t in transfers:
            running[t.source] = running.get(t.source, 0) - t.amount_minor
            running[t.destination] = running.get(t.destination, 0) + t.amount_minor
            if running[t.source] < 0 and is_floored(t.source):
                return True
        return False

    def new(self, kind: TransferKind, amount: int, award_id: str | None = None, **refs: str) -> Transfer:
        return transfer(f"t{next(self.ids)}", kind, amount, award_id, **refs)

    def amount(self, data: st.DataObject, kind: TransferKind, award_id: str) -> int:
        """Mostly an amount the source can bear (so money flows deep), sometimes any amount."""
        source = transfer("probe", kind, 1, award_id).source
        balance = self.ledger.balance(source)
        if balance > 0 and not data.draw(st.booleans(), label="any amount"):
            return data.draw(st.integers(1, balance))
        return data.draw(AMOUNTS)

    @rule(amount=AMOUNTS)
    def appropriate(self, amount: int) -> None:
        self.attempt(self.new(TransferKind.APPROPRIATE, amount))

    @rule(award_id=AWARDS, data=st.data())
    def commit(self, award_id: str, data: st.DataObject) -> None:
        self.attempt(self.new(TransferKind.COMMIT, self.amount(data, TransferKind.COMMIT, award_id), award_id))

    @rule(award_id=AWARDS, data=st.data())
    def void(self, award_id: str, data: st.DataObject) -> None:
        self.attempt(self.new(TransferKind.VOID, self.amount(data, TransferKind.VOID, award_id), award_id))

    @rule(award_id=AWARDS, data=st.data())
    def disburse(self, award_id: str, data: st.DataObject) -> None:
        self.attempt(self.new(TransferKind.DISBURSE, self.amount(data, TransferKind.DISBURSE, award_id), award_id))

    @rule(award_id=AWARDS, data=st.data())
    def pay(self, award_id: str, data: st.DataObject) -> None:
        amount = self.amount(data, TransferKind.PAY, award_id)
        self.attempt(self.new(TransferKind.PAY, amount, award_id, bank_reference="B"))

    @rule(award_id=AWARDS, data=st.data())
    def order_recovery(self, award_id: str, data: st.DataObject) -> None:
        amount = self.amount(data, TransferKind.ORDER_RECOVERY, award_id)
        self.attempt(self.new(TransferKind.ORDER_RECOVERY, amount, award_id))

    @rule(award_id=AWARDS, data=st.data())
    def settle_by_repayment(self, award_id: str, data: st.DataObject) -> None:
        amount = self.amount(data, TransferKind.SETTLE_RECOVERY, award_id)
        self.attempt(self.new(TransferKind.SETTLE_RECOVERY, amount, award_id, method="repayment"))

    @rule(award_id=AWARDS, data=st.data())
    def settle_by_offset(self, award_id: str, data: st.DataObject) -> None:
        self.settle_with_offset(award_id, self.amount(data, TransferKind.SETTLE_RECOVERY, award_id))

    @rule(award_id=AWARDS, data=st.data(), by_offset=st.booleans())
    def award_lifecycle(self, award_id: str, data: st.DataObject, by_offset: bool) -> None:
        """Drive one award down the whole chain in a step, so deep flows are common."""
        for kind in (
            TransferKind.COMMIT,
            TransferKind.DISBURSE,
            TransferKind.PAY,
            TransferKind.ORDER_RECOVERY,
        ):
            self.attempt(self.new(kind, self.amount(data, kind, award_id), award_id))
        settled = self.amount(data, TransferKind.SETTLE_RECOVERY, award_id)
        if by_offset:
            self.settle_with_offset(award_id, settled)
        else:
            self.attempt(self.new(TransferKind.SETTLE_RECOVERY, settled, award_id, method="repayment"))

    def settle_with_offset(self, award_id: str, amount: int) -> None:
        self.attempt(
            self.new(TransferKind.PAY, amount, award_id, method="offset"),
            self.new(TransferKind.SETTLE_RECOVERY, amount, award_id, method="offset"),
        )

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data())
    def reuse_an_id_for_another_movement(self, data: st.DataObject) -> None:
        earlier = data.draw(st.sampled_from(self.applied))[0]
        altered = earlier.model_copy(update={"amount_minor": earlier.amount_minor + 1})
        before = (dict(self.ledger.balances), list(self.ledger.journal))
        with pytest.raises(Conflict):
            self.ledger.post(altered)
        assert (self.ledger.balances, self.ledger.journal) == before

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        transfers = data.draw(st.sampled_from(self.applied))
        before = (dict(self.ledger.balances), list(self.ledger.journal))
        assert self.ledger.post(*transfers) == ()
        assert (self.ledger.balances, self.ledger.journal) == before

    @invariant()
    def debits_equal_credits_and_nothing_forbidden_is_negative(self) -> None:
        assert check_invariants(self.ledger.balances) == []
        assert sum(self.ledger.balances.values()) == 0

    @invariant()
    def stored_balances_match_the_journal(self) -> None:
        assert verify(self.ledger.journal, self.ledger.balances) == {}
        assert balances_from(self.ledger.journal) == self.ledger.balances

    @invariant()
    def per_award_paid_within_awarded_and_recovery_within_paid(self) -> None:
        for award_id in ("a1", "a2", "a3"):
            totals = award_figures(self.ledger.journal, award_id)
            awarded = totals[TransferKind.COMMIT] - totals[TransferKind.VOID]
            assert totals[TransferKind.PAY] <= totals[TransferKind.DISBURSE] <= awarded
            assert totals[TransferKind.ORDER_RECOVERY] <= totals[TransferKind.PAY]
            assert totals[TransferKind.SETTLE_RECOVERY] <= totals[TransferKind.ORDER_RECOVERY]

    @invariant()
    def every_transfer_id_appears_once_in_the_journal(self) -> None:
        ids = [entry.transfer_id for entry in self.ledger.journal]
        assert len(ids) == len(set(ids))


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
