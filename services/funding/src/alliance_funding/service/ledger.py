"""Posting transfers to a programme's book: group commit, one insert per batch.

The book of programme P is the aggregate ``P`` of the ``ledgers`` store. Postings of
this process to one book queue up; whatever is queued when the book is free is decided
together (``plan_batch``: each posting on the balances the ones before it left, a
posting that breaks a rule refused alone) and written as ONE next version holding the
new balances, the journal entries of every posting of the batch, the replay window and
one audit note — so the transfers, their effect on every guarded balance and their
audit record are written together or not at all. Each caller awaits its own posting's
outcome. Two batches racing for version N+1 (other processes, or ``serialise=False``):
the unique version id lets exactly one insert win; the other reloads and decides every
one of its postings again on the new balances, so a programme can never be
over-committed.

At most once per transfer id: an id in the loaded version's replay window is a replay
(or a 409 when its content differs). Beyond the window, the book's ``receipts`` answer:
every transfer of a stored version gets a receipt, written right after the version —
and, should a crash have prevented that, by the next writer of the book before it
writes the version after (``_receipt_head``). So every version but the newest has its
receipts, and the newest one's transfers are in its window (a batch holds at most
``MAX_BATCH_TRANSFERS`` ≤ ``REPLAY_WINDOW``): an id found in neither was never applied.

A process keeps the book it wrote last and the ids of every transfer applied up to it
(``_BookState``: the receipts' ids read once, after loading the book, then its own
batches added). While the book is at that version, a batch is decided without reading
anything: only an id of that set outside the window has its receipt read (a replay).
Should another writer have written a newer version, the insert of the next version
collides with it, the kept book is dropped and reloaded; nothing is decided on it twice.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alliance_funding.domain.ledger import (
    AppliedTransfer,
    JournalEntry,
    Posting,
    Transfer,
    balances_from,
    check_invariants,
    plan_batch,
    verify,
)
from alliance_funding.service.ports import Repositories
from alliance_funding.service.records import LedgerBook
from alliance_shared.errors import DomainError, NotFound, PreconditionFailed
from alliance_shared.logging import get_logger
from alliance_shared.persistence.versioned_store import AuditNote, VersionedStore
from alliance_shared.persistence.write_path import Retry

log = get_logger(__name__)

#: Transfer ids a book version remembers with their content (kind, amount, award, posting),
#: to tell a replay from a reused id. Every version carries the window, so it is kept
#: small; replays older than it are answered by the transfer receipts.
REPLAY_WINDOW = 256

#: The most transfers one batch writes: the newest version's own transfers must all be
#: in its replay window (they may have no receipts yet).
MAX_BATCH_TRANSFERS = 128
assert MAX_BATCH_TRANSFERS <= REPLAY_WINDOW

#: A batch that lost the race for the next book version is decided again this often,
#: after a short random pause (postings are cheap to plan; giving up would refuse money
#: the programme has).
POSTING_RETRY = Retry(attempts=200, first_delay_s=0.005, max_delay_s=0.005)


@dataclass(frozen=True)
class PostResult:
    """``applied`` False: every transfer id was applied before (a replay, nothing written)."""

    applied: bool
    entries: tuple[JournalEntry, ...]
    version: int | None


REPLAYED = PostResult(applied=False, entries=(), version=None)


#: A queued posting: its transfers, the currency of a new book, its caller's future.
_Queued = tuple[Sequence[Transfer], str, "asyncio.Future[PostResult | DomainError]"]


@dataclass
class _BookQueue:
    """Postings of this process waiting for one book, and the task writing them."""

    waiting: list[_Queued] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


_BOOK_QUEUES: dict[tuple[int, str], _BookQueue] = {}


@dataclass
class _BookState:
    """What this process knows of a book it writes: the newest version it wrote or loaded
    (``written``) with that version's book and the ids of every transfer applied up to
    it (None: not known), the newest version whose receipts are written, and the
    writing of the receipts of ``written``."""

    written: int = 0
    book: LedgerBook | None = None
    applied_ids: set[str] | None = None
    receipted: int = 0
    recording: asyncio.Task[None] | None = None

    def forget_book(self) -> None:
        """Another writer may have moved the book on: decide on a fresh load next time."""
        self.book = None
        self.applied_ids = None


_BOOKS: weakref.WeakKeyDictionary[VersionedStore, dict[str, _BookState]] = weakref.WeakKeyDictionary()


def _book_state(repos: Repositories, programme_id: str) -> _BookState:
    return _BOOKS.setdefault(repos.ledgers.store, {}).setdefault(programme_id, _BookState())


async def post(
    repos: Repositories,
    programme_id: str,
    transfers: Sequence[Transfer],
    currency: str = "CNY",
    *,
    serialise: bool = True,
) -> PostResult:
    """Apply ``transfers`` to the programme's book together, exactly once.

    ``serialise``: the posting joins this process's queue for the book and is written
    with whatever else is queued (group commit). Correctness never depends on it (the
    version id guards against every other writer, other processes included); it spares
    the losers of an in-process race their wasted attempts and writes many postings per
    insert. Tests turn it off to race on the version guard alone, one posting a write.

    DomainError ``ledger.insufficient_funds`` when a floored account would go negative
    (nothing is written for this posting); Conflict ``ledger.transfer_id_reused`` /
    ``ledger.partial_replay`` when an id was applied before with other content or in
    another posting.
    """
    if not transfers:
        return REPLAYED
    if not serialise:
        (outcome,) = await _write_batch(repos, programme_id, [transfers], currency)
    else:
        key = (id(repos.ledgers.store), programme_id)
        queue = _BOOK_QUEUES.setdefault(key, _BookQueue())
        future: asyncio.Future[PostResult | DomainError] = asyncio.get_running_loop().create_future()
        queue.waiting.append((transfers, currency, future))
        if queue.writer is None or queue.writer.done():
            queue.writer = asyncio.create_task(_drain(repos, programme_id, queue))
        outcome = await future
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def _drain(repos: Repositories, programme_id: str, queue: _BookQueue) -> None:
    """Write the queued postings of one book, a batch at a time, until none is left."""
    while queue.waiting:
        batch = _next_batch(queue)
        try:
            outcomes = await _write_batch(repos, programme_id, [t for t, _, _ in batch], batch[0][1])
        except Exception as failed:  # the store failed: the batch's callers hear it, the queue goes on
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(failed)
            continue
        except BaseException:  # cancelled (shutdown): nobody is left waiting for a writer
            for _, _, future in batch + queue.waiting:
                future.cancel()
            queue.waiting.clear()
            raise
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
        # Let the answered callers take their next step (an award command saves its award)
        # before a posting deferred to the next batch is answered, as when each posting
        # waited for the one before it.
        await asyncio.sleep(0)


def _next_batch(queue: _BookQueue) -> list[_Queued]:
    """The queued postings to write together, in queue order, up to ``MAX_BATCH_TRANSFERS``.

    A posting for an award (or a transfer id) that an earlier posting of the batch
    touches waits for the next batch: its caller hears its outcome only after the
    earlier one's caller did, so two commands on one award save the award in the order
    the book took their money, as when every posting was written alone.
    """
    batch: list[_Queued] = []
    taken: set[str] = set()
    size = 0
    for queued in list(queue.waiting):
        transfers = queued[0]
        if batch and size + len(transfers) > MAX_BATCH_TRANSFERS:
            break
        touched = {t.transfer_id for t in transfers} | {t.award_id for t in transfers if t.award_id}
        if touched & taken:
            continue
        queue.waiting.remove(queued)
        batch.append(queued)
        taken |= touched
        size += len(transfers)
    return batch


async def _write_batch(
    repos: Repositories, programme_id: str, requests: Sequence[Sequence[Transfer]], currency: str
) -> list[PostResult | DomainError]:
    """Decide the postings on the newest book version and insert the next version; after
    a lost race decide them all again on the version that won (the store's save catches
    its head up to it, so the next load sees it)."""
    store = repos.ledgers.store
    state = _book_state(repos, programme_id)
    outcomes: dict[int, PostResult | DomainError] = {}
    for attempt in range(POSTING_RETRY.attempts):
        pending = [i for i in range(len(requests)) if i not in outcomes]
        book, version, applied_ids = await _decision_basis(repos, programme_id, currency, state)
        window = {a.transfer_id: a for a in book.applied}
        earlier = [t.transfer_id for i in pending for t in requests[i]]
        earlier = [i for i in earlier if i in applied_ids and i not in window]
        receipted = await repos.receipts.find(programme_id, earlier) if earlier else []
        known = {**{a.transfer_id: a for a in receipted}, **window}
        plan = plan_batch(
            [requests[i] for i in pending],
            book.balances,
            programme_id=programme_id,
            currency=book.currency,
            known=known,
        )
        if not plan.postings:
            outcomes.update((i, _answer(o, None)) for i, o in zip(pending, plan.outcomes, strict=True))
            break
        await _receipt_head(repos, programme_id, book, version, state)
        entries = [entry for posting in plan.postings for entry in posting.entries]
        next_book = LedgerBook(
            programme_id=programme_id,
            currency=book.currency,
            balances=plan.balances,
            applied=[*book.applied, *plan.applied][-REPLAY_WINDOW:],
            entries=entries,
            postings=book.postings + len(plan.postings),
        )
        first = next(i for i, o in zip(pending, plan.outcomes, strict=True) if isinstance(o, Posting))
        try:
            written = await store.save(
                programme_id,
                version,
                repos.ledgers.state_of(next_book),
                (),
                AuditNote(
                    "ledger.posted",
                    "ledger",
                    programme_id,
                    None,
                    {"transfers": [e.model_dump(mode="json") for e in entries], "deltas": _deltas(plan.postings)},
                ),
                caused_by=requests[first][0].transfer_id,
                # Books are decided on the kept copy or an exact load; the head need not hold the writer up.
                show_later=True,
            )
        except PreconditionFailed as lost:
            state.forget_book()
            if lost.code != "aggregate.version_conflict":
                raise
            await asyncio.sleep(POSTING_RETRY.delay(attempt))
            continue
        except BaseException:  # written or not: the next batch decides on a fresh load
            state.forget_book()
            raise
        if written is None:
            # The store's dedupe key knew the first posting (applied by a version older
            # than the receipts): it is a replay; the others are decided again.
            outcomes[first] = REPLAYED
            continue
        if state.book is book and state.applied_ids is not None:  # no other batch moved the basis meanwhile
            state.book = next_book
            state.applied_ids.update(a.transfer_id for a in plan.applied)
        else:
            state.forget_book()
        # The callers are answered while the receipts are written: the version's window
        # covers its own transfers until the next version, whose writer awaits them.
        state.written = written
        state.recording = asyncio.create_task(_record(repos, programme_id, plan.applied, written, state))
        outcomes.update((i, _answer(o, written)) for i, o in zip(pending, plan.outcomes, strict=True))
        break
    else:
        raise PreconditionFailed(
            "aggregate.contended", f"{programme_id} kept changing; gave up after {POSTING_RETRY.attempts} tries"
        )
    return [outcomes[i] for i in range(len(requests))]


async def _decision_basis(
    repos: Repositories, programme_id: str, currency: str, state: _BookState
) -> tuple[LedgerBook, int, set[str]]:
    """The book to decide on, its version, and the ids of every transfer applied up to it:
    the ones this process kept, or a load of the book and then of its receipts' ids (read
    after the book: every version older than the loaded one had its receipts before the
    loaded one was written, and the loaded one's own transfers are in its window)."""
    if state.book is not None and state.applied_ids is not None:
        return state.book, state.written, state.applied_ids
    snapshot = await repos.ledgers.store.load(programme_id)
    if snapshot is None:
        book, version = LedgerBook(programme_id=programme_id, currency=currency), 0
        receipted: set[str] = set()
    else:
        book, version = repos.ledgers.from_snapshot(snapshot).item, snapshot.version
        receipted = await repos.receipts.ids(programme_id)
    applied_ids = receipted | {a.transfer_id for a in book.applied}
    state.book, state.written, state.applied_ids = book, version, applied_ids
    return book, version, applied_ids


def _answer(outcome: Posting | DomainError | None, version: int | None) -> PostResult | DomainError:
    """What the caller of a posting hears once its batch is written (``version``)."""
    if isinstance(outcome, Posting):
        return PostResult(applied=True, entries=outcome.entries, version=version)
    return REPLAYED if outcome is None else outcome


async def _receipt_head(
    repos: Repositories, programme_id: str, book: LedgerBook, version: int, state: _BookState
) -> None:
    """Before version N+1 is written, version N's transfers have their receipts (a crash
    right after writing N, or another process, may have left them unwritten)."""
    if state.recording is not None:
        await state.recording
    if version == 0 or state.receipted == version:
        return
    own = {entry.transfer_id for entry in book.entries}
    await repos.receipts.record(programme_id, [a for a in book.applied if a.transfer_id in own])
    state.receipted = version


async def _record(
    repos: Repositories, programme_id: str, applied: Sequence[AppliedTransfer], version: int, state: _BookState
) -> None:
    try:
        await repos.receipts.record(programme_id, applied)
    except Exception:  # the version is written: the next writer of the book records them
        log.warning("ledger receipts not written", programme_id=programme_id, version=version, exc_info=True)
        return
    state.receipted = max(state.receipted, version)


def _deltas(postings: Sequence[Posting]) -> dict[str, int]:
    total: dict[str, int] = {}
    for posting in postings:
        for account, delta in posting.deltas.items():
            total[account] = total.get(account, 0) + delta
    return {account: delta for account, delta in total.items() if delta != 0}


async def book_of(repos: Repositories, programme_id: str) -> tuple[LedgerBook, int]:
    """The newest version of the book (exact: figures and approvals rely on it)."""
    loaded = await repos.ledgers.get(programme_id, exact=True)
    if loaded is None:
        return LedgerBook(programme_id=programme_id), 0
    return loaded.item, loaded.version


async def journal(repos: Repositories, programme_id: str) -> list[tuple[int, JournalEntry]]:
    """Every journal entry of the book, in posting order, with the version that wrote it."""
    history = await repos.ledgers.store.history(programme_id)
    return [
        (snapshot.version, entry)
        for snapshot in history
        for entry in repos.ledgers.from_snapshot(snapshot).item.entries
    ]


async def verify_book(repos: Repositories, programme_id: str) -> dict[str, Any]:
    """Recompute every balance from the journal and compare with the stored balances.

    Also checks that each version's balances equal the previous version's plus its own
    entries (no gap, no edited version) and the book invariants (trial balance zero, no
    floored account negative).
    """
    history = await repos.ledgers.store.history(programme_id)
    if not history:
        raise NotFound("ledger.not_found", f"programme {programme_id} has no book yet")
    problems: list[str] = []
    entries: list[JournalEntry] = []
    previous: dict[str, int] = {}
    expected_version = 1
    for snapshot in history:
        book = repos.ledgers.from_snapshot(snapshot).item
        if snapshot.version != expected_version:
            problems.append(f"version {expected_version} is missing (found {snapshot.version})")
        expected_version = snapshot.version + 1
        diff = verify(
            book.entries, {k: book.balances.get(k, 0) - previous.get(k, 0) for k in set(book.balances) | set(previous)}
        )
        if diff:
            problems.append(f"version {snapshot.version}: balances differ from its entries by {diff}")
        problems.extend(f"version {snapshot.version}: {p}" for p in check_invariants(book.balances))
        entries.extend(book.entries)
        previous = book.balances
    last = repos.ledgers.from_snapshot(history[-1]).item
    differences = verify(entries, last.balances)
    if differences:
        problems.append(f"stored balances differ from the journal: {differences}")
    recomputed = balances_from(entries)
    return {
        "programme_id": programme_id,
        "consistent": not problems,
        "versions": len(history),
        "entries": len(entries),
        "trial_balance": sum(last.balances.values()),
        "differences": differences,
        "problems": problems,
        "stored_balances": dict(sorted(last.balances.items())),
        "journal_balances": dict(sorted(recomputed.items())),
    }
