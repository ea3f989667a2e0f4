"""The reconciling pass: finishes what a crash interrupted, and reports what it cannot.

* An approved application whose grant a second person confirmed, without its award (a
  crash after the confirmation was saved, or a programme whose money a concurrent award
  took): ``ensure_award`` is tried again — idempotent, it commits and grants once, in the
  approver's name; while the money is not there it stays as is. An application nobody
  confirmed waits for its second person: the pass never grants on its own.
* Every programme's book is verified (journal = balances, trial balance zero, no floored
  account negative) and every award compared with its accounts; differences are logged
  as errors (an award behind its book completes when its command is retried).
"""

from __future__ import annotations

import asyncio
from typing import Any

from alliance_funding.service import awards, ledger, reports
from alliance_funding.service.ports import Repositories
from alliance_shared.clock import Clock
from alliance_shared.errors import DomainError
from alliance_shared.logging import get_logger

log = get_logger(__name__)


async def reconcile_once(repos: Repositories, clock: Clock) -> dict[str, Any]:
    granted: list[str] = []
    waiting: list[str] = []
    for loaded in await repos.applications.find({"status": "approved"}):
        application_id = loaded.item.application_id
        if loaded.item.award_approved_by is None:
            continue
        if await repos.awards.get(awards.award_id_for(application_id)) is not None:
            continue
        try:
            await awards.ensure_award(repos, clock, application_id)
            granted.append(application_id)
        except DomainError as exc:
            waiting.append(application_id)
            log.warning("approved application still without award", application_id=application_id, reason=exc.code)
    problems: dict[str, Any] = {}
    for programme in await repos.programmes.find({}):
        programme_id = programme.item.programme_id
        if await repos.ledgers.get(programme_id) is None:
            continue
        verified = await ledger.verify_book(repos, programme_id)
        behind = [
            a
            for a in await reports.awards_in_sync(repos, programme_id, verified["stored_balances"])
            if not a["in_sync"]
        ]
        if not verified["consistent"] or behind:
            problems[programme_id] = {"book": verified["problems"], "awards": behind}
            log.error("ledger reconciliation found differences", programme_id=programme_id, **problems[programme_id])
    return {"awards_granted": granted, "approved_without_award": waiting, "problems": problems}


async def reconcile_loop(repos: Repositories, clock: Clock, every_s: float) -> None:
    while True:
        try:
            await reconcile_once(repos, clock)
        except Exception:  # a pass that fails is tried again at the next tick
            log.warning("reconciliation pass failed", exc_info=True)
        await asyncio.sleep(every_s)
