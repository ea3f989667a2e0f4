"""The periodic checks, run as a task of the service's lifespan."""

from __future__ import annotations

import asyncio

from alliance_evaluation.service.appeals import finish_upheld_appeals
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.evidence import settle_parked_reports
from alliance_evaluation.service.rectification import check_deadlines
from alliance_shared.logging import get_logger

log = get_logger(__name__)


async def housekeeping_loop(ctx: Context) -> None:
    """Overdue and escalated rectification orders, upheld appeals whose re-score a crash interrupted, and
    parked reports to apply or, once their wait is over, dead-letter."""
    while True:
        try:
            changed = await check_deadlines(ctx)
            if changed:
                log.info("rectification orders marked overdue or escalated", count=changed)
            finished = await finish_upheld_appeals(ctx)
            if finished:
                log.info("interrupted appeal re-scores finished", count=finished)
            settled = await settle_parked_reports(ctx)
            if settled:
                log.info("parked reports settled", count=settled)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("periodic check failed; trying again next round", exc_info=True)
        await asyncio.sleep(ctx.settings.overdue_check_seconds)
