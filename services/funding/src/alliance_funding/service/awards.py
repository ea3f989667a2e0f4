"""Award use cases: grant (commit), tranche steps, termination, recoveries, and the
automatic eligible / withheld moves driven by evaluation events.

Every money-moving command follows one order of writes: (1) post the award's
transfers to the programme's book (one atomic insert, idempotent per transfer id);
(2) save the award's new version with its events and audit note. Transfer ids are
derived from the award, the tranche and caller-supplied ids, so a command retried
after a crash between (1) and (2) produces the same ids: the book recognises them
as applied (same kind, amount and award — otherwise 409 ``ledger.transfer_id_reused``
/ ``ledger.partial_replay``) and only (2) is written. See docs/funding.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from alliance_funding.adapters.repositories import Repositories
from alliance_funding.domain.application import Application, ApplicationStatus
from alliance_funding.domain.award import Award
from alliance_funding.domain.programme import Programme
from alliance_funding.service import ledger
from alliance_funding.service.common import check_version, now_utc
from alliance_shared.contract.evaluation import RectificationClosed, RectificationOverdue, ResultCompleted
from alliance_shared.errors import Conflict, DomainError, InvalidTransition, PreconditionFailed
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote, Snapshot
from alliance_shared.persistence.write_path import Change, apply_change

log = get_logger(__name__)

#: Times a command that moved money is decided again after losing the award's version.
ACT_ATTEMPTS = 10


def award_id_for(application_id: str) -> str:
    """One award per application, so a retried grant names the same award and transfers."""
    return f"awd-{application_id}"


async def get(repos: Repositories, award_id: str) -> Loaded[Award]:
    return await repos.awards.require(award_id, "award.not_found", "award")


async def _overdue_orders(repos: Repositories, agreement_id: str) -> tuple[str, ...]:
    evaluations = await repos.evaluations.get(agreement_id)
    return evaluations.item.overdue_order_ids if evaluations else ()


async def _grant(
    repos: Repositories, application: Application, programme: Programme, now: datetime, actor_id: str
) -> Award:
    award = Award.grant(
        award_id=award_id_for(application.application_id),
        application=application,
        programme=programme,
        now=now,
        actor_id=actor_id,
        overdue_order_ids=await _overdue_orders(repos, application.agreement_id),
    )
    await ledger.post(repos, programme.programme_id, award.transfers, award.currency)
    return award


async def ensure_award(repos: Repositories, application_id: str, actor_id: str) -> Loaded[Award]:
    """The award of an approved application, granted (committed and saved) exactly once."""
    award_id = award_id_for(application_id)
    existing = await repos.awards.get(award_id)
    if existing is not None:
        return existing
    application = (await repos.applications.require(application_id, "application.not_found", "application")).item
    if application.status is not ApplicationStatus.APPROVED:
        raise InvalidTransition("application", application.status, "award")
    programme = (await repos.programmes.require(application.programme_id, "programme.not_found", "programme")).item
    award = await _grant(repos, application, programme, application.decided_at or now_utc(), actor_id)
    try:
        await repos.awards.store.create(
            award_id,
            repos.awards.state_of(award),
            award.events,
            AuditNote(
                "award.granted",
                "award",
                award_id,
                None,
                {"amount_minor": award.amount_minor, "transfers": [t.transfer_id for t in award.transfers]},
            ),
        )
    except Conflict:
        pass  # granted meanwhile by a concurrent retry
    return await get(repos, award_id)


async def act(
    repos: Repositories,
    award_id: str,
    expected: int | None,
    change: Callable[[Award], None],
    action: str,
    details: dict[str, Any] | None = None,
) -> Loaded[Award]:
    """Run one award command: decide, post its transfers to the book, save the award.

    If the award changed between load and save (412) after this command moved money,
    the command is decided again on the newest award: the same transfer ids come out,
    the book replays them, and the award is saved — so a concurrent change (an
    evaluation event withholding another tranche, say) cannot leave the book ahead of
    the award. Should the newest award no longer allow the command, that is reported
    as 409 ``award.behind_ledger`` and logged: the verify endpoint lists the award and
    the command completes when it is allowed again (same transfer ids).
    """
    moved = False
    for attempt in range(ACT_ATTEMPTS):
        loaded = await get(repos, award_id)
        if attempt == 0:
            check_version(loaded, expected, "award")
        award = loaded.item
        try:
            change(award)
            posted = await ledger.post(repos, award.programme_id, award.transfers, award.currency)
        except DomainError as exc:
            if not moved:
                raise
            log.error("award behind its book", award_id=award_id, action=action, refused=exc.code)
            raise Conflict(
                "award.behind_ledger",
                f"the book moved the money of this {action}, but the award changed meanwhile and now refuses it "
                f"({exc.detail}); it completes when the step is allowed again",
                cause=exc.code,
            ) from exc
        moved = moved or posted.applied
        try:
            await repos.awards.save(
                award_id,
                loaded.version,
                award,
                AuditNote(
                    action,
                    "award",
                    award_id,
                    None,
                    {
                        **(details or {}),
                        "transfers": [
                            {"transfer_id": t.transfer_id, "kind": t.kind, "amount_minor": t.amount_minor}
                            for t in award.transfers
                        ],
                        "ledger_version": posted.version,
                    },
                ),
            )
        except PreconditionFailed:
            if not moved:
                raise  # nothing of ours moved: the caller decides again (HTTP 412)
            continue
        return await get(repos, award_id)
    raise PreconditionFailed("aggregate.contended", f"award {award_id} kept changing; retry")


# --- driven by evaluation events ------------------------------------------------------


async def _each_active_award(
    repos: Repositories, agreement_id: str, event_id: str, apply: Callable[[Award], None], action: str
) -> int:
    changed = 0
    for found in await repos.awards.find({"agreement_id": agreement_id, "status": "active"}):
        award_id = found.item.award_id

        def decide(snapshot: Snapshot | None) -> Change | None:
            if snapshot is None:
                return None
            award = repos.awards.from_snapshot(snapshot).item
            before = repos.awards.state_of(award)
            apply(award)
            if award.transfers:  # never: holds and releases move no money
                raise DomainError("award.unexpected_transfer", f"{action} would move money")
            if not award.events and repos.awards.state_of(award) == before:
                return None  # (a hold lifted while another remains changes state without an event)
            return Change(
                repos.awards.state_of(award),
                award.events,
                AuditNote(action, "award", award.award_id, None, [type(e).__name__ for e in award.events]),
            )

        if await apply_change(repos.awards.store, award_id, decide, caused_by=event_id) is not None:
            changed += 1
    return changed


async def on_result(repos: Repositories, event_id: str, event: ResultCompleted) -> int:
    now = now_utc()

    def apply(award: Award) -> None:
        award.apply_evaluation(result_id=event.result_id, cycle_kind=event.cycle_kind, grade=event.grade, now=now)

    changed = await _each_active_award(repos, event.agreement_id, event_id, apply, "tranche.evaluation")
    log.info("evaluation result applied to awards", agreement_id=event.agreement_id, awards_changed=changed)
    return changed


async def on_rectification(
    repos: Repositories, event_id: str, event: RectificationOverdue | RectificationClosed
) -> int:
    now = now_utc()
    overdue = isinstance(event, RectificationOverdue)

    def apply(award: Award) -> None:
        if overdue:
            award.rectification_overdue(event.order_id, now)
        else:
            award.rectification_closed(event.order_id, now)

    return await _each_active_award(
        repos,
        event.agreement_id,
        event_id,
        apply,
        "tranche.rectification_overdue" if overdue else "tranche.rectification_closed",
    )
