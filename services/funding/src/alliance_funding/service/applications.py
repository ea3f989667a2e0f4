"""Application use cases: draft, revise, submit (eligibility from the read models),
withdraw, review, decide. A second person then grants the award (``awards.grant_award``).

One application per agreement and programme round: the application id derives from
the two and the attempt (``application_id_for``), so the store's unique ``_id`` refuses a
second one in the same insert that would create it — no query, no window between a check
and a write (FerretDB v1's updates are not atomic; its unique ``_id`` holds). A withdrawn
or rejected application no longer holds the place: the next attempt's id is free, and
two parties racing for it meet at that id (one creates it, the other is refused naming it)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from alliance_funding.domain.application import Application, ApplicationStatus, BudgetLine
from alliance_funding.domain.eligibility import EligibilitySnapshot, FailedRule, failed_rules
from alliance_funding.domain.ledger import AccountKind, programme_account
from alliance_funding.domain.programme import Programme
from alliance_funding.service import ledger
from alliance_funding.service.ports import Repositories
from alliance_shared.clock import Clock
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.errors import Conflict, DomainError, NotFound
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, check_expected, create, update

NOT_FOUND = ("application.not_found", "application")
ApplicationDecision = Literal["approve", "reject", "return"]


#: Applications of one agreement in one programme, counting withdrawn and rejected ones.
MAX_ATTEMPTS = 20
#: Ended without an award: they leave the agreement's place in the programme free.
GAVE_UP = (ApplicationStatus.WITHDRAWN, ApplicationStatus.REJECTED)


def application_id_for(programme_id: str, agreement_id: str, attempt: int = 1) -> str:
    """The ``attempt``-th application of an agreement in a programme round (a deterministic
    ``_id``); the first keeps the plain form."""
    digest = hashlib.sha256(f"{programme_id}\n{agreement_id}".encode()).hexdigest()[:20]
    return f"app-{digest}" if attempt == 1 else f"app-{digest}-{attempt}"


async def get(repos: Repositories, application_id: str, *, exact: bool = False) -> Loaded[Application]:
    """The application as stored; ``exact`` for a decision taken before its write (the newest version)."""
    loaded = await repos.applications.get(application_id, exact=exact)
    if loaded is None:
        code, what = NOT_FOUND
        raise NotFound(code, f"no {what} {application_id}")
    return loaded


async def draft_application(
    repos: Repositories,
    applicant_partner_id: str,
    *,
    programme_id: str,
    agreement_id: str,
    requested_minor: int,
    cofunding_minor: int,
    budget_lines: Sequence[BudgetLine],
) -> Outcome[Application]:
    programme = (await repos.programmes.require(programme_id, "programme.not_found", "programme")).item
    agreement = await repos.agreements.get(agreement_id)
    party_ids = agreement.item.party_ids if agreement and agreement.item.party_ids else (applicant_partner_id,)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        application_id = application_id_for(programme_id, agreement_id, attempt)
        application = Application.draft(
            application_id=application_id,
            programme=programme,
            agreement_id=agreement_id,
            applicant_partner_id=applicant_partner_id,
            party_ids=party_ids,
            requested_minor=requested_minor,
            cofunding_minor=cofunding_minor,
            budget_lines=budget_lines,
        )
        audit = AuditNote(
            "application.drafted", "application", application_id, None, application.model_dump(mode="json")
        )
        try:
            return await create(repos.applications, application_id, application, audit)
        except Conflict as exc:
            if exc.code != "aggregate.exists":
                raise
            earlier = await repos.applications.get(application_id, exact=True)
            if earlier is not None and earlier.item.status in GAVE_UP:
                continue  # withdrawn or rejected: the place is free for the next attempt
            raise Conflict(
                "application.duplicate",
                f"agreement {agreement_id} already has application {application_id} in programme {programme_id}",
                application_id=application_id,
            ) from exc
    raise DomainError(
        "application.too_many_attempts",
        f"agreement {agreement_id} has applied {MAX_ATTEMPTS} times in programme {programme_id}",
    )


async def revise_application(
    repos: Repositories,
    application_id: str,
    *,
    requested_minor: int,
    cofunding_minor: int,
    budget_lines: Sequence[BudgetLine],
    expected: int | None = None,
) -> Outcome[Application]:
    def decide(application: Application) -> Decision[Application]:
        application.revise(requested_minor=requested_minor, cofunding_minor=cofunding_minor, budget_lines=budget_lines)
        return Decision(
            application,
            AuditNote("application.revised", "application", application_id, None, application.model_dump(mode="json")),
        )

    return await update(repos.applications, application_id, decide, not_found=NOT_FOUND, expected=expected)


async def eligibility_snapshot(repos: Repositories, application: Application, now: datetime) -> EligibilitySnapshot:
    """What the read models say now; an unknown partner or agreement fails by name."""
    partner = await repos.partners.get(application.applicant_partner_id)
    agreement = await repos.agreements.get(application.agreement_id)
    evaluations = await repos.evaluations.get(application.agreement_id)
    unknown = []
    if partner is None or partner.item.kind is None:
        unknown.append(
            {
                "code": "eligibility.partner_unknown",
                "text": f"partner {application.applicant_partner_id} is not registered",
            }
        )
    if agreement is None:
        unknown.append(
            {"code": "eligibility.agreement_unknown", "text": f"agreement {application.agreement_id} is not registered"}
        )
    if unknown or partner is None or agreement is None or partner.item.kind is None:
        raise DomainError("application.ineligible", "; ".join(u["text"] for u in unknown), failed_rules=unknown)
    enterprise_ids = agreement.item.enterprise_ids or tuple(
        p.partner_id for p in agreement.item.parties if p.kind == PartnerKind.ENTERPRISE.value
    )
    certified = False
    for enterprise_id in enterprise_ids:
        view = await repos.partners.get(enterprise_id)
        if view is not None and view.item.certified_at(now):
            certified = True
            break
    return EligibilitySnapshot(
        applicant_partner_kind=partner.item.kind,
        applicant_region_code=partner.item.region_code or "0",
        enterprise_certified=certified,
        agreement_status=agreement.item.status,
        latest_grade=evaluations.item.latest_grade if evaluations else None,
        applicant_is_party=application.applicant_partner_id in agreement.item.party_ids,
    )


async def rules_failed_now(repos: Repositories, clock: Clock, application: Application) -> list[FailedRule]:
    """Each eligibility rule the application fails on the read models now (empty: eligible),
    judged as submission and approval judge it; for the officer's queue, changes nothing."""
    programme = (await repos.programmes.require(application.programme_id, "programme.not_found", "programme")).item
    try:
        snapshot = await eligibility_snapshot(repos, application, clock.now())
    except DomainError as unknown:
        return [FailedRule.model_validate(rule) for rule in unknown.extensions.get("failed_rules", [])]
    return failed_rules(programme.eligibility, snapshot)


async def submit_application(
    repos: Repositories, clock: Clock, application_id: str, actor_id: str, *, expected: int | None = None
) -> Outcome[Application]:
    loaded = await get(repos, application_id, exact=True)
    check_expected(application_id, loaded.version, expected)
    programme = (await repos.programmes.require(loaded.item.programme_id, "programme.not_found", "programme")).item
    now = clock.now()
    snapshot = await eligibility_snapshot(repos, loaded.item, now)

    def decide(application: Application) -> Decision[Application]:
        application.submit(programme, snapshot, now, actor_id)
        return Decision(
            application,
            AuditNote("application.submitted", "application", application_id, None, snapshot.model_dump(mode="json")),
        )

    # Exactly the version eligibility was judged on: a change meanwhile is 412.
    return await update(repos.applications, application_id, decide, not_found=NOT_FOUND, expected=loaded.version)


async def withdraw_application(
    repos: Repositories,
    clock: Clock,
    application_id: str,
    reason: str | None,
    actor_id: str,
    *,
    expected: int | None = None,
) -> Outcome[Application]:
    now = clock.now()

    def decide(application: Application) -> Decision[Application]:
        application.withdraw(reason, now, actor_id)
        return Decision(application, AuditNote("application.withdrawn", "application", application_id))

    return await update(repos.applications, application_id, decide, not_found=NOT_FOUND, expected=expected)


async def start_review(
    repos: Repositories, application_id: str, *, expected: int | None = None
) -> Outcome[Application]:
    def decide(application: Application) -> Decision[Application]:
        application.start_review()
        return Decision(
            application,
            AuditNote("application.review_started", "application", application_id, "submitted", "under_review"),
        )

    return await update(repos.applications, application_id, decide, not_found=NOT_FOUND, expected=expected)


async def available_minor(repos: Repositories, programme: Programme) -> int:
    book, _ = await ledger.book_of(repos, programme.programme_id)
    return book.balances.get(programme_account(programme.programme_id, AccountKind.AVAILABLE), 0)


async def decide_application(
    repos: Repositories,
    clock: Clock,
    application_id: str,
    *,
    decision: ApplicationDecision,
    reason: str,
    approved_minor: int | None,
    actor_id: str,
    expected: int | None = None,
) -> Outcome[Application]:
    """Reject, return, or approve (the maker): an approval fixes the amount, within the
    request, the cap and the available money, for an applicant still eligible now (the read
    models may have changed since submission). The money is committed and the award granted
    by a second person (``awards.grant_award``, maker-checker).
    """
    loaded = await get(repos, application_id, exact=True)
    check_expected(application_id, loaded.version, expected)
    now = clock.now()
    programme: Programme | None = None
    available = 0
    eligibility: EligibilitySnapshot | None = None
    if decision == "approve":
        if approved_minor is None:
            raise DomainError("application.approved_amount_required", "an approval names the approved amount")
        programme = (await repos.programmes.require(loaded.item.programme_id, "programme.not_found", "programme")).item
        available = await available_minor(repos, programme)
        eligibility = await eligibility_snapshot(repos, loaded.item, now)

    def decide(application: Application) -> Decision[Application]:
        if decision == "reject":
            application.reject(reason, now, actor_id)
        elif decision == "return":
            application.return_for_changes(reason, now, actor_id)
        else:
            assert programme is not None
            assert approved_minor is not None
            assert eligibility is not None
            application.approve(
                approved_minor=approved_minor,
                reason=reason,
                programme=programme,
                available_minor=available,
                eligibility=eligibility,
                now=now,
                actor_id=actor_id,
            )
        return Decision(
            application,
            AuditNote(
                f"application.{decision}",
                "application",
                application_id,
                "under_review",
                {"status": application.status, "reason": reason, "approved_minor": application.approved_minor},
            ),
        )

    # Exactly the version the decision was prepared on (the available balance read for it).
    return await update(repos.applications, application_id, decide, not_found=NOT_FOUND, expected=loaded.version)
