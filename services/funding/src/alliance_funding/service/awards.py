"""Award use cases: grant (commit), the tranche steps, termination, recoveries, and the
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

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from alliance_funding.domain.application import Application, ApplicationStatus
from alliance_funding.domain.award import Award
from alliance_funding.domain.ledger import Transfer
from alliance_funding.service import ledger, readmodels
from alliance_funding.service.ports import Repositories
from alliance_funding.service.reports import award_sync
from alliance_shared.clock import Clock
from alliance_shared.contract.evaluation import RectificationClosed, RectificationOverdue, ResultCompleted
from alliance_shared.contract.funding import RemainderReleaseTrigger, SettlementMethod
from alliance_shared.contract.registry import (
    AgreementCompleted,
    AgreementResumed,
    AgreementSuspended,
    AgreementTerminated,
)
from alliance_shared.errors import Conflict, DomainError, InvalidTransition, NotFound
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import (
    EVENT_RETRY,
    Decision,
    Outcome,
    check_expected,
    create,
    execute,
    update,
)

log = get_logger(__name__)

NOT_FOUND = ("award.not_found", "award")

#: What a command does to the award (a domain method with the command's figures bound).
AwardChange = Callable[[Award], None]


def award_id_for(application_id: str) -> str:
    """One award per application, so a retried grant names the same award and transfers."""
    return f"awd-{application_id}"


async def get(repos: Repositories, award_id: str, *, exact: bool = False) -> Loaded[Award]:
    """The award as stored; ``exact`` for a decision taken before its write (the newest version)."""
    loaded = await repos.awards.get(award_id, exact=exact)
    if loaded is None:
        code, what = NOT_FOUND
        raise NotFound(code, f"no {what} {award_id}")
    return loaded


async def grant_award(repos: Repositories, clock: Clock, application_id: str, approver_id: str) -> Loaded[Award]:
    """The second person grants the award of an approved application (maker-checker: never
    the officer who approved it). Writes, in order: (1) the application records who
    confirmed the grant; (2)+(3) ``ensure_award`` commits the money and saves the award.
    Idempotent: a retry, by this or another approver, completes an interrupted grant."""
    existing = await repos.awards.get(award_id_for(application_id))
    if existing is not None:
        return existing
    now = clock.now()

    def decide(application: Application) -> Decision[Application]:
        application.approve_award(now, approver_id)
        return Decision(application, AuditNote("award.approved", "application", application_id, None, approver_id))

    loaded = await repos.applications.get(application_id, exact=True)
    if loaded is None:
        raise NotFound("application.not_found", f"no application {application_id}")
    # refuses the maker before anything is written; a confirmation made before is kept
    if loaded.item.approve_award(now, approver_id):
        await update(repos.applications, application_id, decide, not_found=("application.not_found", "application"))
    return await ensure_award(repos, clock, application_id)


async def ensure_award(repos: Repositories, clock: Clock, application_id: str) -> Loaded[Award]:
    """The award of an approved application whose grant a second person confirmed, granted
    (committed and saved) exactly once, in the name of that person."""
    award_id = award_id_for(application_id)
    existing = await repos.awards.get(award_id)
    if existing is not None:
        return existing
    application = (await repos.applications.require(application_id, "application.not_found", "application")).item
    if application.status is not ApplicationStatus.APPROVED:
        raise InvalidTransition("application", application.status, "award")
    if application.award_approved_by is None:
        raise DomainError("award.not_approved", "a second person has not confirmed the grant yet")
    programme = (await repos.programmes.require(application.programme_id, "programme.not_found", "programme")).item
    evaluations = await repos.evaluations.get(application.agreement_id)
    agreement = await repos.agreements.get(application.agreement_id, exact=True)
    award = Award.grant(
        award_id=award_id,
        application=application,
        programme=programme,
        now=application.award_approved_at or clock.now(),
        actor_id=application.award_approved_by,
        overdue_order_ids=evaluations.item.overdue_order_ids if evaluations else (),
        agreement_hold=agreement.item.hold if agreement else None,
        agreement_hold_reason=agreement.item.hold_reason if agreement else None,
    )
    await ledger.post(repos, programme.programme_id, award.transfers, award.currency)
    audit = AuditNote(
        "award.granted",
        "award",
        award_id,
        None,
        {"amount_minor": award.amount_minor, "transfers": [t.transfer_id for t in award.transfers]},
    )
    try:
        await create(repos.awards, award_id, award, audit)
    except Conflict:
        pass  # granted meanwhile by a concurrent retry
    return await get(repos, award_id)


# --- the money-moving commands ---------------------------------------------------------


async def release_tranche(
    repos: Repositories, clock: Clock, award_id: str, tranche_id: str, actor_id: str, *, expected: int | None = None
) -> Outcome[Award]:
    """An officer releases a tranche whose condition is manual (it becomes eligible)."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.release_manually(tranche_id, now, actor_id),
        "tranche.released",
        {"tranche_id": tranche_id},
        expected=expected,
    )


async def request_tranche(
    repos: Repositories, clock: Clock, award_id: str, tranche_id: str, actor_id: str, *, expected: int | None = None
) -> Outcome[Award]:
    """An officer prepares the disbursement of an eligible tranche (the maker)."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.request_tranche(tranche_id, now, actor_id),
        "tranche.requested",
        {"tranche_id": tranche_id},
        expected=expected,
    )


async def approve_tranche(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    tranche_id: str,
    *,
    approved_minor: int | None,
    release_remainder: bool,
    reason: str | None,
    approver_id: str,
    expected: int | None = None,
) -> Outcome[Award]:
    """An approver approves a prepared tranche (never its preparer); ``approved_minor``
    None (absent, not 0) approves the scheduled amount, less needs a reason, 0 is refused."""
    now = clock.now()

    def approve(award: Award) -> None:
        scheduled = award.tranche(tranche_id).scheduled_minor
        award.approve_tranche(
            tranche_id,
            approved_minor=scheduled if approved_minor is None else approved_minor,
            release_remainder=release_remainder,
            reason=reason,
            now=now,
            approver_id=approver_id,
        )

    details = {
        "tranche_id": tranche_id,
        "approved_minor": approved_minor,
        "release_remainder": release_remainder,
        "reason": reason,
    }
    return await _move_money(repos, award_id, approve, "tranche.approved", details, expected=expected)


async def release_remainder(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    tranche_id: str,
    approver_id: str,
    *,
    expected: int | None = None,
    trigger: RemainderReleaseTrigger = RemainderReleaseTrigger.APPROVER,
) -> Outcome[Award]:
    """An approver releases a remainder a partial approval kept, back to the programme
    (or the programme's closing does, ``trigger``)."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.release_remainder(tranche_id, now, approver_id, trigger),
        "tranche.remainder_released",
        {"tranche_id": tranche_id, "trigger": trigger},
        expected=expected,
    )


async def confirm_payment(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    tranche_id: str,
    bank_reference: str,
    actor_id: str,
    *,
    expected: int | None = None,
) -> Outcome[Award]:
    """An officer confirms the bank paid an approved tranche."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.confirm_payment(tranche_id, bank_reference, now, actor_id),
        "tranche.paid",
        {"tranche_id": tranche_id, "bank_reference": bank_reference},
        expected=expected,
    )


async def propose_termination(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    *,
    reason: str,
    actor_id: str,
    recovery_id: str | None = None,
    recovery_minor: int = 0,
    recovery_due_at: datetime | None = None,
    expected: int | None = None,
) -> Outcome[Award]:
    """An officer proposes ending the award, optionally with a recovery (the maker); no money moves."""
    now = clock.now()

    def propose(award: Award) -> None:
        award.propose_termination(
            reason=reason,
            now=now,
            actor_id=actor_id,
            recovery_id=recovery_id,
            recovery_minor=recovery_minor,
            recovery_due_at=recovery_due_at,
        )

    details = {
        "reason": reason,
        "recovery_id": recovery_id,
        "recovery_minor": recovery_minor,
        "recovery_due_at": recovery_due_at,
    }
    return await _move_money(repos, award_id, propose, "award.termination_proposed", details, expected=expected)


async def approve_termination(
    repos: Repositories, clock: Clock, award_id: str, *, approver_id: str, expected: int | None = None
) -> Outcome[Award]:
    """A second person approves the proposed termination: void what is committed, order the
    proposed recovery of what was paid."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.approve_termination(now=now, approver_id=approver_id),
        "award.terminated",
        {"approved_by": approver_id},
        expected=expected,
    )


async def propose_recovery(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    *,
    recovery_id: str,
    amount_minor: int,
    reason: str,
    due_at: datetime,
    actor_id: str,
    expected: int | None = None,
) -> Outcome[Award]:
    """An officer proposes recovering paid money (the maker); no money moves."""
    now = clock.now()

    def propose(award: Award) -> None:
        award.propose_recovery(
            recovery_id=recovery_id, amount_minor=amount_minor, reason=reason, due_at=due_at, now=now, actor_id=actor_id
        )

    details = {"recovery_id": recovery_id, "amount_minor": amount_minor, "reason": reason, "due_at": due_at}
    return await _move_money(repos, award_id, propose, "recovery.proposed", details, expected=expected)


async def approve_recovery(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    recovery_id: str,
    *,
    approver_id: str,
    expected: int | None = None,
) -> Outcome[Award]:
    """A second person orders the proposed recovery (it becomes receivable)."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.approve_recovery(recovery_id, now=now, approver_id=approver_id),
        "recovery.ordered",
        {"recovery_id": recovery_id, "approved_by": approver_id},
        expected=expected,
    )


async def settle_recovery(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    recovery_id: str,
    *,
    settlement_id: str,
    method: SettlementMethod,
    amount_minor: int,
    bank_reference: str | None,
    tranche_id: str | None,
    actor_id: str,
    expected: int | None = None,
) -> Outcome[Award]:
    """Settle (part of) a recovery by repayment (bank reference) or by offset against an
    approved, unpaid tranche of the award."""
    now = clock.now()

    def settle(award: Award) -> None:
        if method is SettlementMethod.REPAYMENT:
            award.settle_by_repayment(
                recovery_id=recovery_id,
                settlement_id=settlement_id,
                amount_minor=amount_minor,
                bank_reference=bank_reference or "",
                now=now,
                actor_id=actor_id,
            )
        elif not tranche_id:
            raise DomainError("recovery.tranche_required", "an offset names the tranche it is taken from")
        else:
            award.settle_by_offset(
                recovery_id=recovery_id,
                settlement_id=settlement_id,
                tranche_id=tranche_id,
                amount_minor=amount_minor,
                now=now,
                actor_id=actor_id,
            )

    details = {
        "recovery_id": recovery_id,
        "settlement_id": settlement_id,
        "method": method,
        "amount_minor": amount_minor,
        "bank_reference": bank_reference,
        "tranche_id": tranche_id,
    }
    return await _move_money(repos, award_id, settle, "recovery.settled", details, expected=expected)


async def propose_write_off(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    recovery_id: str,
    *,
    reason: str,
    actor_id: str,
    expected: int | None = None,
) -> Outcome[Award]:
    """An officer proposes writing off what is outstanding of a recovery (the maker); no money moves."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.propose_write_off(recovery_id, reason=reason, now=now, actor_id=actor_id),
        "recovery.write_off_proposed",
        {"recovery_id": recovery_id, "reason": reason},
        expected=expected,
    )


async def approve_write_off(
    repos: Repositories,
    clock: Clock,
    award_id: str,
    recovery_id: str,
    *,
    approver_id: str,
    expected: int | None = None,
) -> Outcome[Award]:
    """A second person approves the write-off: the book moves what was outstanding from the
    award's receivable to the programme's written-off account; the recovery closes."""
    now = clock.now()
    return await _move_money(
        repos,
        award_id,
        lambda award: award.approve_write_off(recovery_id, now=now, approver_id=approver_id),
        "recovery.written_off",
        {"recovery_id": recovery_id, "approved_by": approver_id},
        expected=expected,
    )


def _transfer_keys(transfers: list[Transfer]) -> list[tuple[str, str, int, str | None]]:
    """What the book compares to tell a replay from a reused transfer id."""
    return [(t.transfer_id, t.kind, t.amount_minor, t.award_id) for t in transfers]


async def _move_money(
    repos: Repositories,
    award_id: str,
    change: AwardChange,
    action: str,
    details: Mapping[str, Any],
    *,
    expected: int | None,
) -> Outcome[Award]:
    """One award command: decide on the award the caller saw, post its transfers to the
    book, then save the award through the write path.

    If the award changed between the posting and the save after this command moved
    money, the write path decides again on the newest award: the same transfers come
    out (the book has them) and the award is saved — so a concurrent change (an
    evaluation event withholding another tranche, say) cannot leave the book ahead of
    the award. Should the newest award refuse the command, or ask for other transfers,
    that is 409 ``award.behind_ledger``, logged: the verify endpoint lists the award and
    the command completes when it is allowed again (same transfer ids). If nothing moved,
    a change meanwhile is 412 and the caller decides again.

    Two commands of the same step racing (a double click, a retry) move the money once:
    the first posts it, the second meets its transfer ids in the book and, finding the
    award not yet saved, saves the step as the crash repair does. The first then finds
    the step taken; when the award agrees with its accounts in the book, nothing is
    behind and it hears the refusal itself (the step was taken by the other).
    """
    loaded = await get(repos, award_id, exact=True)
    check_expected(award_id, loaded.version, expected)
    planned = loaded.item
    change(planned)
    posted = await ledger.post(repos, planned.programme_id, planned.transfers, planned.currency)
    posted_keys = _transfer_keys(planned.transfers)

    def behind_ledger(detail: str, cause: str) -> Conflict:
        return Conflict(
            "award.behind_ledger",
            f"the book moved the money of this {action}, but the award changed meanwhile and now {detail}; "
            "it completes when the step is allowed again",
            cause=cause,
        )

    def decide(award: Award) -> Decision[Award]:
        try:
            change(award)
        except DomainError as exc:
            if not posted.applied:
                raise
            raise behind_ledger(f"refuses it ({exc.detail})", exc.code) from exc
        if posted.applied and _transfer_keys(award.transfers) != posted_keys:
            raise behind_ledger("asks the book for other transfers", "award.transfers_changed")
        audit = AuditNote(
            action,
            "award",
            award_id,
            None,
            {
                **details,
                "transfers": [
                    {"transfer_id": t.transfer_id, "kind": t.kind, "amount_minor": t.amount_minor}
                    for t in award.transfers
                ],
                "ledger_version": posted.version,
            },
        )
        return Decision(award, audit)

    # Money moved: decide again on a newer award (bounded). Nothing moved: exactly this version.
    try:
        return await update(
            repos.awards, award_id, decide, not_found=NOT_FOUND, expected=None if posted.applied else loaded.version
        )
    except Conflict as behind:
        if behind.code != "award.behind_ledger":
            raise
        refusal = behind.__cause__
        if isinstance(refusal, DomainError) and await _agrees_with_book(repos, award_id, planned.programme_id):
            raise refusal from None
        log.error("award behind its book", award_id=award_id, action=action, refused=behind.extensions.get("cause"))
        raise


async def _agrees_with_book(repos: Repositories, award_id: str, programme_id: str) -> bool:
    """Does the award's newest version agree with its accounts in the book (what the
    verification checks)?"""
    book, _ = await ledger.book_of(repos, programme_id)
    newest = await get(repos, award_id, exact=True)
    return bool(award_sync(newest.item, book.balances)["in_sync"])


# --- driven by registry and evaluation events -----------------------------------------

#: Agreement events that can stop or restart the agreement's money.
STOPPING_EVENTS = (AgreementSuspended, AgreementResumed, AgreementTerminated, AgreementCompleted)


async def _each_active_award(
    repos: Repositories, agreement_id: str, event_id: str, apply: AwardChange, action: str
) -> int:
    changed = 0
    for found in await repos.awards.find({"agreement_id": agreement_id, "status": "active"}):

        def decide(loaded: Loaded[Award] | None) -> Decision[Award] | None:
            if loaded is None:
                return None
            award = loaded.item
            before = repos.awards.state_of(award)
            apply(award)
            if award.transfers:  # never: holds and releases move no money
                raise DomainError("award.unexpected_transfer", f"{action} would move money")
            if not award.events and repos.awards.state_of(award) == before:
                return None  # (a hold lifted while another remains changes state without an event)
            return Decision(
                award, AuditNote(action, "award", award.award_id, None, [type(e).__name__ for e in award.events])
            )

        outcome = await execute(repos.awards, found.item.award_id, decide, caused_by=event_id, retry=EVENT_RETRY)
        changed += outcome.written
    return changed


async def apply_result(repos: Repositories, clock: Clock, event_id: str, event: ResultCompleted) -> int:
    """A completed evaluation result makes evaluation tranches eligible or withholds them."""
    now = clock.now()

    def apply(award: Award) -> None:
        award.apply_evaluation(result_id=event.result_id, cycle_kind=event.cycle_kind, grade=event.grade, now=now)

    changed = await _each_active_award(repos, event.agreement_id, event_id, apply, "tranche.evaluation")
    log.info("evaluation result applied to awards", agreement_id=event.agreement_id, awards_changed=changed)
    return changed


async def apply_rectification(
    repos: Repositories, clock: Clock, event_id: str, event: RectificationOverdue | RectificationClosed
) -> int:
    """An overdue rectification withholds released tranches; its closing lifts the hold."""
    now = clock.now()
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


async def apply_agreement_hold(repos: Repositories, clock: Clock, event_id: str, agreement_id: str) -> int:
    """Hold or release the agreement's awards as the read model now says (the newest agreement
    event wins, so a late older event cannot undo a newer stop or reinstatement)."""
    now = clock.now()
    view = await repos.agreements.get(agreement_id, exact=True)
    hold = view.item.hold if view else None
    reason = (view.item.hold_reason if view else None) or ""

    def apply(award: Award) -> None:
        if hold is None:
            award.agreement_reinstated(now)
        else:
            award.agreement_stopped(hold, reason, now)

    changed = await _each_active_award(repos, agreement_id, event_id, apply, "tranche.agreement_hold")
    log.info("agreement status applied to awards", agreement_id=agreement_id, hold=hold, awards_changed=changed)
    return changed


async def on_agreement_changed(
    repos: Repositories, clock: Clock, event_id: str, event: readmodels.AgreementEvent
) -> None:
    """Fold an agreement event; a suspension, termination, early completion or resumption
    then holds or releases the unpaid tranches of the agreement's awards."""
    await readmodels.apply_agreement_event(repos, event_id, event)
    if isinstance(event, STOPPING_EVENTS):
        await apply_agreement_hold(repos, clock, event_id, event.agreement_id)


async def on_result_completed(repos: Repositories, clock: Clock, event_id: str, event: ResultCompleted) -> None:
    """Fold the result into the agreement's evaluation facts; if it is the newest, it moves the awards."""
    if await readmodels.record_result(repos, event_id, event):
        await apply_result(repos, clock, event_id, event)


async def on_rectification_changed(
    repos: Repositories, clock: Clock, event_id: str, event: RectificationOverdue | RectificationClosed
) -> None:
    """Fold an overdue / closed rectification; if it changes the agreement's holds, it moves the awards."""
    if await readmodels.record_rectification(repos, event_id, event):
        await apply_rectification(repos, clock, event_id, event)
