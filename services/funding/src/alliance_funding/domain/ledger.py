"""The funding ledger: double-entry, integer minor units, one book per programme.

Chart of accounts (keys use ``:`` so they can be MongoDB field names under ``balances``)::

    programme:<id>:appropriation      source of the programme's budget (only ever credited)
    programme:<id>:available          appropriated, not committed to any award
    programme:<id>:recovered          money recovered from recipients (repaid or offset)
    programme:<id>:written_off        recoveries written off: ordered back, never to be collected
    award:<id>:committed              reserved for the award, not yet approved for payment
    award:<id>:disbursed              approved for payment (per tranche), not yet paid
    award:<id>:paid                   paid to the recipient and not ordered back
    award:<id>:recovery_receivable    ordered back from the recipient, not yet settled

Sign convention: a balance is debits minus credits. A transfer of ``amount`` from a
source account to a destination account credits the source and debits the destination,
so the balances of a book always sum to zero (the trial balance). The appropriation
account carries minus what was appropriated; every other account is floored at zero.

Transfers and their fixed routes (source → destination)::

    appropriate      programme:appropriation → programme:available
    commit           programme:available     → award:committed        (on award)
    void             award:committed         → programme:available    (release unused)
    disburse         award:committed         → award:disbursed        (tranche approved)
    pay              award:disbursed         → award:paid             (bank confirmed, or offset)
    order_recovery   award:paid              → award:recovery_receivable
    settle_recovery  award:recovery_receivable → programme:recovered  (repaid, or offset)
    write_off        award:recovery_receivable → programme:written_off (a second person approved)

A recovery settled by offset against a later tranche is two transfers posted together:
``pay`` of the offset part of that tranche (method ``offset``, no cash moves) and
``settle_recovery`` (method ``offset``). The zero floors imply the per-award guards:
what is paid never exceeds what was committed net of voids, and what is ordered back
never exceeds what was paid.

Storage: every state change of the platform is one single-document atomic write (no
multi-document transactions; docs/architecture.md), so a posting — however many
transfers it holds — must land in one document. ``plan_transfers`` gives the exact
signed ``deltas`` and the ``guards`` (account → minimum current balance needed): on
MongoDB that plan fits one ``update_one({_id, "balances.<acct>": {"$gte": need},
"applied": {"$nin": ids}}, {"$inc": {"balances.<acct>": delta}, "$push": ...})``. On
FerretDB v1, whose updates are not isolated (docs/architecture.md), the use case applies
the plans of the postings queued for the book (``plan_batch``) to the loaded balances and
inserts the result as the next version of the programme's book; the version ``_id``, the
replay window and the transfer receipts are then the guards (docs/funding.md, "The
ledger on a store without transactions").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alliance_shared.contract.base import CurrencyCode, UtcDateTime
from alliance_shared.errors import Conflict, DomainError

#: An id that may appear inside an account key: no ":" (the separator), "." or "$".
AccountId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")]
#: A positive amount in minor units.
PositiveMinor = Annotated[int, Field(strict=True, gt=0, le=10**15)]
RefKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
RefValue = Annotated[str, Field(min_length=1, max_length=200)]

#: How many recently applied transfer ids a ledger document keeps for its replay guard.
RECENT_TRANSFER_IDS = 1000


class AccountKind(StrEnum):
    APPROPRIATION = "appropriation"
    AVAILABLE = "available"
    RECOVERED = "recovered"
    WRITTEN_OFF = "written_off"
    COMMITTED = "committed"
    DISBURSED = "disbursed"
    PAID = "paid"
    RECOVERY_RECEIVABLE = "recovery_receivable"


PROGRAMME_ACCOUNTS = (
    AccountKind.APPROPRIATION,
    AccountKind.AVAILABLE,
    AccountKind.RECOVERED,
    AccountKind.WRITTEN_OFF,
)
AWARD_ACCOUNTS = (
    AccountKind.COMMITTED,
    AccountKind.DISBURSED,
    AccountKind.PAID,
    AccountKind.RECOVERY_RECEIVABLE,
)


def programme_account(programme_id: str, kind: AccountKind) -> str:
    if kind not in PROGRAMME_ACCOUNTS:
        raise ValueError(f"{kind} is not a programme account")
    return f"programme:{programme_id}:{kind}"


def award_account(award_id: str, kind: AccountKind) -> str:
    if kind not in AWARD_ACCOUNTS:
        raise ValueError(f"{kind} is not an award account")
    return f"award:{award_id}:{kind}"


def parse_account(account: str) -> tuple[str, str, AccountKind]:
    """``(scope, owner id, kind)`` of an account key; ValueError for a key outside the chart."""
    scope, owner_id, kind = account.split(":")
    allowed = PROGRAMME_ACCOUNTS if scope == "programme" else AWARD_ACCOUNTS if scope == "award" else ()
    if AccountKind(kind) not in allowed:
        raise ValueError(f"{account} is not in the chart of accounts")
    return scope, owner_id, AccountKind(kind)


def is_floored(account: str) -> bool:
    """Every account except the appropriation source must stay at or above zero."""
    return parse_account(account)[2] is not AccountKind.APPROPRIATION


class TransferKind(StrEnum):
    APPROPRIATE = "appropriate"
    COMMIT = "commit"
    VOID = "void"
    DISBURSE = "disburse"
    PAY = "pay"
    ORDER_RECOVERY = "order_recovery"
    SETTLE_RECOVERY = "settle_recovery"
    WRITE_OFF = "write_off"


#: Each kind's fixed route: (source account kind, destination account kind).
ROUTES: dict[TransferKind, tuple[AccountKind, AccountKind]] = {
    TransferKind.APPROPRIATE: (AccountKind.APPROPRIATION, AccountKind.AVAILABLE),
    TransferKind.COMMIT: (AccountKind.AVAILABLE, AccountKind.COMMITTED),
    TransferKind.VOID: (AccountKind.COMMITTED, AccountKind.AVAILABLE),
    TransferKind.DISBURSE: (AccountKind.COMMITTED, AccountKind.DISBURSED),
    TransferKind.PAY: (AccountKind.DISBURSED, AccountKind.PAID),
    TransferKind.ORDER_RECOVERY: (AccountKind.PAID, AccountKind.RECOVERY_RECEIVABLE),
    TransferKind.SETTLE_RECOVERY: (AccountKind.RECOVERY_RECEIVABLE, AccountKind.RECOVERED),
    TransferKind.WRITE_OFF: (AccountKind.RECOVERY_RECEIVABLE, AccountKind.WRITTEN_OFF),
}


class Transfer(BaseModel):
    """An instruction to move money between two accounts of one programme's book.

    ``transfer_id`` is the caller's idempotency key: a transfer id is applied at most
    once per book. ``refs`` carry what links the entry to the business (tranche id, bank
    reference, recovery id, settlement method).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    transfer_id: str = Field(min_length=1, max_length=200)
    kind: TransferKind
    programme_id: AccountId
    award_id: AccountId | None = None
    amount_minor: PositiveMinor
    currency: CurrencyCode = "CNY"
    at: UtcDateTime
    actor_id: str = Field(min_length=1, max_length=100)
    refs: dict[RefKey, RefValue] = Field(default_factory=dict, max_length=20)

    @model_validator(mode="after")
    def _award_named_when_needed(self) -> Self:
        needs_award = self.kind is not TransferKind.APPROPRIATE
        if needs_award != (self.award_id is not None):
            raise ValueError(f"a {self.kind} transfer {'needs' if needs_award else 'takes no'} award_id")
        return self

    @property
    def source(self) -> str:
        return self._account(ROUTES[self.kind][0])

    @property
    def destination(self) -> str:
        return self._account(ROUTES[self.kind][1])

    def _account(self, kind: AccountKind) -> str:
        if kind in PROGRAMME_ACCOUNTS:
            return programme_account(self.programme_id, kind)
        assert self.award_id is not None  # the validator guarantees it for award routes
        return award_account(self.award_id, kind)


class JournalEntry(BaseModel):
    """One applied transfer: the destination is debited, the source credited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transfer_id: str
    kind: TransferKind
    debit_account: str
    credit_account: str
    amount_minor: PositiveMinor
    currency: CurrencyCode
    at: UtcDateTime
    actor_id: str
    refs: dict[str, str]

    @classmethod
    def of(cls, transfer: Transfer) -> JournalEntry:
        return cls(
            transfer_id=transfer.transfer_id,
            kind=transfer.kind,
            debit_account=transfer.destination,
            credit_account=transfer.source,
            amount_minor=transfer.amount_minor,
            currency=transfer.currency,
            at=transfer.at,
            actor_id=transfer.actor_id,
            refs=dict(transfer.refs),
        )


class Posting(BaseModel):
    """What one atomic write of a book does: signed balance changes, the minimum current
    balances they need, and the journal entries they produce."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deltas: dict[str, int]
    guards: dict[str, int] = Field(description="account → the least current balance the posting needs")
    entries: tuple[JournalEntry, ...]

    @property
    def transfer_ids(self) -> tuple[str, ...]:
        return tuple(entry.transfer_id for entry in self.entries)


def plan_transfers(
    transfers: Sequence[Transfer],
    balances: Mapping[str, int],
    *,
    programme_id: str,
    currency: str,
    applied: Collection[str] = (),
) -> Posting | None:
    """Plan transfers that must be applied together (all or none) to one programme's book.

    Returns None when every transfer id was already applied (a replay: nothing to do).
    Raises DomainError ``ledger.insufficient_funds`` when a floored account would go below
    zero at any step, ``ledger.wrong_programme`` / ``ledger.currency_mismatch`` for a
    transfer that does not belong to this book, and Conflict ``ledger.partial_replay``
    when only some of the ids were applied before.
    """
    if not transfers:
        raise DomainError("ledger.empty_posting", "a posting needs at least one transfer")
    ids = [t.transfer_id for t in transfers]
    if len(set(ids)) != len(ids):
        raise DomainError("ledger.duplicate_transfer_id", "a posting names a transfer id twice", transfer_ids=ids)
    seen = [transfer_id in applied for transfer_id in ids]
    if all(seen):
        return None
    if any(seen):
        raise Conflict(
            "ledger.partial_replay",
            "some transfers of this posting were applied before, others not",
            transfer_ids=[i for i, was in zip(ids, seen, strict=True) if was],
        )
    running: dict[str, int] = {}
    lowest: dict[str, int] = {}  # account → lowest running delta reached
    for transfer in transfers:
        if transfer.programme_id != programme_id:
            raise DomainError(
                "ledger.wrong_programme",
                f"transfer {transfer.transfer_id} belongs to programme {transfer.programme_id}, not to {programme_id}",
            )
        if transfer.currency != currency:
            raise DomainError(
                "ledger.currency_mismatch",
                f"transfer {transfer.transfer_id} is in {transfer.currency}; the book is in {currency}",
            )
        for account, delta in (
            (transfer.source, -transfer.amount_minor),
            (transfer.destination, transfer.amount_minor),
        ):
            running[account] = running.get(account, 0) + delta
            lowest[account] = min(lowest.get(account, 0), running[account])
    guards = {account: -low for account, low in lowest.items() if low < 0 and is_floored(account)}
    for account, needed in guards.items():
        current = balances.get(account, 0)
        if current < needed:
            raise DomainError(
                "ledger.insufficient_funds",
                f"{account} holds {current}; the posting needs {needed}",
                account=account,
                balance=current,
                required=needed,
            )
    return Posting(
        deltas={account: delta for account, delta in running.items() if delta != 0},
        guards=guards,
        entries=tuple(JournalEntry.of(t) for t in transfers),
    )


def plan_transfer(
    transfer: Transfer,
    balances: Mapping[str, int],
    *,
    programme_id: str,
    currency: str,
    applied: Collection[str] = (),
) -> Posting | None:
    """``plan_transfers`` for a single transfer."""
    return plan_transfers([transfer], balances, programme_id=programme_id, currency=currency, applied=applied)


class AppliedTransfer(BaseModel):
    """What a book remembers of an applied transfer id, to tell a replay from a reused id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transfer_id: str
    kind: TransferKind
    amount_minor: int
    award_id: str | None = None
    posting: str = Field(default="", description="first transfer id of the posting it was applied in")

    @classmethod
    def of(cls, transfer: Transfer, posting: str) -> AppliedTransfer:
        return cls(
            transfer_id=transfer.transfer_id,
            kind=transfer.kind,
            amount_minor=transfer.amount_minor,
            award_id=transfer.award_id,
            posting=posting,
        )


def check_reuse(known: Mapping[str, AppliedTransfer], transfers: Sequence[Transfer]) -> None:
    """Conflict when a known transfer id comes back with other content
    (``ledger.transfer_id_reused``) or in another posting than the one it was applied in
    (``ledger.partial_replay``)."""
    for transfer in transfers:
        earlier = known.get(transfer.transfer_id)
        if earlier is not None and (earlier.kind, earlier.amount_minor, earlier.award_id) != (
            transfer.kind,
            transfer.amount_minor,
            transfer.award_id,
        ):
            raise Conflict(
                "ledger.transfer_id_reused",
                f"transfer id {transfer.transfer_id} was applied before for {earlier.kind} of "
                f"{earlier.amount_minor}; this request asks for {transfer.kind} of {transfer.amount_minor}",
                transfer_id=transfer.transfer_id,
            )
    postings = {known[t.transfer_id].posting for t in transfers if t.transfer_id in known}
    if postings:
        original = {a.transfer_id for a in known.values() if a.posting in postings}
        asked = {t.transfer_id for t in transfers}
        if original != asked:
            raise Conflict(
                "ledger.partial_replay",
                "this request repeats a posting with other transfers than the one applied "
                f"({sorted(original)} were applied together; the request names {sorted(asked)})",
                transfer_ids=sorted(original ^ asked),
            )


@dataclass(frozen=True)
class BatchPlan:
    """Postings decided together for one write of a book (group commit).

    ``outcomes`` has one item per request, in order: its ``Posting``, None (every id of
    it was applied before: a replay) or the ``DomainError`` that refuses it alone.
    ``balances`` are the book's balances after every posting; ``applied`` the marks of
    their transfers, in order.
    """

    balances: dict[str, int]
    outcomes: tuple[Posting | DomainError | None, ...]
    applied: tuple[AppliedTransfer, ...]

    @property
    def postings(self) -> tuple[Posting, ...]:
        return tuple(outcome for outcome in self.outcomes if isinstance(outcome, Posting))


def plan_batch(
    requests: Sequence[Sequence[Transfer]],
    balances: Mapping[str, int],
    *,
    programme_id: str,
    currency: str,
    known: Mapping[str, AppliedTransfer],
) -> BatchPlan:
    """Decide queued postings of one book in order, each on the balances and applied ids
    as the postings before it left them: a posting that breaks a rule is refused alone
    (its error is its outcome) and the others still post; a repeat of a posting earlier
    in the batch is a replay, like a repeat of one in ``known``."""
    running = dict(balances)
    seen = dict(known)
    outcomes: list[Posting | DomainError | None] = []
    applied: list[AppliedTransfer] = []
    for transfers in requests:
        try:
            check_reuse(seen, transfers)
            posting = plan_transfers(transfers, running, programme_id=programme_id, currency=currency, applied=seen)
        except DomainError as refused:
            outcomes.append(refused)
            continue
        outcomes.append(posting)
        if posting is None:
            continue
        running = apply_posting(running, posting)
        marks = [AppliedTransfer.of(t, posting=transfers[0].transfer_id) for t in transfers]
        seen.update((mark.transfer_id, mark) for mark in marks)
        applied.extend(marks)
    return BatchPlan(balances=running, outcomes=tuple(outcomes), applied=tuple(applied))


def apply_posting(balances: Mapping[str, int], posting: Posting) -> dict[str, int]:
    """The balances after the posting; re-checks its guards against these balances."""
    for account, needed in posting.guards.items():
        if balances.get(account, 0) < needed:
            raise DomainError(
                "ledger.insufficient_funds",
                f"{account} holds {balances.get(account, 0)}; the posting needs {needed}",
                account=account,
                balance=balances.get(account, 0),
                required=needed,
            )
    updated = dict(balances)
    for account, delta in posting.deltas.items():
        updated[account] = updated.get(account, 0) + delta
    return updated


def balances_from(journal: Iterable[JournalEntry]) -> dict[str, int]:
    """Recompute every balance from the journal (debits minus credits)."""
    balances: dict[str, int] = {}
    for entry in journal:
        balances[entry.debit_account] = balances.get(entry.debit_account, 0) + entry.amount_minor
        balances[entry.credit_account] = balances.get(entry.credit_account, 0) - entry.amount_minor
    return balances


def verify(journal: Iterable[JournalEntry], balances: Mapping[str, int]) -> dict[str, int]:
    """Accounts whose stored balance differs from the journal's, as stored minus recomputed.

    Empty when the book is consistent.
    """
    recomputed = balances_from(journal)
    differences = {
        account: balances.get(account, 0) - recomputed.get(account, 0) for account in set(recomputed) | set(balances)
    }
    return {account: diff for account, diff in sorted(differences.items()) if diff != 0}


def check_invariants(balances: Mapping[str, int]) -> list[str]:
    """Broken book invariants in words: a non-zero trial balance, a floored account below zero."""
    problems: list[str] = []
    trial = sum(balances.values())
    if trial != 0:
        problems.append(f"debits and credits differ by {trial}")
    problems.extend(
        f"{account} is negative ({balance})"
        for account, balance in sorted(balances.items())
        if balance < 0 and is_floored(account)
    )
    return problems


class Ledger:
    """An in-memory programme book: balances, the full journal and every applied transfer.

    A replayed transfer id with identical content changes nothing; the same id with
    different content is a Conflict (``ledger.transfer_id_reused``), since a caller that
    reuses a key for another movement has a bug that must not be papered over.
    """

    def __init__(self, programme_id: str, currency: str = "CNY") -> None:
        self.programme_id = programme_id
        self.currency = currency
        self.balances: dict[str, int] = {}
        self.journal: list[JournalEntry] = []
        self._transfers: dict[str, Transfer] = {}

    def post(self, *transfers: Transfer) -> tuple[JournalEntry, ...]:
        """Apply transfers atomically; empty when they were all applied before."""
        for transfer in transfers:
            earlier = self._transfers.get(transfer.transfer_id)
            if earlier is not None and earlier != transfer:
                raise Conflict(
                    "ledger.transfer_id_reused",
                    f"transfer id {transfer.transfer_id} was used before for another transfer",
                    transfer_id=transfer.transfer_id,
                )
        posting = plan_transfers(
            transfers, self.balances, programme_id=self.programme_id, currency=self.currency, applied=self._transfers
        )
        if posting is None:
            return ()
        self.balances = apply_posting(self.balances, posting)
        self.journal.extend(posting.entries)
        self._transfers.update((t.transfer_id, t) for t in transfers)
        return posting.entries

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def to_document(self) -> dict[str, Any]:
        """The programme ledger document: balances and the replay window of the newest transfer ids."""
        return {
            "programme_id": self.programme_id,
            "currency": self.currency,
            "balances": dict(self.balances),
            "applied": [entry.transfer_id for entry in self.journal[-RECENT_TRANSFER_IDS:]],
        }
