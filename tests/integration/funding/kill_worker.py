"""A disbursement worker the crash test kills with SIGKILL (not a test module).

``python -m tests.integration.funding.kill_worker <award id>...`` approves the
requested first tranche of each award and confirms its payment, through the real use
cases against the database named by FUNDING_* variables, printing a line after each
step. It is killed at a random moment; the test then checks the books.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from alliance_funding.adapters.repositories import Repositories
from alliance_funding.app import build_runtime
from alliance_funding.domain.award import Award
from alliance_funding.service import awards
from alliance_funding.settings import Settings


async def main(award_ids: list[str]) -> None:
    runtime = build_runtime(Settings())
    repos = Repositories(runtime)
    for award_id in award_ids:
        tranche_id = f"{award_id}-t1"

        def approve(award: Award, tranche_id: str = tranche_id) -> None:
            award.approve_tranche(
                tranche_id,
                approved_minor=award.tranche(tranche_id).scheduled_minor,
                release_remainder=False,
                reason=None,
                now=datetime.now(UTC),
                approver_id="approver-kill",
            )

        def pay(award: Award, tranche_id: str = tranche_id) -> None:
            award.confirm_payment(tranche_id, "BANK-KILL", datetime.now(UTC), "officer-kill")

        await awards.act(repos, award_id, None, approve, "tranche.approved")
        print(f"approved {award_id}", flush=True)
        await awards.act(repos, award_id, None, pay, "tranche.paid")
        print(f"paid {award_id}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
