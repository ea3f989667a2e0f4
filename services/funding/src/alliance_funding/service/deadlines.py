"""The recovery deadline pass: reminders, overdue and escalation of recoveries still owed.

Every ``FUNDING_RECOVERY_CHECK_SECONDS`` (and at start) the pass loads the awards with a
recovery still owed (``recovery_open``, indexed) and lets ``Award.check_recovery_deadlines``
act on the injected clock's now. Each step is recorded on the recovery, so the events
(``recovery.due_soon``, ``recovery.overdue``, ``recovery.escalated``) are written once,
with the award's version, however often the pass runs and whichever funding process runs
it: two passes racing on one award compute the same step, one save wins the version and
the loser decides again on the newest award, where the step is already taken.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from alliance_funding.domain.award import Award
from alliance_funding.service.ports import Repositories
from alliance_shared.clock import Clock
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import EVENT_RETRY, Decision, execute

log = get_logger(__name__)


@dataclass(frozen=True)
class DeadlinePolicy:
    """When a recovery's deadline acts, in calendar days (a recovery's ``due_at`` is a
    calendar date set by the officer; no working-day calendar applies to it)."""

    remind_before: timedelta
    escalate_after: timedelta


async def check_recovery_deadlines(repos: Repositories, clock: Clock, policy: DeadlinePolicy) -> int:
    """One pass; how many awards it changed."""
    now = clock.now()
    changed = 0
    for found in await repos.awards.find({"recovery_open": True}):

        def decide(loaded: Loaded[Award] | None) -> Decision[Award] | None:
            if loaded is None:
                return None
            award = loaded.item
            award.check_recovery_deadlines(
                now, remind_before=policy.remind_before, escalate_after=policy.escalate_after
            )
            if not award.events:
                return None
            return Decision(
                award,
                AuditNote(
                    "recovery.deadline",
                    "award",
                    award.award_id,
                    None,
                    [f"{type(e).__name__}:{getattr(e, 'recovery_id', '')}" for e in award.events],
                ),
            )

        outcome = await execute(repos.awards, found.item.award_id, decide, retry=EVENT_RETRY)
        changed += outcome.written
    return changed


async def deadline_loop(repos: Repositories, clock: Clock, policy: DeadlinePolicy, every_s: float) -> None:
    while True:
        try:
            changed = await check_recovery_deadlines(repos, clock, policy)
            if changed:
                log.info("recovery deadlines acted on", awards_changed=changed)
        except asyncio.CancelledError:
            raise
        except Exception:  # a pass that fails is tried again at the next tick
            log.warning("recovery deadline pass failed", exc_info=True)
        await asyncio.sleep(every_s)
