"""Crash safety on the real store: postings racing on one book, and a disbursement
worker killed with SIGKILL at random moments.

After the kill the book must balance and match its journal; each tranche is either
approved/paid exactly once or not at all; an award the crash left behind its book
(the posting written, the award not yet saved) is repaired by retrying the command,
which moves no money twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from alliance_devstack.provision import Infrastructure
from alliance_funding.app import build_app
from alliance_funding.domain.ledger import Transfer, TransferKind
from alliance_funding.service import awards, ledger
from alliance_funding.service.ports import Repositories
from alliance_funding.service.reports import awards_in_sync
from alliance_shared.clock import Clock, SystemClock
from alliance_shared.contract.funding import SettlementMethod
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.errors import DomainError
from alliance_shared.testing import ManualClock
from tests.conftest import REPO_ROOT, service_env
from tests.integration.funding.funding_support import (
    TOPICS,
    Actors,
    agreement_activated,
    award_for,
    certification_granted,
    funding_settings,
    new_id,
    open_programme,
    partner_registered,
    send,
    sibling_agreement,
    wait_for,
    with_etag,
)
from tests.support.http import running
from tests.support.kafka_io import skip_history

pytestmark = pytest.mark.infra

RUN = new_id("crash").replace("-", "_")


class World:
    http: httpx.AsyncClient
    repos: Repositories
    who: Actors
    agreement_id: str
    env: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infrastructure, dev_keys_dir: Path) -> AsyncIterator[World]:
    settings = funding_settings(infra, RUN, dev_keys_dir)
    await skip_history(infra.kafka_admin, settings.consumer_group, TOPICS)
    app = build_app(settings)
    async with running(app) as http:
        w = World()
        w.http, w.repos = http, app.state.repos
        college, enterprise, w.agreement_id = new_id("col"), new_id("ent"), new_id("agr")
        w.who = Actors(dev_keys_dir, college, enterprise)
        w.env = service_env(
            infra, "FUNDING_", settings.mongo_database, dev_keys_dir, run_consumers="false", run_relay="false"
        )
        await send(
            infra,
            REGISTRY_EVENTS,
            [
                partner_registered(college, "college"),
                partner_registered(enterprise, "enterprise"),
                certification_granted(enterprise),
                agreement_activated(w.agreement_id, college, enterprise),
            ],
        )

        async def known() -> bool:
            partner = await w.repos.partners.get(enterprise)
            return await w.repos.agreements.get(w.agreement_id) is not None and bool(
                partner and partner.item.certifications
            )

        await wait_for(known)
        yield w


async def test_concurrent_postings_on_one_book(world: World) -> None:
    """24 commitments of random size race for one programme's money: never over-committed."""
    w = world
    programme_id = new_id("prg")
    at = datetime.now(UTC)
    budget = 1_000_000
    await ledger.post(
        w.repos,
        programme_id,
        [
            Transfer(
                transfer_id=f"{programme_id}:appropriate",
                kind=TransferKind.APPROPRIATE,
                programme_id=programme_id,
                amount_minor=budget,
                at=at,
                actor_id="t",
            )
        ],
    )
    amounts = [random.randint(20_000, 120_000) for _ in range(24)]

    async def commit(i: int, amount: int) -> int:
        transfer = Transfer(
            transfer_id=f"awd-{i}:commit",
            kind=TransferKind.COMMIT,
            programme_id=programme_id,
            award_id=f"awd-{i}",
            amount_minor=amount,
            at=at,
            actor_id="t",
        )
        try:
            # serialise=False: no in-process queue, the version guard alone decides the race
            result = await ledger.post(w.repos, programme_id, [transfer], serialise=False)
        except DomainError as exc:
            refused.append(exc.code)
            return 0
        # and once more: the same id applies once
        assert not (await ledger.post(w.repos, programme_id, [transfer], serialise=False)).applied
        return amount if result.applied else 0

    refused: list[str] = []
    committed = await asyncio.gather(*(commit(i, a) for i, a in enumerate(amounts)))
    assert set(refused) <= {"ledger.insufficient_funds"}, refused
    verified = await ledger.verify_book(w.repos, programme_id)
    assert verified["consistent"], verified
    assert sum(committed) <= budget
    assert verified["stored_balances"][f"programme:{programme_id}:available"] == budget - sum(committed)


async def requested_awards(w: World, programme_id: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        agreement_id = await sibling_agreement(w.repos, w.agreement_id)  # one application per agreement
        award = await award_for(w.http, w.who, programme_id, agreement_id, amount=100_000)
        aid = award["award_id"]
        current = await w.http.get(f"/awards/{aid}", headers=w.who.officer)
        requested = await w.http.post(
            f"/awards/{aid}/tranches/{aid}-t1/request", headers=with_etag(w.who.officer, current)
        )
        assert requested.status_code == 200, requested.text
        ids.append(aid)
    return ids


async def test_sigkill_during_disbursements_leaves_the_book_balanced(world: World) -> None:
    w = world
    programme_id = (await open_programme(w.http, w.who))["programme_id"]
    award_ids = await requested_awards(w, programme_id, 6)
    env = {**os.environ, **w.env, "PYTHONPATH": str(REPO_ROOT)}
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.funding.kill_worker",
        *award_ids,
        stdout=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(REPO_ROOT),
    )
    assert worker.stdout is not None
    lines: list[str] = []
    steps_before_kill = random.randint(1, 9)
    while len(lines) < steps_before_kill:
        line = (await asyncio.wait_for(worker.stdout.readline(), timeout=60)).decode().strip()
        if not line or line == "done":
            break
        lines.append(line)
    await asyncio.sleep(random.uniform(0.0, 0.05))  # land the kill mid-command
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    # A write the worker had sent may still be committed by the server after the worker died
    # (as with any database): let it land before the books are read and repaired.
    await asyncio.sleep(1.0)

    verified = await ledger.verify_book(w.repos, programme_id)
    assert verified["consistent"], verified
    assert verified["trial_balance"] == 0

    # repair: retry the interrupted commands (what an operator or a client retry does);
    # read exactly: the kill may have landed between a version's insert and its head refresh
    clock = SystemClock()
    for aid in award_ids:
        loaded = await w.repos.awards.get(aid, exact=True)
        assert loaded is not None
        tranche = loaded.item.tranche(f"{aid}-t1")
        if tranche.status == "requested":
            await awards.approve_tranche(
                w.repos,
                clock,
                aid,
                tranche.tranche_id,
                approved_minor=None,
                release_remainder=False,
                reason=None,
                approver_id="approver-kill",
            )
    book, _ = await ledger.book_of(w.repos, programme_id)
    for aid in award_ids:
        award: Any = (await w.repos.awards.get(aid, exact=True)).item  # type: ignore[union-attr]
        tranche = award.tranche(f"{aid}-t1")
        disbursed = book.balances.get(f"award:{aid}:disbursed", 0)
        paid = book.balances.get(f"award:{aid}:paid", 0)
        # exactly once: the tranche's money is either disbursed or paid, never both, never twice
        assert disbursed + paid == tranche.scheduled_minor, (aid, disbursed, paid)
        if tranche.status == "paid":
            assert paid == tranche.scheduled_minor
        else:
            assert tranche.status == "approved"
            # a payment posted before the kill but not saved: the retried payment completes it
            if paid:
                await awards.confirm_payment(w.repos, clock, aid, tranche.tranche_id, "BANK-KILL", "officer-kill")
    verified = await ledger.verify_book(w.repos, programme_id)
    assert verified["consistent"], verified
    sync = await awards_in_sync(w.repos, programme_id, verified["stored_balances"])
    assert all(s["in_sync"] for s in sync), sync


async def recover_by_two(repos: Repositories, clock: Clock, aid: str, **proposal: Any) -> Any:
    """Maker-checker: the officer proposes the recovery, the approver orders it."""
    await awards.propose_recovery(repos, clock, aid, actor_id="officer-zhang", **proposal)
    return await awards.approve_recovery(repos, clock, aid, proposal["recovery_id"], approver_id="approver-li")


async def terminate_by_two(repos: Repositories, clock: Clock, aid: str) -> Any:
    """Maker-checker: the officer proposes the termination, the approver approves it."""
    await awards.propose_termination(repos, clock, aid, reason="ended", actor_id="officer-zhang")
    return await awards.approve_termination(repos, clock, aid, approver_id="approver-li")


async def test_random_concurrent_commands_keep_the_book_and_awards_in_step(world: World) -> None:
    """A few random rounds of award commands run two or three at a time against the real
    store: after every round the book verifies and every award agrees with its accounts."""
    w = world
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    programme_id = (await open_programme(w.http, w.who))["programme_id"]
    award_ids = [
        (await award_for(w.http, w.who, programme_id, await sibling_agreement(w.repos, w.agreement_id), 100_000))[
            "award_id"
        ]
        for _ in range(3)
    ]
    counter = 0

    async def command() -> Callable[[], Awaitable[Any]]:
        """Mostly the next step of a random tranche (so steps succeed), sometimes anything."""
        nonlocal counter
        counter += 1
        n = counter
        aid = rng.choice(award_ids)
        current = (await w.repos.awards.get(aid, exact=True)).item  # type: ignore[union-attr]
        sequence = rng.choice([1, 3])
        tid = f"{aid}-t{sequence}"
        at = datetime.now(UTC)
        # every figure is fixed when the command is made, as an HTTP body fixes it
        tranche = current.tranche(tid)
        approved_minor = tranche.scheduled_minor - rng.choice([0, 1_000])
        release = rng.random() < 0.5
        recovery_minor = max(1, current.recoverable_minor // 2)
        recovery = current.recoveries[0] if current.recoveries else None
        settle_minor = max(1, recovery.outstanding_minor if recovery else 1)
        clock, repos = ManualClock(at), w.repos
        steps: dict[str, Callable[[], Awaitable[Any]]] = {
            "release": lambda: awards.release_tranche(repos, clock, aid, tid, "officer-zhang"),
            "request": lambda: awards.request_tranche(repos, clock, aid, tid, "officer-zhang"),
            "approve": lambda: awards.approve_tranche(
                repos,
                clock,
                aid,
                tid,
                approved_minor=approved_minor,
                release_remainder=release,
                reason="partial",
                approver_id="approver-li",
            ),
            "pay": lambda: awards.confirm_payment(repos, clock, aid, tid, f"BANK-{n}", "officer-zhang"),
            "recover": lambda: recover_by_two(
                repos,
                clock,
                aid,
                recovery_id=f"rec-{n}",
                amount_minor=recovery_minor,
                reason="ineligible spend",
                due_at=at + timedelta(days=30),
            ),
            "settle": lambda: awards.settle_recovery(
                repos,
                clock,
                aid,
                recovery.recovery_id if recovery else "none",
                settlement_id=f"s-{n}",
                method=SettlementMethod.REPAYMENT,
                amount_minor=settle_minor,
                bank_reference="BOC-1",
                tranche_id=None,
                actor_id="officer-zhang",
            ),
            "terminate": lambda: terminate_by_two(repos, clock, aid),
        }
        following = {
            "scheduled": "release",
            "eligible": "request",
            "requested": "approve",
            "approved": "pay",
            "paid": rng.choice(["recover", "settle"]),
        }
        name = following.get(str(current.tranche(tid).status), "settle")
        if rng.random() < 0.25:
            name = rng.choice(list(steps))
        if name == "terminate" and rng.random() < 0.7:
            name = "request"  # terminations end the game early: keep them rare
        return steps[name]

    succeeded = 0
    for _ in range(12):
        batch = [await command() for _ in range(rng.choice([2, 3]))]
        outcomes = await asyncio.gather(*(run() for run in batch), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, DomainError):
                raise outcome
            succeeded += not isinstance(outcome, BaseException)
            if isinstance(outcome, DomainError):
                assert outcome.code != "award.behind_ledger", (seed, outcome.detail)
        verified = await ledger.verify_book(w.repos, programme_id)
        assert verified["consistent"], (seed, verified)
        sync = await awards_in_sync(w.repos, programme_id, verified["stored_balances"])
        assert all(s["in_sync"] for s in sync), (seed, sync)
        for aid in award_ids:
            award = (await w.repos.awards.get(aid, exact=True)).item  # type: ignore[union-attr]
            assert award.paid_total_minor <= award.amount_minor
    assert succeeded >= 5, (seed, succeeded)  # the rounds did move money, not only get refused
