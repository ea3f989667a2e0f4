"""Every command of the funding service on the in-memory store and a manual clock: a
success and a refusal each, with the events and audit entries written (and, where money
moves, the programme's book).

Fast, and never instead of the real-server tests in tests/integration/funding/ (the
ledger's races, crashes and every route × role run there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alliance_funding.domain.application import BudgetLine
from alliance_funding.domain.award import Award
from alliance_funding.domain.ledger import AccountKind, AppliedTransfer, Transfer, TransferKind, award_account
from alliance_funding.domain.surcharge_credit import NATIONAL_CREDIT_RATES, Investment
from alliance_funding.service import applications, awards, ledger, programmes, readmodels, surcharge
from alliance_funding.service.deadlines import DeadlinePolicy, check_recovery_deadlines
from alliance_funding.service.ports import AWARDS, LEDGERS, PROGRAMMES, Repositories
from alliance_funding.service.reconcile import reconcile_once
from alliance_funding.testing import InMemoryTransferReceipts
from alliance_shared.contract.evaluation import RectificationClosed, RectificationOverdue, ResultCompleted
from alliance_shared.contract.funding import SettlementMethod
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementCompleted,
    AgreementResumed,
    AgreementSuspended,
    CertificationGranted,
    PartnerRegistered,
)
from alliance_shared.errors import Conflict, DomainError, Forbidden, InvalidTransition, NotFound, PreconditionFailed
from alliance_shared.testing import InMemoryVersionedStore, ManualClock
from tests.unit.funding.funding_support import ELIGIBLE

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
COLLEGE, ENTERPRISE, AGREEMENT = "col-1", "ent-1", "agr-1"
OFFICER, OFFICER2, APPROVER = "officer-zhang", "officer-wu", "approver-li"
AMOUNT = 300_000

PROGRAMME: dict[str, Any] = {
    "name": "Shenzhen integration fund",
    "fiscal_year": 2026,
    "appropriated_minor": 1_000_000,
    "opens_at": NOW - timedelta(days=1),
    "closes_at": NOW + timedelta(days=30),
    "eligibility": {
        "lead_partner_kinds": ["college", "enterprise"],
        "require_certified_enterprise": True,
        "require_active_agreement": True,
        "region_prefix": "4403",
    },
    "award_cap_minor": 500_000,
    "min_cofunding_bp": 2000,
    "tranche_template": [
        {"name": "start-up", "share_bp": 3000, "release": {"kind": "on_award"}},
        {
            "name": "mid-term",
            "share_bp": 4000,
            "release": {"kind": "evaluation", "cycle_kind": "mid_term", "min_grade": "pass"},
        },
        {"name": "final", "share_bp": 3000, "release": {"kind": "manual"}},
    ],
}


class Funding:
    """The use cases' world: in-memory stores by name, their repositories, a manual clock."""

    def __init__(self) -> None:
        self.stores: dict[str, InMemoryVersionedStore] = {}
        self.repos = Repositories(self.store, InMemoryTransferReceipts())
        self.clock = ManualClock(NOW)

    def store(self, name: str) -> InMemoryVersionedStore:
        return self.stores.setdefault(name, InMemoryVersionedStore(name, "funding"))

    def events(self, name: str) -> list[str]:
        """Short names of the events written to a store (``programme.opened`` ...)."""
        return [
            e["type"].removeprefix("org.coopalliance.funding.").removesuffix(".v1")
            for e in self.store(name).published_events
        ]

    def audit(self, name: str) -> list[str]:
        return [entry["audit"]["action"] for entry in self.store(name).outbox if entry["kind"] == "audit"]

    async def balances(self, programme_id: str) -> dict[str, int]:
        book, _ = await ledger.book_of(self.repos, programme_id)
        return book.balances


def partner_registered(partner_id: str, kind: str) -> PartnerRegistered:
    return PartnerRegistered.model_validate(
        {
            "partner_id": partner_id,
            "kind": kind,
            "name_zh": f"机构 {partner_id}",
            "credit_code": "91440300MA5G4WNN43",
            "region_code": "440305",
            "sector_code": "C39",
            "address": "深圳市南山区",
            "status": "active",
            "college": {"level": "higher_vocational"} if kind == "college" else None,
            "enterprise": {"size": "medium", "headcount": 100} if kind == "enterprise" else None,
            "occurred_at": NOW.isoformat(),
            "actor_id": "admin",
        }
    )


def agreement_activated(agreement_id: str = AGREEMENT) -> AgreementActivated:
    parties = [
        {"partner_id": COLLEGE, "kind": "college", "role": "lead", "region_code": "440305", "name": "学院"},
        {
            "partner_id": ENTERPRISE,
            "kind": "enterprise",
            "role": "participant",
            "region_code": "440305",
            "name": "企业",
        },
    ]
    return AgreementActivated.model_validate(
        {
            "agreement_id": agreement_id,
            "version": 1,
            "status": "active",
            "title": "合作协议",
            "party_ids": [COLLEGE, ENTERPRISE],
            "college_ids": [COLLEGE],
            "enterprise_ids": [ENTERPRISE],
            "parties": parties,
            "modes": ["internship_base"],
            "majors": ["460103"],
            "start_date": "2025-01-01",
            "end_date": "2028-12-31",
            "declared_depth": "middle",
            "obligations": [],
            "occurred_at": NOW.isoformat(),
            "actor_id": "admin",
        }
    )


def result_completed(grade: str, result_id: str = "res-1") -> ResultCompleted:
    return ResultCompleted.model_validate(
        {
            "result_id": result_id,
            "agreement_id": AGREEMENT,
            "cycle_id": "cyc-1",
            "cycle_kind": "mid_term",
            "framework_id": "default",
            "framework_version": 1,
            "score_hundredths": 8000,
            "grade": grade,
            "overall_risk": "on_track",
            "indicators": [],
            "actual_depth": "middle",
            "declared_depth": "middle",
            "formality_risk": False,
            "party_ids": [COLLEGE, ENTERPRISE],
            "occurred_at": (NOW + timedelta(days=1)).isoformat(),
            "actor_id": "system",
        }
    )


def rectification(closed: bool) -> RectificationOverdue | RectificationClosed:
    common: dict[str, Any] = {
        "order_id": "ord-1",
        "agreement_id": AGREEMENT,
        "result_id": "res-x",
        "responsible_party_id": COLLEGE,
        "party_ids": [COLLEGE, ENTERPRISE],
        "due_at": NOW.isoformat(),
        "occurred_at": NOW.isoformat(),
        "actor_id": "system",
    }
    if closed:
        return RectificationClosed.model_validate({**common, "was_overdue": True, "reason": "done"})
    return RectificationOverdue.model_validate(common)


@pytest.fixture
async def funding() -> Funding:
    """A world where the registry has announced the college, the certified enterprise and
    their active agreement (through the consumed-event use cases)."""
    f = Funding()
    await readmodels.apply_partner_event(f.repos, "evt-p1", partner_registered(COLLEGE, "college"))
    await readmodels.apply_partner_event(f.repos, "evt-p2", partner_registered(ENTERPRISE, "enterprise"))
    certificate = CertificationGranted(
        certification_id="cert-1",
        partner_id=ENTERPRISE,
        partner_name="企业",
        certificate_number="CERT-1",
        valid_from=NOW - timedelta(days=400),
        valid_to=NOW + timedelta(days=400),
        occurred_at=NOW,
        actor_id="admin",
    )
    await readmodels.apply_certificate_event(f.repos, "evt-c1", certificate)
    await readmodels.apply_agreement_event(f.repos, "evt-a1", agreement_activated())
    for n in (2, 3):  # other agreements of the same parties: one application per agreement and programme
        await readmodels.apply_agreement_event(f.repos, f"evt-a{n}", agreement_activated(f"agr-{n}"))
    return f


async def open_programme(f: Funding, **changes: Any) -> str:
    drafted = await programmes.draft_programme(f.repos, {**PROGRAMME, **changes})
    programme_id = drafted.item.programme_id
    await programmes.open_programme(f.repos, f.clock, programme_id, OFFICER)
    return programme_id


async def application_under_review(
    f: Funding, programme_id: str, amount: int = AMOUNT, agreement_id: str = AGREEMENT
) -> str:
    drafted = await applications.draft_application(
        f.repos,
        COLLEGE,
        programme_id=programme_id,
        agreement_id=agreement_id,
        requested_minor=amount,
        cofunding_minor=amount,
        budget_lines=[BudgetLine(category="equipment", amount_minor=amount)],
    )
    application_id = drafted.item.application_id
    await applications.submit_application(f.repos, f.clock, application_id, COLLEGE)
    await applications.start_review(f.repos, application_id)
    return application_id


async def granted_award(f: Funding, programme_id: str, amount: int = AMOUNT) -> Award:
    application_id = await application_under_review(f, programme_id, amount)
    await applications.decide_application(
        f.repos, f.clock, application_id, decision="approve", reason="sound", approved_minor=amount, actor_id=OFFICER
    )
    return (await awards.grant_award(f.repos, f.clock, application_id, APPROVER)).item


async def paid_t1(f: Funding, award: Award) -> str:
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(f.repos, f.clock, award.award_id, t1, OFFICER)
    await awards.approve_tranche(
        f.repos,
        f.clock,
        award.award_id,
        t1,
        approved_minor=None,
        release_remainder=False,
        reason=None,
        approver_id=APPROVER,
    )
    await awards.confirm_payment(f.repos, f.clock, award.award_id, t1, "ICBC-1", OFFICER)
    return t1


# --- programmes --------------------------------------------------------------------------------


async def test_draft_programme(funding: Funding) -> None:
    drafted = await programmes.draft_programme(funding.repos, dict(PROGRAMME))
    assert (drafted.version, drafted.item.status) == (1, "draft")
    assert funding.audit(PROGRAMMES) == ["programme.drafted"]
    with pytest.raises(DomainError) as refused:
        await programmes.draft_programme(funding.repos, {**PROGRAMME, "award_cap_minor": 2_000_000})
    assert refused.value.code == "programme.invalid"


async def test_revise_programme_needs_the_current_version(funding: Funding) -> None:
    drafted = await programmes.draft_programme(funding.repos, dict(PROGRAMME))
    programme_id = drafted.item.programme_id
    revised = await programmes.revise_programme(funding.repos, programme_id, {"award_cap_minor": 400_000}, expected=1)
    assert (revised.version, revised.item.award_cap_minor) == (2, 400_000)
    for stale_or_future in (1, 3):
        with pytest.raises(PreconditionFailed):
            await programmes.revise_programme(funding.repos, programme_id, {"name": "x"}, expected=stale_or_future)
    assert funding.audit(PROGRAMMES) == ["programme.drafted", "programme.revised"]


async def test_open_programme_appropriates_the_budget(funding: Funding) -> None:
    drafted = await programmes.draft_programme(funding.repos, dict(PROGRAMME))
    programme_id = drafted.item.programme_id
    with pytest.raises(PreconditionFailed):  # a future version: nothing appropriated
        await programmes.open_programme(funding.repos, funding.clock, programme_id, OFFICER, expected=2)
    assert await funding.balances(programme_id) == {}
    opened = await programmes.open_programme(funding.repos, funding.clock, programme_id, OFFICER, expected=1)
    assert opened.item.status == "open"
    assert funding.events(PROGRAMMES) == ["programme.opened"]
    assert funding.audit(LEDGERS) == ["ledger.posted"]
    assert (await funding.balances(programme_id))[f"programme:{programme_id}:available"] == 1_000_000
    with pytest.raises(InvalidTransition):
        await programmes.open_programme(funding.repos, funding.clock, programme_id, OFFICER)


async def test_close_and_finalise_programme(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    with pytest.raises(InvalidTransition):  # still open
        await programmes.finalise_programme(funding.repos, funding.clock, programme_id, OFFICER)
    await programmes.close_programme(funding.repos, funding.clock, programme_id, "window ended", OFFICER)
    with pytest.raises(InvalidTransition):
        await programmes.close_programme(funding.repos, funding.clock, programme_id, "again", OFFICER)
    finalised = await programmes.finalise_programme(funding.repos, funding.clock, programme_id, OFFICER)
    assert finalised.item.status == "finalised"
    assert funding.events(PROGRAMMES) == ["programme.opened", "programme.closed", "programme.finalised"]
    assert funding.audit(PROGRAMMES)[-2:] == ["programme.closed", "programme.finalised"]


async def test_finalise_is_refused_while_money_is_in_flight(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    await awards.approve_tranche(
        funding.repos,
        funding.clock,
        award.award_id,
        t1,
        approved_minor=None,
        release_remainder=False,
        reason=None,
        approver_id=APPROVER,
    )
    await programmes.close_programme(funding.repos, funding.clock, programme_id, "window ended", OFFICER)
    with pytest.raises(DomainError) as refused:
        await programmes.finalise_programme(funding.repos, funding.clock, programme_id, OFFICER)
    assert refused.value.code == "programme.payments_in_flight"


# --- applications ------------------------------------------------------------------------------


async def test_draft_and_revise_application(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    with pytest.raises(NotFound):
        await applications.draft_application(
            funding.repos,
            COLLEGE,
            programme_id="prg-none",
            agreement_id=AGREEMENT,
            requested_minor=1,
            cofunding_minor=1,
            budget_lines=[],
        )
    application_id = await application_under_review(funding, programme_id)
    with pytest.raises(InvalidTransition):  # under review: no longer revisable
        await applications.revise_application(
            funding.repos,
            application_id,
            requested_minor=AMOUNT,
            cofunding_minor=AMOUNT,
            budget_lines=[BudgetLine(category="equipment", amount_minor=AMOUNT)],
        )
    with pytest.raises(Conflict) as duplicate:  # one application per agreement and programme
        await applications.draft_application(
            funding.repos,
            ENTERPRISE,
            programme_id=programme_id,
            agreement_id=AGREEMENT,
            requested_minor=AMOUNT,
            cofunding_minor=AMOUNT,
            budget_lines=[BudgetLine(category="equipment", amount_minor=AMOUNT)],
        )
    assert duplicate.value.code == "application.duplicate"
    assert duplicate.value.extensions["application_id"] == application_id
    drafted = await applications.draft_application(
        funding.repos,
        COLLEGE,
        programme_id=programme_id,
        agreement_id="agr-2",
        requested_minor=AMOUNT,
        cofunding_minor=AMOUNT,
        budget_lines=[BudgetLine(category="equipment", amount_minor=AMOUNT)],
    )
    revised = await applications.revise_application(
        funding.repos,
        drafted.item.application_id,
        requested_minor=200_000,
        cofunding_minor=AMOUNT,
        budget_lines=[BudgetLine(category="equipment", amount_minor=200_000)],
        expected=1,
    )
    assert (revised.version, revised.item.requested_minor) == (2, 200_000)
    assert funding.audit("applications")[-2:] == ["application.drafted", "application.revised"]


async def test_submit_names_every_failed_rule(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    drafted = await applications.draft_application(
        funding.repos,
        COLLEGE,
        programme_id=programme_id,
        agreement_id="agr-unknown",
        requested_minor=AMOUNT,
        cofunding_minor=AMOUNT,
        budget_lines=[BudgetLine(category="equipment", amount_minor=AMOUNT)],
    )
    with pytest.raises(DomainError) as refused:
        await applications.submit_application(funding.repos, funding.clock, drafted.item.application_id, COLLEGE)
    assert refused.value.code == "application.ineligible"
    assert [r["code"] for r in refused.value.extensions["failed_rules"]] == ["eligibility.agreement_unknown"]
    await application_under_review(funding, programme_id)
    assert funding.events("applications") == ["application.submitted"]
    assert "application.review_started" in funding.audit("applications")


async def test_withdraw_and_start_review(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    application_id = await application_under_review(funding, programme_id)
    with pytest.raises(InvalidTransition):
        await applications.start_review(funding.repos, application_id)
    withdrawn = await applications.withdraw_application(
        funding.repos, funding.clock, application_id, "postponed", COLLEGE
    )
    assert withdrawn.item.status == "withdrawn"
    assert funding.events("applications")[-1] == "application.withdrawn"
    with pytest.raises(InvalidTransition):
        await applications.withdraw_application(funding.repos, funding.clock, application_id, None, COLLEGE)


async def test_approval_commits_the_money_and_grants_the_award(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    application_id = await application_under_review(funding, programme_id)
    with pytest.raises(DomainError) as refused:
        await applications.decide_application(
            funding.repos,
            funding.clock,
            application_id,
            decision="approve",
            reason="ok",
            approved_minor=None,
            actor_id=OFFICER,
        )
    assert refused.value.code == "application.approved_amount_required"
    decided = await applications.decide_application(
        funding.repos,
        funding.clock,
        application_id,
        decision="approve",
        reason="ok",
        approved_minor=AMOUNT,
        actor_id=OFFICER,
    )
    assert decided.item.status == "approved"
    award_id = awards.award_id_for(application_id)
    assert funding.events("applications")[-1] == "application.approved"
    assert funding.events(AWARDS) == []  # the maker approved; the money waits for the second person
    with pytest.raises(Forbidden) as same_person:
        await awards.grant_award(funding.repos, funding.clock, application_id, OFFICER)
    assert same_person.value.code == "award.maker_checker"
    granted = await awards.grant_award(funding.repos, funding.clock, application_id, APPROVER)
    assert granted.item.granted_by == APPROVER
    assert funding.events(AWARDS)[0] == "award.granted"
    assert funding.audit(AWARDS) == ["award.granted"]
    balances = await funding.balances(programme_id)
    assert balances[f"award:{award_id}:committed"] == AMOUNT
    assert balances[f"programme:{programme_id}:available"] == 1_000_000 - AMOUNT


async def test_reject_and_return(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    returned = await application_under_review(funding, programme_id)
    decided = await applications.decide_application(
        funding.repos,
        funding.clock,
        returned,
        decision="return",
        reason="quotes",
        approved_minor=None,
        actor_id=OFFICER,
    )
    assert decided.item.status == "returned"
    rejected = await application_under_review(funding, programme_id, agreement_id="agr-2")
    await applications.decide_application(
        funding.repos, funding.clock, rejected, decision="reject", reason="weak", approved_minor=None, actor_id=OFFICER
    )
    decisions = [e for e in funding.events("applications") if e != "application.submitted"]
    assert decisions == ["application.returned", "application.rejected"]
    with pytest.raises(InvalidTransition):  # decided is final
        await applications.decide_application(
            funding.repos,
            funding.clock,
            rejected,
            decision="reject",
            reason="again",
            approved_minor=None,
            actor_id=OFFICER,
        )


async def test_an_approval_over_the_available_money_is_refused(funding: Funding) -> None:
    programme_id = await open_programme(funding, appropriated_minor=AMOUNT + 1, award_cap_minor=AMOUNT)
    await granted_award(funding, programme_id)
    application_id = await application_under_review(funding, programme_id, agreement_id="agr-2")
    with pytest.raises(DomainError) as refused:
        await applications.decide_application(
            funding.repos,
            funding.clock,
            application_id,
            decision="approve",
            reason="ok",
            approved_minor=AMOUNT,
            actor_id=OFFICER,
        )
    assert refused.value.code == "application.approval_over_available"


async def test_ensure_award_grants_once(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    again = await awards.grant_award(funding.repos, funding.clock, award.application_id, OFFICER2)
    assert again.version == 1
    assert funding.events(AWARDS).count("award.granted") == 1
    pending = await application_under_review(funding, programme_id, agreement_id="agr-2")
    with pytest.raises(InvalidTransition):
        await awards.grant_award(funding.repos, funding.clock, pending, APPROVER)
    await applications.decide_application(
        funding.repos, funding.clock, pending, decision="approve", reason="ok", approved_minor=AMOUNT, actor_id=OFFICER
    )
    with pytest.raises(DomainError) as unconfirmed:  # nobody confirmed the grant
        await awards.ensure_award(funding.repos, funding.clock, pending)
    assert unconfirmed.value.code == "award.not_approved"


# --- awards and tranches -----------------------------------------------------------------------


async def test_release_tranche(funding: Funding) -> None:
    award = await granted_award(funding, await open_programme(funding))
    t1, _, t3 = (t.tranche_id for t in award.tranches)
    with pytest.raises(DomainError) as refused:
        await awards.release_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    assert refused.value.code == "tranche.not_manual"
    released = await awards.release_tranche(funding.repos, funding.clock, award.award_id, t3, OFFICER, expected=1)
    assert released.item.tranche(t3).status == "eligible"
    assert funding.events(AWARDS)[-1] == "tranche.eligible"
    assert funding.audit(AWARDS)[-1] == "tranche.released"


async def test_request_tranche(funding: Funding) -> None:
    award = await granted_award(funding, await open_programme(funding))
    t1, t2, _ = (t.tranche_id for t in award.tranches)
    with pytest.raises(InvalidTransition):  # waits for its evaluation
        await awards.request_tranche(funding.repos, funding.clock, award.award_id, t2, OFFICER)
    requested = await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    assert requested.item.tranche(t1).prepared_by == OFFICER
    assert funding.events(AWARDS)[-1] == "tranche.requested"
    assert funding.audit(AWARDS)[-1] == "tranche.requested"


async def test_approve_tranche_is_maker_checker(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    with pytest.raises(Forbidden) as refused:
        await awards.approve_tranche(
            funding.repos,
            funding.clock,
            award.award_id,
            t1,
            approved_minor=None,
            release_remainder=False,
            reason=None,
            approver_id=OFFICER,
        )
    assert refused.value.code == "tranche.maker_checker"
    approved = await awards.approve_tranche(
        funding.repos,
        funding.clock,
        award.award_id,
        t1,
        approved_minor=80_000,
        release_remainder=True,
        reason="bought below budget",
        approver_id=APPROVER,
    )
    assert approved.item.tranche(t1).status == "approved"
    assert funding.events(AWARDS)[-1] == "tranche.approved"
    balances = await funding.balances(programme_id)
    assert balances[f"award:{award.award_id}:disbursed"] == 80_000
    assert balances[f"programme:{programme_id}:available"] == 1_000_000 - AMOUNT + 10_000


async def test_two_approvals_of_one_tranche_move_the_money_once_and_neither_reports_the_award_behind(
    funding: Funding, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first approval posts the money and, before it saves the award, a second one
    (a double click) meets the transfers in the book and saves the step, as the crash
    repair does. The first then hears the step was taken, not ``award.behind_ledger``."""
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    posted, second_done = asyncio.Event(), asyncio.Event()
    post = ledger.post

    async def first_posts_then_waits(*args: Any, **kwargs: Any) -> ledger.PostResult:
        result = await post(*args, **kwargs)
        if not posted.is_set():
            posted.set()
            await second_done.wait()
        return result

    monkeypatch.setattr(ledger, "post", first_posts_then_waits)

    def approve() -> Any:
        return awards.approve_tranche(
            funding.repos,
            funding.clock,
            award.award_id,
            t1,
            approved_minor=None,
            release_remainder=False,
            reason=None,
            approver_id=APPROVER,
        )

    first = asyncio.create_task(approve())
    await posted.wait()
    second = await approve()
    second_done.set()
    with pytest.raises(InvalidTransition) as taken:
        await first
    assert taken.value.code == "tranche.illegal_transition"
    assert second.item.tranche(t1).status == "approved"
    balances = await funding.balances(programme_id)
    assert balances[f"award:{award.award_id}:disbursed"] == award.tranches[0].scheduled_minor
    assert (await ledger.verify_book(funding.repos, programme_id))["consistent"]


async def test_an_amount_of_zero_is_refused_never_read_as_the_full_amount(funding: Funding) -> None:
    """0 is an amount, not "absent": approving, recovering or settling 0 is refused and changes nothing."""
    programme_id = await open_programme(funding)
    application_id = await application_under_review(funding, programme_id)
    with pytest.raises(DomainError) as refused:
        await applications.decide_application(
            funding.repos,
            funding.clock,
            application_id,
            decision="approve",
            reason="ok",
            approved_minor=0,
            actor_id=OFFICER,
        )
    assert refused.value.code == "application.approval_not_positive"
    await applications.decide_application(
        funding.repos,
        funding.clock,
        application_id,
        decision="approve",
        reason="ok",
        approved_minor=AMOUNT,
        actor_id=OFFICER,
    )
    award = (await awards.grant_award(funding.repos, funding.clock, application_id, APPROVER)).item
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    events_before = funding.events(AWARDS)
    with pytest.raises(DomainError) as refused:
        await awards.approve_tranche(
            funding.repos,
            funding.clock,
            award.award_id,
            t1,
            approved_minor=0,
            release_remainder=False,
            reason="nothing spent",
            approver_id=APPROVER,
        )
    assert refused.value.code == "tranche.approval_not_positive"
    unchanged = await awards.get(funding.repos, award.award_id)
    assert (unchanged.item.tranche(t1).status, unchanged.item.tranche(t1).approved_minor) == ("requested", None)
    assert funding.events(AWARDS) == events_before
    await awards.approve_tranche(
        funding.repos,
        funding.clock,
        award.award_id,
        t1,
        approved_minor=None,
        release_remainder=False,
        reason=None,
        approver_id=APPROVER,
    )
    await awards.confirm_payment(funding.repos, funding.clock, award.award_id, t1, "ICBC-1", OFFICER)
    recovery: dict[str, Any] = {"reason": "ineligible spend", "due_at": NOW + timedelta(days=30), "actor_id": OFFICER}
    with pytest.raises(DomainError) as refused:
        await awards.propose_recovery(
            funding.repos, funding.clock, award.award_id, recovery_id="rec-0", amount_minor=0, **recovery
        )
    assert refused.value.code == "recovery.amount_not_positive"
    await awards.propose_recovery(
        funding.repos, funding.clock, award.award_id, recovery_id="rec-1", amount_minor=5_000, **recovery
    )
    await awards.approve_recovery(funding.repos, funding.clock, award.award_id, "rec-1", approver_id=APPROVER)
    with pytest.raises(DomainError) as refused:
        await awards.settle_recovery(
            funding.repos,
            funding.clock,
            award.award_id,
            "rec-1",
            settlement_id="s-0",
            method=SettlementMethod.REPAYMENT,
            amount_minor=0,
            bank_reference="BOC-0",
            tranche_id=None,
            actor_id=OFFICER,
        )
    assert refused.value.code == "recovery.settlement_not_positive"
    assert (await awards.get(funding.repos, award.award_id)).item.recovery("rec-1").outstanding_minor == 5_000


async def test_confirm_payment(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    with pytest.raises(InvalidTransition):  # not approved yet
        await awards.confirm_payment(funding.repos, funding.clock, award.award_id, t1, "ICBC-1", OFFICER)
    await awards.approve_tranche(
        funding.repos,
        funding.clock,
        award.award_id,
        t1,
        approved_minor=None,
        release_remainder=False,
        reason=None,
        approver_id=APPROVER,
    )
    paid = await awards.confirm_payment(funding.repos, funding.clock, award.award_id, t1, "ICBC-1", OFFICER)
    assert paid.item.tranche(t1).status == "paid"
    assert funding.events(AWARDS)[-1] == "tranche.paid"
    assert (await funding.balances(programme_id))[f"award:{award.award_id}:paid"] == 90_000


async def test_a_stale_award_version_moves_no_money(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    before = await funding.balances(programme_id)
    with pytest.raises(PreconditionFailed):
        await awards.approve_tranche(
            funding.repos,
            funding.clock,
            award.award_id,
            t1,
            approved_minor=None,
            release_remainder=False,
            reason=None,
            approver_id=APPROVER,
            expected=1,
        )
    assert await funding.balances(programme_id) == before


async def test_terminate_award(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    t1 = await paid_t1(funding, award)
    proposed = await awards.propose_termination(
        funding.repos,
        funding.clock,
        award.award_id,
        reason="agreement ended",
        actor_id=OFFICER,
        recovery_id="rec-1",
        recovery_minor=10_000,
        recovery_due_at=NOW + timedelta(days=60),
    )
    assert proposed.item.status == "active"  # the maker moved nothing
    assert (await funding.balances(programme_id))[f"award:{award.award_id}:committed"] == AMOUNT - 90_000
    with pytest.raises(Forbidden) as same_person:
        await awards.approve_termination(funding.repos, funding.clock, award.award_id, approver_id=OFFICER)
    assert same_person.value.code == "award.maker_checker"
    terminated = await awards.approve_termination(funding.repos, funding.clock, award.award_id, approver_id=APPROVER)
    assert terminated.item.status == "terminated"
    assert terminated.item.recovery("rec-1").ordered_by == OFFICER
    assert terminated.item.recovery("rec-1").approved_by == APPROVER
    assert terminated.item.tranche(t1).status == "paid"
    assert "award.terminated" in funding.events(AWARDS)
    balances = await funding.balances(programme_id)
    assert balances[f"award:{award.award_id}:committed"] == 0
    assert balances[f"award:{award.award_id}:recovery_receivable"] == 10_000
    with pytest.raises(InvalidTransition):
        await awards.propose_termination(funding.repos, funding.clock, award.award_id, reason="again", actor_id=OFFICER)


async def test_order_and_settle_recovery(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    await paid_t1(funding, award)
    with pytest.raises(DomainError):  # more than was paid
        await awards.propose_recovery(
            funding.repos,
            funding.clock,
            award.award_id,
            recovery_id="rec-1",
            amount_minor=AMOUNT,
            reason="ineligible spend",
            due_at=NOW + timedelta(days=30),
            actor_id=OFFICER,
        )
    await awards.propose_recovery(
        funding.repos,
        funding.clock,
        award.award_id,
        recovery_id="rec-1",
        amount_minor=5_000,
        reason="ineligible spend",
        due_at=NOW + timedelta(days=30),
        actor_id=OFFICER,
    )
    assert funding.events(AWARDS)[-1] != "recovery.ordered"  # proposed: nothing receivable yet
    with pytest.raises(Forbidden) as same_person:
        await awards.approve_recovery(funding.repos, funding.clock, award.award_id, "rec-1", approver_id=OFFICER)
    assert same_person.value.code == "recovery.maker_checker"
    await awards.approve_recovery(funding.repos, funding.clock, award.award_id, "rec-1", approver_id=APPROVER)
    assert funding.events(AWARDS)[-1] == "recovery.ordered"
    settle: dict[str, Any] = {"settlement_id": "s-1", "amount_minor": 5_000, "actor_id": OFFICER}
    with pytest.raises(DomainError) as refused:
        await awards.settle_recovery(
            funding.repos,
            funding.clock,
            award.award_id,
            "rec-1",
            method=SettlementMethod.OFFSET,
            bank_reference=None,
            tranche_id=None,
            **settle,
        )
    assert refused.value.code == "recovery.tranche_required"
    settled = await awards.settle_recovery(
        funding.repos,
        funding.clock,
        award.award_id,
        "rec-1",
        method=SettlementMethod.REPAYMENT,
        bank_reference="BOC-1",
        tranche_id=None,
        **settle,
    )
    assert settled.item.recovery("rec-1").outstanding_minor == 0
    assert funding.events(AWARDS)[-1] == "recovery.settled"
    assert funding.audit(AWARDS)[-2:] == ["recovery.ordered", "recovery.settled"]
    assert (await funding.balances(programme_id))[f"programme:{programme_id}:recovered"] == 5_000


# --- the ledger --------------------------------------------------------------------------------


async def test_a_posting_applies_once_and_never_overdraws(funding: Funding) -> None:
    programme_id = await open_programme(funding)

    def commit(transfer_id: str, amount: int) -> Transfer:
        return Transfer(
            transfer_id=transfer_id,
            kind=TransferKind.COMMIT,
            programme_id=programme_id,
            award_id="awd-x",
            amount_minor=amount,
            at=NOW,
            actor_id=OFFICER,
        )

    first = await ledger.post(funding.repos, programme_id, [commit("awd-x:commit", 1_000)])
    again = await ledger.post(funding.repos, programme_id, [commit("awd-x:commit", 1_000)])
    assert (first.applied, again.applied) == (True, False)
    with pytest.raises(DomainError) as reused:
        await ledger.post(funding.repos, programme_id, [commit("awd-x:commit", 2_000)])
    assert reused.value.code == "ledger.transfer_id_reused"
    with pytest.raises(DomainError) as overdrawn:
        await ledger.post(funding.repos, programme_id, [commit("awd-y:commit", 2_000_000)])
    assert overdrawn.value.code == "ledger.insufficient_funds"
    verified = await ledger.verify_book(funding.repos, programme_id)
    assert verified["consistent"], verified
    assert verified["versions"] == 2


def commit_of(programme_id: str, award_id: str, amount: int) -> Transfer:
    return Transfer(
        transfer_id=f"{award_id}:commit",
        kind=TransferKind.COMMIT,
        programme_id=programme_id,
        award_id=award_id,
        amount_minor=amount,
        at=NOW,
        actor_id=OFFICER,
    )


async def version_entries(f: Funding, programme_id: str) -> list[list[str]]:
    """The transfer ids each version of the book wrote."""
    journal = await ledger.journal(f.repos, programme_id)
    versions = sorted({version for version, _ in journal})
    return [[entry.transfer_id for v, entry in journal if v == version] for version in versions]


async def test_postings_queued_together_are_one_version_and_each_caller_hears_its_own_outcome(
    funding: Funding,
) -> None:
    programme_id = await open_programme(funding)
    available = (await funding.balances(programme_id))[f"programme:{programme_id}:available"]
    void = Transfer(
        transfer_id="awd-a:void",
        kind=TransferKind.VOID,
        programme_id=programme_id,
        award_id="awd-a",
        amount_minor=400,
        at=NOW,
        actor_id=OFFICER,
    )
    requests = [
        [commit_of(programme_id, "awd-a", 1_000)],
        [commit_of(programme_id, "awd-b", available)],  # more than the others leave: refused alone
        [commit_of(programme_id, "awd-c", 2_000)],
        # for an award the batch touches already: each waits for a later batch
        [commit_of(programme_id, "awd-a", 1_000)],  # a replay
        [void],
    ]
    outcomes = await asyncio.gather(
        *(ledger.post(funding.repos, programme_id, transfers) for transfers in requests), return_exceptions=True
    )
    assert [getattr(o, "applied", None) for o in outcomes] == [True, None, True, False, True]
    assert isinstance(outcomes[1], DomainError)
    assert outcomes[1].code == "ledger.insufficient_funds"
    verified = await ledger.verify_book(funding.repos, programme_id)
    assert verified["consistent"], verified
    # the appropriation, the batch of awd-a and awd-c, the void (the replay wrote nothing)
    assert verified["versions"] == 3
    assert [len(entries) for entries in await version_entries(funding, programme_id)] == [1, 2, 1]
    assert funding.audit(LEDGERS) == ["ledger.posted"] * 3
    assert verified["stored_balances"][f"programme:{programme_id}:available"] == available - 3_000 + 400


async def test_a_transfer_beyond_the_replay_window_is_refused_by_its_receipt(funding: Funding) -> None:
    programme_id = await open_programme(funding, appropriated_minor=10**9)
    # awd-0 is the second posting of its batch: the version's dedupe key names awd-x, not it
    await asyncio.gather(
        ledger.post(funding.repos, programme_id, [commit_of(programme_id, "awd-x", 10)]),
        ledger.post(funding.repos, programme_id, [commit_of(programme_id, "awd-0", 10)]),
    )
    for i in range(1, ledger.REPLAY_WINDOW + 1):
        await ledger.post(funding.repos, programme_id, [commit_of(programme_id, f"awd-{i}", 10)])
    book, _ = await ledger.book_of(funding.repos, programme_id)
    assert "awd-0:commit" not in {a.transfer_id for a in book.applied}
    assert not (await ledger.post(funding.repos, programme_id, [commit_of(programme_id, "awd-0", 10)])).applied
    with pytest.raises(DomainError) as reused:
        await ledger.post(funding.repos, programme_id, [commit_of(programme_id, "awd-0", 20)])
    assert reused.value.code == "ledger.transfer_id_reused"
    assert (await funding.balances(programme_id))[award_account("awd-0", AccountKind.COMMITTED)] == 10


class ReceiptsLostOnce(InMemoryTransferReceipts):
    """Receipts that fail once, as when the server fails (or the process is killed)
    right after a book version was written."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_next = False

    async def record(self, programme_id: str, applied: Sequence[AppliedTransfer]) -> None:
        if self.lose_next:
            self.lose_next = False
            raise ConnectionError("the server went away")
        await super().record(programme_id, applied)


async def test_receipts_a_crash_left_unwritten_are_written_by_the_next_writer(funding: Funding) -> None:
    receipts = ReceiptsLostOnce()
    funding.repos = Repositories(funding.store, receipts)
    programme_id = await open_programme(funding, appropriated_minor=10**9)
    receipts.lose_next = True
    # the version is written: its caller hears success, the receipts are left for later
    assert (await ledger.post(funding.repos, programme_id, [commit_of(programme_id, "awd-0", 10)])).applied
    assert await receipts.find(programme_id, ["awd-0:commit"]) == []
    # the next writer of the book (this process again, or another) writes them first
    await ledger.post(funding.repos, programme_id, [commit_of(programme_id, "awd-1", 10)])
    assert [a.transfer_id for a in await receipts.find(programme_id, ["awd-0:commit"])] == ["awd-0:commit"]


# --- surcharge credit --------------------------------------------------------------------------


async def test_compute_statement(funding: Funding) -> None:
    investment = Investment(reference="INV-1", made_on=NOW.date(), amount_minor=100_000)
    common: dict[str, Any] = {
        "year": 2026,
        "investments": [investment],
        "education_surcharge_due_minor": 20_000,
        "local_education_surcharge_due_minor": 10_000,
        "rates": NATIONAL_CREDIT_RATES,
        "actor_id": OFFICER,
    }
    with pytest.raises(DomainError) as refused:
        await surcharge.compute_statement(funding.repos, funding.clock, enterprise_id=COLLEGE, **common)
    assert refused.value.code == "surcharge.not_an_enterprise"
    with pytest.raises(NotFound):
        await surcharge.compute_statement(funding.repos, funding.clock, enterprise_id="ent-none", **common)
    computed = await surcharge.compute_statement(funding.repos, funding.clock, enterprise_id=ENTERPRISE, **common)
    assert computed.item.computed_at == NOW
    assert (await surcharge.get_statement(funding.repos, ENTERPRISE, 2026)).item == computed.item
    assert funding.audit("surcharge_statements") == ["surcharge.statement"]


async def test_every_stored_statement_version_is_issued_with_it(funding: Funding) -> None:
    investment = Investment(reference="INV-1", made_on=NOW.date(), amount_minor=100_000)
    common: dict[str, Any] = {
        "enterprise_id": ENTERPRISE,
        "year": 2026,
        "investments": [investment],
        "education_surcharge_due_minor": 20_000,
        "local_education_surcharge_due_minor": 10_000,
        "rates": NATIONAL_CREDIT_RATES,
        "actor_id": OFFICER,
    }
    first = await surcharge.compute_statement(funding.repos, funding.clock, **common)
    second = await surcharge.compute_statement(
        funding.repos, funding.clock, **{**common, "education_surcharge_due_minor": 5_000}
    )
    assert funding.events("surcharge_statements") == ["surcharge_statement.issued"] * 2
    issued = [e["data"] for e in funding.store("surcharge_statements").published_events]
    assert [(e["enterprise_id"], e["year"], e["statement_version"]) for e in issued] == [
        (ENTERPRISE, 2026, 1),
        (ENTERPRISE, 2026, 2),
    ]
    for event, outcome in zip(issued, (first, second), strict=True):
        statement = outcome.item.statement
        assert event["credit_earned_minor"] == statement["credit_earned_minor"]
        assert event["surcharge_offset_minor"] == (
            statement["education_surcharge_offset_minor"] + statement["local_education_surcharge_offset_minor"]
        )
        assert event["carried_out_minor"] == outcome.item.carried_out_minor


# --- consumed events ---------------------------------------------------------------------------


async def test_results_and_rectifications_move_tranches_once(funding: Funding) -> None:
    award = await granted_award(funding, await open_programme(funding))
    t1, t2, _ = (t.tranche_id for t in award.tranches)
    funding.clock.advance(timedelta(days=2))
    await awards.on_result_completed(funding.repos, funding.clock, "evt-r1", result_completed("pass"))
    await awards.on_result_completed(funding.repos, funding.clock, "evt-r1", result_completed("pass"))  # redelivered
    current = (await awards.get(funding.repos, award.award_id)).item
    assert current.tranche(t2).status == "eligible"
    assert funding.events(AWARDS).count("tranche.eligible") == 2  # the start-up one on grant, this one
    await awards.on_rectification_changed(funding.repos, funding.clock, "evt-o1", rectification(closed=False))
    held = (await awards.get(funding.repos, award.award_id)).item
    assert {held.tranche(t1).status, held.tranche(t2).status} == {"withheld"}
    await awards.on_rectification_changed(funding.repos, funding.clock, "evt-c1", rectification(closed=True))
    lifted = (await awards.get(funding.repos, award.award_id)).item
    assert {lifted.tranche(t1).status, lifted.tranche(t2).status} == {"eligible"}
    assert funding.audit(AWARDS)[-2:] == ["tranche.rectification_overdue", "tranche.rectification_closed"]


async def test_an_older_result_moves_nothing(funding: Funding) -> None:
    award = await granted_award(funding, await open_programme(funding))
    await awards.on_result_completed(funding.repos, funding.clock, "evt-r1", result_completed("pass", "res-new"))
    older = result_completed("fail", "res-old").model_copy(update={"occurred_at": NOW - timedelta(days=5)})
    await awards.on_result_completed(funding.repos, funding.clock, "evt-r0", older)
    assert (await awards.get(funding.repos, award.award_id)).item.tranches[1].status == "eligible"


# --- the reconciling pass ----------------------------------------------------------------------


async def test_reconcile_grants_an_award_a_crash_left_out(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    application_id = await application_under_review(funding, programme_id)
    loaded = await applications.get(funding.repos, application_id)
    programme = (await programmes.get(funding.repos, programme_id)).item
    approved = loaded.item
    approved.approve(
        approved_minor=AMOUNT,
        reason="ok",
        programme=programme,
        available_minor=1_000_000,
        eligibility=ELIGIBLE,
        now=NOW,
        actor_id=OFFICER,
    )
    await funding.repos.applications.save(application_id, loaded.version, approved, None)
    assert (await reconcile_once(funding.repos, funding.clock))["awards_granted"] == []  # no second person yet
    assert approved.approve_award(NOW, APPROVER)
    await funding.repos.applications.save(application_id, loaded.version + 1, approved, None)  # then "it dies"
    first = await reconcile_once(funding.repos, funding.clock)
    assert first["awards_granted"] == [application_id]
    assert first["problems"] == {}
    assert (await reconcile_once(funding.repos, funding.clock))["awards_granted"] == []


async def test_an_agreement_completed_early_holds_its_money_and_an_older_event_does_not_undo_it(
    funding: Funding,
) -> None:
    award = await granted_award(funding, await open_programme(funding))
    t1 = award.tranches[0].tranche_id
    ended = agreement_activated().model_dump()
    completed = AgreementCompleted.model_validate(
        {**ended, "status": "completed", "occurred_at": NOW + timedelta(days=3)}
    )
    await awards.on_agreement_changed(funding.repos, funding.clock, "evt-done", completed)
    await awards.on_agreement_changed(funding.repos, funding.clock, "evt-done", completed)  # redelivered
    held = (await awards.get(funding.repos, award.award_id)).item
    assert held.tranche(t1).holds == ("agreement:completed_early",)
    assert held.agreement_hold_reason == "completed on 2026-03-05, before 2028-12-31"
    assert funding.events(AWARDS).count("tranche.withheld") == 1
    older = AgreementResumed.model_validate({**ended, "reason": "late news", "occurred_at": NOW + timedelta(days=1)})
    await awards.on_agreement_changed(funding.repos, funding.clock, "evt-old", older)
    assert (await awards.get(funding.repos, award.award_id)).item.tranche(t1).status == "withheld"


async def test_eligibility_is_checked_again_at_approval(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    application_id = await application_under_review(funding, programme_id)
    suspended = AgreementSuspended.model_validate(
        {**agreement_activated().model_dump(), "status": "suspended", "reason": "停产整顿", "occurred_at": NOW}
    )
    await awards.on_agreement_changed(funding.repos, funding.clock, "evt-s1", suspended)
    with pytest.raises(DomainError) as refused:
        await applications.decide_application(
            funding.repos,
            funding.clock,
            application_id,
            decision="approve",
            reason="ok",
            approved_minor=AMOUNT,
            actor_id=OFFICER,
        )
    assert refused.value.code == "application.ineligible"
    assert [r["code"] for r in refused.value.extensions["failed_rules"]] == ["eligibility.agreement_active"]
    assert (await applications.get(funding.repos, application_id)).item.status == "under_review"


# --- issue #14 item 10: recoveries with deadlines that act, write-off, releases ------------------


async def ordered_recovery(f: Funding, award: Award, amount: int = 50_000, due_in_days: int = 30) -> str:
    await paid_t1(f, award)
    await awards.propose_recovery(
        f.repos,
        f.clock,
        award.award_id,
        recovery_id="rec-1",
        amount_minor=amount,
        reason="ineligible spend",
        due_at=f.clock.now() + timedelta(days=due_in_days),
        actor_id=OFFICER,
    )
    await awards.approve_recovery(f.repos, f.clock, award.award_id, "rec-1", approver_id=APPROVER)
    return "rec-1"


async def test_write_off_needs_a_second_person_and_closes_the_recovery(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    recovery_id = await ordered_recovery(funding, award)
    await awards.settle_recovery(
        funding.repos,
        funding.clock,
        award.award_id,
        recovery_id,
        settlement_id="s-1",
        method=SettlementMethod.REPAYMENT,
        amount_minor=20_000,
        bank_reference="BOC-1",
        tranche_id=None,
        actor_id=OFFICER,
    )
    with pytest.raises(Conflict) as nothing_proposed:
        await awards.approve_write_off(funding.repos, funding.clock, award.award_id, recovery_id, approver_id=APPROVER)
    assert nothing_proposed.value.code == "recovery.write_off_not_proposed"
    proposed = await awards.propose_write_off(
        funding.repos, funding.clock, award.award_id, recovery_id, reason="recipient dissolved", actor_id=OFFICER
    )
    pending = proposed.item.recovery(recovery_id).proposed_write_off
    assert pending is not None
    assert pending.amount_minor == 30_000
    receivable = f"award:{award.award_id}:recovery_receivable"
    assert (await funding.balances(programme_id))[receivable] == 30_000  # the maker moved nothing
    with pytest.raises(Forbidden) as same_person:
        await awards.approve_write_off(funding.repos, funding.clock, award.award_id, recovery_id, approver_id=OFFICER)
    assert same_person.value.code == "recovery.maker_checker"
    written = await awards.approve_write_off(
        funding.repos, funding.clock, award.award_id, recovery_id, approver_id=APPROVER
    )
    recovery = written.item.recovery(recovery_id)
    assert recovery.status == "written_off"
    assert recovery.outstanding_minor == 0
    assert recovery.write_off is not None
    assert (recovery.write_off.proposed_by, recovery.write_off.approved_by) == (OFFICER, APPROVER)
    assert not written.item.recovery_open
    assert funding.events(AWARDS)[-1] == "recovery.written_off"
    assert funding.audit(AWARDS)[-2:] == ["recovery.write_off_proposed", "recovery.written_off"]
    balances = await funding.balances(programme_id)
    assert balances[receivable] == 0
    assert balances[f"programme:{programme_id}:written_off"] == 30_000
    assert balances[f"programme:{programme_id}:recovered"] == 20_000
    assert sum(balances.values()) == 0
    figures = await programmes.figures(funding.repos, programme_id)
    assert figures.written_off_minor == 30_000
    with pytest.raises(InvalidTransition):  # closed: nothing left to write off
        await awards.propose_write_off(
            funding.repos, funding.clock, award.award_id, recovery_id, reason="again", actor_id=OFFICER
        )


async def test_a_write_off_proposed_before_a_settlement_must_be_proposed_again(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    recovery_id = await ordered_recovery(funding, award)
    await awards.propose_write_off(
        funding.repos, funding.clock, award.award_id, recovery_id, reason="uncollectable", actor_id=OFFICER
    )
    await awards.settle_recovery(
        funding.repos,
        funding.clock,
        award.award_id,
        recovery_id,
        settlement_id="s-1",
        method=SettlementMethod.REPAYMENT,
        amount_minor=1_000,
        bank_reference="BOC-1",
        tranche_id=None,
        actor_id=OFFICER,
    )
    before = await funding.balances(programme_id)
    with pytest.raises(Conflict) as stale:
        await awards.approve_write_off(funding.repos, funding.clock, award.award_id, recovery_id, approver_id=APPROVER)
    assert stale.value.code == "recovery.write_off_stale"
    assert await funding.balances(programme_id) == before


async def test_recovery_deadlines_remind_mark_overdue_and_escalate_once(funding: Funding) -> None:
    policy = DeadlinePolicy(remind_before=timedelta(days=7), escalate_after=timedelta(days=30))
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    recovery_id = await ordered_recovery(funding, award, due_in_days=30)

    async def tick(days: float) -> list[str]:
        funding.clock.advance(timedelta(days=days))
        before = len(funding.events(AWARDS))
        await check_recovery_deadlines(funding.repos, funding.clock, policy)
        await check_recovery_deadlines(funding.repos, funding.clock, policy)  # a second pass changes nothing
        return funding.events(AWARDS)[before:]

    assert await tick(10) == []  # 20 days before the deadline
    assert await tick(13) == ["recovery.due_soon"]  # 7 days before
    assert await tick(6) == []
    assert await tick(2) == ["recovery.overdue"]  # a day past the deadline
    loaded = await awards.get(funding.repos, award.award_id)
    assert loaded.item.recovery(recovery_id).status == "overdue"
    assert await tick(28) == []
    assert await tick(2) == ["recovery.escalated"]  # 31 days past
    assert await tick(60) == []
    assert funding.audit(AWARDS).count("recovery.deadline") == 3
    # settled in full: no longer owed, the pass leaves it alone
    await awards.settle_recovery(
        funding.repos,
        funding.clock,
        award.award_id,
        recovery_id,
        settlement_id="s-1",
        method=SettlementMethod.REPAYMENT,
        amount_minor=50_000,
        bank_reference="BOC-1",
        tranche_id=None,
        actor_id=OFFICER,
    )
    settled = await awards.get(funding.repos, award.award_id)
    assert settled.item.recovery(recovery_id).status == "settled"
    assert not settled.item.recovery_open


async def test_a_recovery_found_late_is_overdue_and_escalated_in_one_pass(funding: Funding) -> None:
    policy = DeadlinePolicy(remind_before=timedelta(days=7), escalate_after=timedelta(days=30))
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    await ordered_recovery(funding, award, due_in_days=30)
    funding.clock.advance(timedelta(days=90))
    assert await check_recovery_deadlines(funding.repos, funding.clock, policy) == 1
    assert funding.events(AWARDS)[-2:] == ["recovery.overdue", "recovery.escalated"]
    assert "recovery.due_soon" not in funding.events(AWARDS)  # no reminder of a deadline long gone


async def test_closing_a_programme_releases_the_kept_remainders_once(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    award = await granted_award(funding, programme_id)
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    await awards.approve_tranche(
        funding.repos,
        funding.clock,
        award.award_id,
        t1,
        approved_minor=60_000,
        release_remainder=False,
        reason="one invoice missing",
        approver_id=APPROVER,
    )
    committed = f"award:{award.award_id}:committed"
    available = f"programme:{programme_id}:available"
    before = await funding.balances(programme_id)
    assert before[committed] == AMOUNT - 60_000  # 30,000 kept + t2 + t3
    with pytest.raises(PreconditionFailed):  # a stale version releases nothing
        await programmes.close_programme(funding.repos, funding.clock, programme_id, "window over", OFFICER, expected=1)
    assert await funding.balances(programme_id) == before
    closed = await programmes.close_programme(funding.repos, funding.clock, programme_id, "window over", OFFICER)
    assert closed.item.status == "closed"
    after = await funding.balances(programme_id)
    assert after[committed] == before[committed] - 30_000  # t2 and t3 stay: they are the award's obligations
    assert after[available] == before[available] + 30_000
    assert "tranche.remainder_released" in funding.events(AWARDS)
    released = [
        e for e in funding.store(AWARDS).published_events if e["type"].endswith("tranche.remainder_released.v1")
    ]
    assert [(e["data"]["released_minor"], e["data"]["trigger"]) for e in released] == [(30_000, "programme_closed")]
    with pytest.raises(InvalidTransition):  # closed once
        await programmes.close_programme(funding.repos, funding.clock, programme_id, "again", OFFICER)
    assert await funding.balances(programme_id) == after


# --- defects: a withdrawn or rejected application frees the place; a stop holds approved payments --


async def test_a_withdrawn_or_rejected_application_no_longer_blocks_a_new_one(funding: Funding) -> None:
    programme_id = await open_programme(funding)
    first = await application_under_review(funding, programme_id)
    with pytest.raises(Conflict) as duplicate:
        await application_under_review(funding, programme_id)
    assert (duplicate.value.code, duplicate.value.extensions["application_id"]) == ("application.duplicate", first)
    await applications.decide_application(
        funding.repos,
        funding.clock,
        first,
        decision="reject",
        reason="weak plan",
        approved_minor=None,
        actor_id=OFFICER,
    )
    second = await application_under_review(funding, programme_id)
    assert second == f"{first}-2"
    await applications.withdraw_application(funding.repos, funding.clock, second, "postponed", COLLEGE)
    third = await application_under_review(funding, programme_id)
    assert third == f"{first}-3"
    with pytest.raises(Conflict) as still_one:  # the open one holds the place, named
        await application_under_review(funding, programme_id)
    assert still_one.value.extensions["application_id"] == third


async def test_a_stopped_agreement_holds_the_payment_of_an_approved_tranche_until_reinstated(
    funding: Funding,
) -> None:
    award = await granted_award(funding, await open_programme(funding))
    t1 = award.tranches[0].tranche_id
    await awards.request_tranche(funding.repos, funding.clock, award.award_id, t1, OFFICER)
    await awards.approve_tranche(
        funding.repos,
        funding.clock,
        award.award_id,
        t1,
        approved_minor=None,
        release_remainder=False,
        reason=None,
        approver_id=APPROVER,
    )
    base = agreement_activated().model_dump()
    suspended = AgreementSuspended.model_validate(
        {**base, "status": "suspended", "reason": "停产整顿", "occurred_at": NOW + timedelta(days=1)}
    )
    await awards.on_agreement_changed(funding.repos, funding.clock, "evt-s", suspended)
    held = (await awards.get(funding.repos, award.award_id)).item.tranche(t1)
    assert (held.status, held.payment_holds) == ("approved", ("agreement:suspended",))
    assert funding.events(AWARDS)[-1] == "tranche.withheld"
    before = await funding.balances(award.programme_id)
    with pytest.raises(Conflict) as refused:
        await awards.confirm_payment(funding.repos, funding.clock, award.award_id, t1, "ICBC-1", OFFICER)
    assert refused.value.code == "tranche.payment_held"
    assert await funding.balances(award.programme_id) == before
    resumed = AgreementResumed.model_validate({**base, "reason": "整改完成", "occurred_at": NOW + timedelta(days=2)})
    await awards.on_agreement_changed(funding.repos, funding.clock, "evt-r", resumed)
    paid = await awards.confirm_payment(funding.repos, funding.clock, award.award_id, t1, "ICBC-1", OFFICER)
    assert paid.item.tranche(t1).status == "paid"
