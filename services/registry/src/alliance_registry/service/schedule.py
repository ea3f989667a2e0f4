"""The periodic check: certificates expire, signed agreements start, active ones complete.

Each automatic transition is saved with a fixed ``caused_by`` per aggregate
(``auto:expire``, ``auto:activate``, ``auto:complete``): the store applies a cause once
per aggregate, so two replicas (or a retried round) announce it exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from alliance_registry.adapters.repositories import A, Repositories, Repository
from alliance_registry.domain.agreement import Agreement
from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_registry.domain.common import SYSTEM_ACTOR
from alliance_registry.service.common import utcnow
from alliance_shared import context
from alliance_shared.contract.registry import AgreementStatus
from alliance_shared.logging import get_logger
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import Change, apply_change

log = get_logger(__name__)


@dataclass(frozen=True)
class RoundResult:
    expired: int = 0
    activated: int = 0
    completed: int = 0


async def _auto(
    repo: Repository[A], aggregate_id: str, cause: str, step: Callable[[A], bool], audit: AuditNote
) -> bool:
    def decide(snapshot: Snapshot | None) -> Change | None:
        if snapshot is None:
            return None
        loaded = repo.from_snapshot(snapshot)
        if not step(loaded.item):
            return None
        return Change(repo.state_of(loaded.item), list(loaded.item.events), audit)

    written = await apply_change(repo.store, aggregate_id, decide, caused_by=cause)
    return written is not None


async def run_due(repos: Repositories, now: datetime) -> RoundResult:
    """One round at instant ``now`` (tests pass a future instant)."""
    expired = activated = completed = 0
    ctx = context.MessageContext(
        correlation_id=f"schedule-{now.isoformat()}", actor_id=SYSTEM_ACTOR, actor_role="system"
    )
    with context.bound(ctx):
        for cert in await repos.certifications.find({"status": CertificationStatus.CERTIFIED.value}):
            if cert.item.certificate is None or now < cert.item.certificate.valid_to:
                continue
            cid = cert.item.certification_id

            def expire(c: Certification) -> bool:
                return c.expire_if_due(now)

            note = AuditNote(
                "certification.expired", "certification", cid, {"status": "certified"}, {"status": "expired"}
            )
            expired += await _auto(repos.certifications, cid, "auto:expire", expire, note)
        statuses = [AgreementStatus.SIGNED.value, AgreementStatus.ACTIVE.value]
        for agreement in await repos.agreements.find({"status": {"$in": statuses}}):
            aid = agreement.item.agreement_id
            if agreement.item.status is AgreementStatus.SIGNED:

                def start(a: Agreement) -> bool:
                    return a.activate_if_due(now)

                note = AuditNote("agreement.activated", "agreement", aid, {"status": "signed"}, {"status": "active"})
                activated += await _auto(repos.agreements, aid, "auto:activate", start, note)
            else:

                def finish(a: Agreement) -> bool:
                    return a.complete_if_due(now)

                note = AuditNote("agreement.completed", "agreement", aid, {"status": "active"}, {"status": "completed"})
                completed += await _auto(repos.agreements, aid, "auto:complete", finish, note)
    return RoundResult(expired=expired, activated=activated, completed=completed)


async def schedule_loop(repos: Repositories, interval_s: float) -> None:
    """The periodic check, run as a task of the service's lifespan."""
    while True:
        try:
            result = await run_due(repos, utcnow())
            if result.expired or result.activated or result.completed:
                log.info("scheduled transitions", **result.__dict__)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("scheduled check failed; trying again next round", exc_info=True)
        await asyncio.sleep(interval_s)
