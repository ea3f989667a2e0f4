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
from typing import TypeVar

from pydantic import BaseModel

from alliance_registry.domain.agreement import Agreement
from alliance_registry.domain.certification import Certification, CertificationStatus
from alliance_registry.domain.common import SYSTEM_ACTOR
from alliance_registry.service.repositories import Repositories
from alliance_shared import context
from alliance_shared.clock import Clock
from alliance_shared.contract.registry import AgreementStatus
from alliance_shared.logging import get_logger
from alliance_shared.persistence import write_path
from alliance_shared.persistence.repository import Loaded, Repository
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class RoundResult:
    expired: int = 0
    activated: int = 0
    completed: int = 0


async def _auto(
    repo: Repository[M], aggregate_id: str, cause: str, step: Callable[[M], bool], audit: AuditNote
) -> bool:
    """Apply ``step`` once per aggregate and ``cause``; True if this call wrote it."""

    def decide(loaded: Loaded[M] | None) -> Decision[M] | None:
        if loaded is None or not step(loaded.item):
            return None
        return Decision(loaded.item, audit)

    outcome = await write_path.execute(repo, aggregate_id, decide, caused_by=cause)
    return outcome.written


async def expire_certificate(repos: Repositories, certification_id: str, now: datetime) -> bool:
    def expire(c: Certification) -> bool:
        return c.expire_if_due(now)

    note = AuditNote(
        "certification.expired", "certification", certification_id, {"status": "certified"}, {"status": "expired"}
    )
    return await _auto(repos.certifications, certification_id, "auto:expire", expire, note)


async def start_agreement(repos: Repositories, agreement_id: str, now: datetime) -> bool:
    def start(a: Agreement) -> bool:
        return a.activate_if_due(now)

    note = AuditNote("agreement.activated", "agreement", agreement_id, {"status": "signed"}, {"status": "active"})
    return await _auto(repos.agreements, agreement_id, "auto:activate", start, note)


async def complete_agreement(repos: Repositories, agreement_id: str, now: datetime) -> bool:
    def finish(a: Agreement) -> bool:
        return a.complete_if_due(now)

    note = AuditNote("agreement.completed", "agreement", agreement_id, {"status": "active"}, {"status": "completed"})
    return await _auto(repos.agreements, agreement_id, "auto:complete", finish, note)


async def run_due(repos: Repositories, now: datetime) -> RoundResult:
    """One round at instant ``now`` (tests pass a future instant)."""
    expired = activated = completed = 0
    ctx = context.MessageContext(
        correlation_id=f"schedule-{now.isoformat()}", actor_id=SYSTEM_ACTOR, actor_role="system"
    )
    with context.bound(ctx):
        for cert in await repos.certifications.find({"status": CertificationStatus.CERTIFIED.value}):
            if cert.item.certificate is not None and now >= cert.item.certificate.valid_to:
                expired += await expire_certificate(repos, cert.item.certification_id, now)
        statuses = [AgreementStatus.SIGNED.value, AgreementStatus.ACTIVE.value]
        for agreement in await repos.agreements.find({"status": {"$in": statuses}}):
            if agreement.item.status is AgreementStatus.SIGNED:
                activated += await start_agreement(repos, agreement.item.agreement_id, now)
            else:
                completed += await complete_agreement(repos, agreement.item.agreement_id, now)
    return RoundResult(expired=expired, activated=activated, completed=completed)


async def schedule_loop(repos: Repositories, clock: Clock, interval_s: float) -> None:
    """The periodic check, run as a task of the service's lifespan."""
    while True:
        try:
            result = await run_due(repos, clock.now())
            if result.expired or result.activated or result.completed:
                log.info("scheduled transitions", **result.__dict__)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("scheduled check failed; trying again next round", exc_info=True)
        await asyncio.sleep(interval_s)
