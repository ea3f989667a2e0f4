"""Posting transfers to a programme's book: one atomic insert per posting.

The book of programme P is the aggregate ``P`` of the ``ledgers`` store. A posting
loads the newest version, plans the transfers against its balances
(``plan_transfers``: guards, replay detection), applies them (``apply_posting``) and
inserts the next version holding the new balances, the journal entries of the
posting, the replay window and an audit entry — one document, so the transfer, its
effect on every guarded balance and its audit record are written together or not at
all. Two postings racing for version N+1: the unique version id lets exactly one
insert win; the other reloads and is planned again against the new balances, so a
programme can never be over-committed. ``caused_by`` = the first transfer id of the
posting, so the store's unique dedupe key applies a posting at most once even after
its id left the in-document replay window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alliance_funding.domain.ledger import (
    JournalEntry,
    Transfer,
    apply_posting,
    balances_from,
    check_invariants,
    plan_transfers,
    verify,
)
from alliance_funding.service.ports import Repositories
from alliance_funding.service.records import AppliedTransfer, LedgerBook
from alliance_shared.errors import Conflict, NotFound
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import Change, Retry, apply_change

#: Transfer ids a book version remembers with their content (kind, amount, award, posting),
#: to tell a replay from a reused id. Every version carries the window, so it is kept
#: small; replays older than it are still refused by the store's unique dedupe key.
REPLAY_WINDOW = 256

#: A posting that lost the race for the next book version is planned again this often,
#: after a short random pause (postings are cheap to plan; giving up would refuse money
#: the programme has).
POSTING_RETRY = Retry(attempts=200, first_delay_s=0.005, max_delay_s=0.005)


@dataclass(frozen=True)
class PostResult:
    """``applied`` False: every transfer id was applied before (a replay, nothing written)."""

    applied: bool
    entries: tuple[JournalEntry, ...]
    version: int | None


def _check_reuse(book: LedgerBook, transfers: Sequence[Transfer]) -> None:
    known = {a.transfer_id: a for a in book.applied}
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
        original = {a.transfer_id for a in book.applied if a.posting in postings}
        asked = {t.transfer_id for t in transfers}
        if original != asked:
            raise Conflict(
                "ledger.partial_replay",
                "this request repeats a posting with other transfers than the one applied "
                f"({sorted(original)} were applied together; the request names {sorted(asked)})",
                transfer_ids=sorted(original ^ asked),
            )


#: Postings of this process to one book wait for each other (see ``post``).
_BOOK_QUEUES: dict[tuple[int, str], asyncio.Lock] = {}


async def post(
    repos: Repositories,
    programme_id: str,
    transfers: Sequence[Transfer],
    currency: str = "CNY",
    *,
    serialise: bool = True,
) -> PostResult:
    """Apply ``transfers`` to the programme's book together, exactly once.

    ``serialise``: postings of this process to the same book queue on a lock first.
    Correctness never depends on it (the version id guards against every other writer,
    other processes included); it only spares the losers of an in-process race their
    wasted attempts, which on FerretDB/SQLite cost a write each (docs/funding.md,
    Measured). Tests turn it off to race on the version guard alone.
    """
    if not serialise:
        return await _post(repos, programme_id, transfers, currency)
    async with _BOOK_QUEUES.setdefault((id(repos.ledgers.store), programme_id), asyncio.Lock()):
        return await _post(repos, programme_id, transfers, currency)


async def _post(repos: Repositories, programme_id: str, transfers: Sequence[Transfer], currency: str) -> PostResult:
    """One posting through the write path: planned on the book, inserted as its next
    version; planned again on the newer version after a lost race (the store's save
    catches its head up to the version that won, so the next load plans on it).

    DomainError ``ledger.insufficient_funds`` when a floored account would go negative
    (nothing is written); Conflict ``ledger.transfer_id_reused`` when an id was applied
    before with other content.
    """
    if not transfers:
        return PostResult(applied=False, entries=(), version=None)
    planned: list[tuple[JournalEntry, ...]] = []

    def decide(snapshot: Snapshot | None) -> Change | None:
        book = (
            LedgerBook(programme_id=programme_id, currency=currency)
            if snapshot is None
            else repos.ledgers.from_snapshot(snapshot).item
        )
        _check_reuse(book, transfers)
        posting = plan_transfers(
            transfers,
            book.balances,
            programme_id=programme_id,
            currency=book.currency,
            applied={a.transfer_id for a in book.applied},
        )
        if posting is None:
            return None
        balances = apply_posting(book.balances, posting)
        applied = [
            *book.applied,
            *(
                AppliedTransfer(
                    transfer_id=t.transfer_id,
                    kind=t.kind,
                    amount_minor=t.amount_minor,
                    award_id=t.award_id,
                    posting=transfers[0].transfer_id,
                )
                for t in transfers
            ),
        ][-REPLAY_WINDOW:]
        next_book = LedgerBook(
            programme_id=programme_id,
            currency=book.currency,
            balances=dict(balances),
            applied=applied,
            entries=list(posting.entries),
            postings=book.postings + 1,
        )
        planned.append(posting.entries)
        return Change(
            repos.ledgers.state_of(next_book),
            (),
            AuditNote(
                "ledger.posted",
                "ledger",
                programme_id,
                None,
                {"transfers": [e.model_dump(mode="json") for e in posting.entries], "deltas": posting.deltas},
            ),
        )

    version = await apply_change(
        repos.ledgers.store,
        programme_id,
        decide,
        caused_by=transfers[0].transfer_id,
        retry=POSTING_RETRY,
    )
    if version is None:
        return PostResult(applied=False, entries=(), version=None)
    return PostResult(applied=True, entries=planned[-1], version=version)


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
