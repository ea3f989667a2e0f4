"""A disbursement worker the crash test kills with SIGKILL (not a test module).

``python -m tests.integration.funding.kill_worker <award id>...`` approves the
requested first tranche of each award and confirms its payment, through the real use
cases against the database named by FUNDING_* variables, printing a line after each
step. It is killed at a random moment; the test then checks the books.
"""

from __future__ import annotations

import asyncio
import sys

from alliance_funding.app import build_repositories, build_runtime
from alliance_funding.service import awards
from alliance_funding.settings import Settings
from alliance_shared.clock import SystemClock


async def main(award_ids: list[str]) -> None:
    repos = build_repositories(build_runtime(Settings()))
    clock = SystemClock()
    for award_id in award_ids:
        tranche_id = f"{award_id}-t1"
        await awards.approve_tranche(
            repos,
            clock,
            award_id,
            tranche_id,
            approved_minor=None,  # the scheduled amount
            release_remainder=False,
            reason=None,
            approver_id="approver-kill",
        )
        print(f"approved {award_id}", flush=True)
        await awards.confirm_payment(repos, clock, award_id, tranche_id, "BANK-KILL", "officer-kill")
        print(f"paid {award_id}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
