"""Group commit of the ledger on the real store (FerretDB): 16 concurrent writers on one
programme's book from two processes' worth of stores, and a writer killed with SIGKILL
while its batches are in flight.

Each process queues its postings to the book and writes whatever is queued as one
version; the two processes race for versions on the version guard alone. After either,
the book verifies (journal = balances, trial balance 0, no floored account negative),
every transfer is in the journal at most once, and the totals are exact to the fen.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_funding.app import build_repositories, build_runtime
from alliance_funding.domain.ledger import AccountKind, Transfer, TransferKind, award_account, programme_account
from alliance_funding.service import ledger
from alliance_funding.service.ports import STORES, Repositories
from alliance_shared.errors import DomainError
from alliance_shared.persistence.mongo import ensure_indexes
from alliance_shared.persistence.versioned_store import versioned_indexes
from alliance_shared.runtime import ServiceRuntime
from tests.conftest import REPO_ROOT, service_env
from tests.integration.funding.funding_support import funding_settings, new_id

pytestmark = pytest.mark.infra

RUN = new_id("group").replace("-", "_")
WRITERS = 16
PER_WRITER = 20


def commitment(programme_id: str, n: int, amount: int) -> Transfer:
    return Transfer(
        transfer_id=f"awd-{n}:commit",
        kind=TransferKind.COMMIT,
        programme_id=programme_id,
        award_id=f"awd-{n}",
        amount_minor=amount,
        at=datetime.now(UTC),
        actor_id="officer",
    )


async def appropriate(repos: Repositories, programme_id: str, budget: int) -> None:
    appropriation = Transfer(
        transfer_id=f"{programme_id}:appropriate",
        kind=TransferKind.APPROPRIATE,
        programme_id=programme_id,
        amount_minor=budget,
        at=datetime.now(UTC),
        actor_id="officer",
    )
    await ledger.post(repos, programme_id, [appropriation])


async def journal_ids(repos: Repositories, programme_id: str) -> Counter[str]:
    return Counter(entry.transfer_id for _, entry in await ledger.journal(repos, programme_id))


class Replicas:
    runtimes: tuple[ServiceRuntime, ServiceRuntime]
    repos: tuple[Repositories, Repositories]
    env: dict[str, str]


@pytest_asyncio.fixture(scope="module")
async def replicas(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[Replicas]:
    settings = funding_settings(infra, RUN, dev_keys_dir)
    r = Replicas()
    r.runtimes = (build_runtime(settings), build_runtime(settings))
    await ensure_indexes(r.runtimes[0].db, [spec for store in STORES for spec in versioned_indexes(store)])
    r.repos = (build_repositories(r.runtimes[0]), build_repositories(r.runtimes[1]))
    r.env = service_env(
        infra, "FUNDING_", settings.mongo_database, dev_keys_dir, run_consumers="false", run_relay="false"
    )
    yield r
    for runtime in r.runtimes:
        await runtime.stop()


async def test_sixteen_writers_on_one_book_apply_each_transfer_once_to_the_fen(replicas: Replicas) -> None:
    programme_id = new_id("prg")
    budget = 1_000_000  # less than asked for: some commitments are refused
    await appropriate(replicas.repos[0], programme_id, budget)
    amounts = {n: random.randint(1_000, 9_000) for n in range(WRITERS * PER_WRITER)}
    applied: set[int] = set()
    refused: list[str] = []

    async def writer(w: int) -> None:
        repos = replicas.repos[w % 2]  # two processes' worth of queues, racing on the version guard
        for n in range(w, len(amounts), WRITERS):
            transfer = commitment(programme_id, n, amounts[n])
            try:
                result = await ledger.post(repos, programme_id, [transfer])
            except DomainError as exc:
                refused.append(exc.code)
                continue
            assert result.applied
            applied.add(n)
            if n % 5 == 0:  # a client retry: the same id applies once
                assert not (await ledger.post(repos, programme_id, [transfer])).applied

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))

    assert applied
    assert set(refused) <= {"ledger.insufficient_funds"}, refused
    verified = await ledger.verify_book(replicas.repos[0], programme_id)
    assert verified["consistent"], verified
    assert verified["trial_balance"] == 0
    committed = sum(amounts[n] for n in applied)
    balances = verified["stored_balances"]
    assert balances[programme_account(programme_id, AccountKind.AVAILABLE)] == budget - committed
    assert all(balances[award_account(f"awd-{n}", AccountKind.COMMITTED)] == amounts[n] for n in applied)
    ids = await journal_ids(replicas.repos[0], programme_id)
    assert set(ids.values()) == {1}
    assert set(ids) == {f"{programme_id}:appropriate"} | {f"awd-{n}:commit" for n in applied}
    # batched: fewer versions than postings
    assert verified["versions"] < len(applied) + 1
    # every applied transfer has its receipt (the guard once it leaves the replay window),
    # but for the newest version's, which may still be being written: those are in its window
    journal = await ledger.journal(replicas.repos[0], programme_id)
    newest = {entry.transfer_id for version, entry in journal if version == verified["versions"]}
    book, _ = await ledger.book_of(replicas.repos[0], programme_id)
    assert newest <= {a.transfer_id for a in book.applied}
    receipts = await replicas.repos[1].receipts.find(programme_id, [f"awd-{n}:commit" for n in amounts])
    applied_ids = {f"awd-{n}:commit" for n in applied}
    assert applied_ids - newest <= {r.transfer_id for r in receipts} <= applied_ids


async def test_a_writer_killed_mid_batch_applies_nothing_twice_and_loses_no_acknowledged_transfer(
    replicas: Replicas,
) -> None:
    programme_id = new_id("prg")
    transfers = WRITERS * 40
    budget = 100 * transfers
    repos = replicas.repos[0]
    await appropriate(repos, programme_id, budget)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.funding.group_commit_worker",
        programme_id,
        str(transfers),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **replicas.env, "PYTHONPATH": str(REPO_ROOT)},
        cwd=str(REPO_ROOT),
    )
    assert worker.stdout is not None
    acked: list[str] = []
    acks_before_kill = random.randint(1, transfers // 2)
    while len(acked) < acks_before_kill:
        line = (await asyncio.wait_for(worker.stdout.readline(), timeout=120)).decode().strip()
        if not line or line == "done":
            break
        acked.append(line.removeprefix("acked "))
    await asyncio.sleep(random.uniform(0.0, 0.05))  # land the kill inside a batch
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    # A write the worker had sent may still be committed by the server after it died.
    await asyncio.sleep(1.0)

    verified = await ledger.verify_book(repos, programme_id)
    assert verified["consistent"], verified
    ids = await journal_ids(repos, programme_id)
    assert set(ids.values()) == {1}, "a transfer was applied twice"
    assert set(acked) <= set(ids), "an acknowledged transfer is missing"

    # the clients retry everything (acknowledged or not): each applies exactly once
    async def retry(first: int) -> None:
        for n in range(first, transfers, WRITERS):
            await ledger.post(replicas.repos[first % 2], programme_id, [commitment(programme_id, n, 100)])

    await asyncio.gather(*(retry(w) for w in range(WRITERS)))
    verified = await ledger.verify_book(repos, programme_id)
    assert verified["consistent"], verified
    ids = await journal_ids(repos, programme_id)
    assert set(ids.values()) == {1}
    assert set(ids) == {f"{programme_id}:appropriate"} | {f"awd-{n}:commit" for n in range(transfers)}
    assert verified["stored_balances"][programme_account(programme_id, AccountKind.AVAILABLE)] == 0
