"""Funding ledger: transfers per second against ONE programme's book under contention,
vs. the same number of writers each posting to its own book (no contention), vs. raw
inserts of documents of the same size (no ledger logic, no version guard).

Each transfer is a real ``service.ledger.post``. With group commit (the service's
path) the postings queued for the book are decided together and written as one next
version (balances + journal entries + replay window + audit note, then the transfer
receipts); "version guard only" writes each posting alone, a loser of the race for the
version reloading and being planned again. Latency is per transfer, retries included.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from alliance_devstack.provision import Infrastructure
from alliance_funding.app import build_repositories
from alliance_funding.domain.ledger import Transfer, TransferKind
from alliance_funding.service import ledger
from alliance_funding.service.ports import STORES, Repositories
from alliance_funding.settings import Settings
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.persistence.mongo import ensure_indexes
from alliance_shared.persistence.versioned_store import versioned_indexes
from alliance_shared.runtime import ServiceRuntime
from bench.stats import Table, percentile

TITLE = "funding: ledger transfers on one programme's book under contention, vs. distinct books and raw inserts"
TARGET = "target: ≥ 500 transfers/s on one book with 16 writers, 0 invariant violations"

PER_WRITER = 20
WRITERS = (1, 4, 16)
#: Without group commit every loser pays a failed insert: measured up to this many writers only.
OPTIMISTIC_MAX = 8


async def _runtime(mongo_url: str) -> ServiceRuntime:
    settings = Settings(
        mongo_url=mongo_url,
        mongo_database=f"bench_funding_{uuid.uuid4().hex[:8]}",
        jwks_file="unused",
    )
    runtime = ServiceRuntime(settings=settings, catalog=PLATFORM_CATALOG, stores=STORES)
    await ensure_indexes(runtime.db, [spec for store in STORES for spec in versioned_indexes(store)])
    return runtime


def _commit(programme_id: str, award_id: str) -> Transfer:
    return Transfer(
        transfer_id=f"{award_id}:commit",
        kind=TransferKind.COMMIT,
        programme_id=programme_id,
        award_id=award_id,
        amount_minor=100,
        at=datetime.now(UTC),
        actor_id="bench",
    )


async def _appropriate(repos: Repositories, programme_id: str) -> None:
    await ledger.post(
        repos,
        programme_id,
        [
            Transfer(
                transfer_id=f"{programme_id}:appropriate",
                kind=TransferKind.APPROPRIATE,
                programme_id=programme_id,
                amount_minor=10**12,
                at=datetime.now(UTC),
                actor_id="bench",
            )
        ],
    )


async def _postings(repos: Repositories, writers: int, *, contended: bool, serialise: bool = True) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    books = [f"prg-{run}" if contended else f"prg-{run}-{w}" for w in range(writers)]
    for book in set(books):
        await _appropriate(repos, book)
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for i in range(PER_WRITER):
            started = time.perf_counter()
            await ledger.post(repos, books[w], [_commit(books[w], f"awd-{run}-{w}-{i}")], serialise=serialise)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
    verified = await ledger.verify_book(repos, books[0])
    assert verified["consistent"], verified
    total = writers * PER_WRITER
    return {
        "transfers": total,
        "seconds": elapsed,
        "transfers_per_s": total / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "invariant_violations": len(verified["problems"]),
        # the appropriation is a version of its own
        "transfers_per_version": PER_WRITER * writers / len(set(books)) / (verified["versions"] - 1),
    }


async def _raw_inserts(runtime: ServiceRuntime, writers: int, size: int) -> dict[str, float]:
    collection = runtime.db[f"raw_{uuid.uuid4().hex[:6]}"]
    pad = "x" * size
    latencies: list[float] = []

    async def writer(w: int) -> None:
        for i in range(PER_WRITER):
            started = time.perf_counter()
            await collection.insert_one({"_id": f"{w}-{i}", "pad": pad})
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - started
    total = writers * PER_WRITER
    return {
        "transfers": total,
        "seconds": elapsed,
        "transfers_per_s": total / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


async def run(infra: Infrastructure) -> dict[str, Any]:
    runtime = await _runtime(infra.mongo_url)
    repos = build_repositories(runtime)
    result: dict[str, Any] = {"per_writer": PER_WRITER, "configs": {}}
    try:
        for writers in WRITERS:
            contended = await _postings(repos, writers, contended=True)
            optimistic = (
                await _postings(repos, writers, contended=True, serialise=False) if writers <= OPTIMISTIC_MAX else None
            )
            distinct = await _postings(repos, writers, contended=False)
            # a book version holds the replay window: size it like the last one written
            sample = await runtime.db["ledgers_journal"].find_one(sort=[("_written_at", -1)])
            size = len(str(sample)) if sample else 1000
            raw = await _raw_inserts(runtime, writers, size)
            result["configs"][str(writers)] = {
                "one_book": contended,
                "one_book_optimistic_only": optimistic,
                "distinct_books": distinct,
                "raw_insert": raw,
                "raw_insert_doc_chars": size,
                "one_book_vs_distinct": contended["transfers_per_s"] / distinct["transfers_per_s"],
                "one_book_vs_raw_insert": contended["transfers_per_s"] / raw["transfers_per_s"],
            }
    finally:
        await runtime._mongo.close()
    return result


def table(result: dict[str, Any]) -> Table:
    rows = []
    for writers, config in result["configs"].items():
        for name, key in (
            ("one book, group commit", "one_book"),
            ("one book, version guard only", "one_book_optimistic_only"),
            ("distinct books", "distinct_books"),
            ("raw insert", "raw_insert"),
        ):
            figures = config[key]
            if figures is None:
                continue
            rows.append(
                [
                    writers,
                    name,
                    figures["transfers"],
                    f"{figures['transfers_per_s']:.0f}",
                    f"{figures['p50_ms']:.1f}",
                    f"{figures['p99_ms']:.1f}",
                ]
            )
    ratios = "; ".join(
        f"{w} writers: ÷ distinct books {c['one_book_vs_distinct']:.2f}, "
        f"÷ raw insert {c['one_book_vs_raw_insert']:.2f}, "
        f"{c['one_book']['transfers_per_version']:.1f} transfers a version, "
        f"{c['one_book']['invariant_violations']} invariant violations"
        for w, c in result["configs"].items()
    )
    return Table(
        ["writers", "path", "transfers", "transfers/s", "p50 ms", "p99 ms"],
        rows,
        f"one book with group commit {ratios}. {TARGET}",
    )
