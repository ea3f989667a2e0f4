"""A ledger writer the group-commit crash test kills with SIGKILL (not a test module).

``python -m tests.integration.funding.group_commit_worker <programme id> <transfers>``
posts that many commitments of 100 fen (``awd-<n>:commit``) to the programme's book
from 16 concurrent writers through ``ledger.post`` (so they are written in batches),
against the database named by FUNDING_* variables, printing ``acked <transfer id>``
once the posting of a transfer returned.
"""

from __future__ import annotations

import asyncio
import sys

from alliance_funding.app import build_repositories, build_runtime
from alliance_funding.service import ledger
from alliance_funding.settings import Settings
from tests.integration.funding.test_funding_group_commit import WRITERS, commitment


async def main(programme_id: str, transfers: int) -> None:
    repos = build_repositories(build_runtime(Settings()))

    async def writer(first: int) -> None:
        for n in range(first, transfers, WRITERS):
            transfer = commitment(programme_id, n, 100)
            await ledger.post(repos, programme_id, [transfer])
            print(f"acked {transfer.transfer_id}", flush=True)

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
