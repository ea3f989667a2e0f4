from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_funding.domain.application import (
    Application,
    ApplicationStatus,
    BudgetLine,
    cofunding_ratio_met,
)
from alliance_funding.domain.eligibility import failed_rules
from alliance_funding.domain.execution import BudgetExecution
from alliance_funding.domain.ledger import TransferKind
from alliance_funding.domain.programme import (
    EligibilityRules,
    ManualRelease,
    OnAwardRelease,
    Programme,
    ProgrammeStatus,
    TrancheTemplateItem,
)
from alliance_shared.contract import funding
from alliance_shared.contract.funding import BudgetCategory
from alliance_shared.contract.vocabulary import Grade, PartnerKind
from alliance_shared.errors import DomainError, InvalidTransition
from tests.unit.funding.funding_support import (
    ELIGIBLE,
    NOW,
    OFFICER,
    PROGRAMME_ID,
    draft_application,
    eligible_snapshot,
    open_programme,
    programme_fields,
)

# --- programmes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "   "}, "name"),
        ({"fiscal_year": 1999}, "fiscal_year"),
        ({"currency": "USD"}, "currency"),
        ({"appropriated_minor": 0}, "appropriated_minor"),
        ({"appropriated_minor": 12.5}, "appropriated_minor"),
        ({"closes_at": NOW - timedelta(days=2)}, "closes_at"),
        ({"opens_at": NOW.replace(tzinfo=None)}, "opens_at"),
        ({"award_cap_minor": 0}, "award_cap_minor"),
        ({"award_cap_minor": 10_000_000_01}, "award_cap_minor"),
        ({"min_cofunding_bp": 10_000}, "min_cofunding_bp"),
        ({"tranche_template": ()}, "tranche_template"),
        (
            {"tranche_template": (TrancheTemplateItem(name="all", share_bp=9999, release=OnAwardRelease()),)},
            "tranche_template",
        ),
        (
            {
                "tranche_template": (
                    TrancheTemplateItem(name="x", share_bp=5000, release=OnAwardRelease()),
                    TrancheTemplateItem(name="x", share_bp=5000, release=ManualRelease()),
                )
            },
            "tranche_template",
        ),
        (
            {"tranche_template": ({"name": "x", "share_bp": 10_000, "release": {"kind": "evaluation"}},)},
            "tranche_template.0.release.evaluation.cycle_kind",
        ),
        ({"eligibility": {"lead_partner_kinds": []}}, "eligibility.lead_partner_kinds"),
        (
            {"eligibility": EligibilityRules(lead_partner_kinds=(PartnerKind.COLLEGE, PartnerKind.COLLEGE))},
            "eligibility.lead_partner_kinds",
        ),
        ({"eligibility": {"lead_partner_kinds": ["college"], "region_prefix": "44x"}}, "eligibility.region_prefix"),
    ],
)
def test_programme_validation_names_the_offending_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as raised:
        Programme.draft(**programme_fields(**changes))
    assert raised.value.code == "programme.invalid"
    assert raised.value.extensions["field"] == field


def test_a_valid_programme_round_trips_through_its_document() -> None:
    programme = Programme.draft(**programme_fields())
    document = programme.to_document()
    assert "events" not in document
    assert "transfers" not in document
    assert Programme.from_document({"_id": PROGRAMME_ID, **document}) == programme


def test_programme_lifecycle_appropriates_on_opening_and_reports_final_figures() -> None:
    programme = Programme.draft(**programme_fields())
    revised = programme.revise(award_cap_minor=1_000_000_00)
    assert revised.award_cap_minor == 1_000_000_00
    with pytest.raises(DomainError) as raised:
        programme.revise(tranche_template=())
    assert raised.value.extensions["field"] == "tranche_template"

    programme.open(NOW, OFFICER)
    assert programme.status is ProgrammeStatus.OPEN
    assert programme.accepts_applications(NOW)
    assert not programme.accepts_applications(programme.closes_at)
    [appropriation] = programme.transfers
    assert (appropriation.kind, appropriation.amount_minor) == (TransferKind.APPROPRIATE, 10_000_000_00)
    [opened] = programme.events
    assert isinstance(opened, funding.ProgrammeOpened)
    assert opened.appropriated_minor == 10_000_000_00
    with pytest.raises(InvalidTransition):
        programme.revise(name="changed")
    with pytest.raises(InvalidTransition):
        programme.open(NOW, OFFICER)

    programme.close("window ended", NOW, OFFICER)
    assert not programme.accepts_applications(NOW)
    figures = BudgetExecution(
        programme_id=PROGRAMME_ID,
        appropriated_minor=100,
        available_minor=20,
        committed_minor=10,
        disbursed_minor=5,
        paid_minor=60,
        recovery_receivable_minor=3,
        recovered_minor=2,
        written_off_minor=0,
        execution_rate_bp=6000,
    )
    with pytest.raises(DomainError) as raised:
        programme.finalise(figures, NOW, OFFICER)
    assert raised.value.code == "programme.payments_in_flight"
    programme.finalise(figures.model_copy(update={"disbursed_minor": 0}), NOW, OFFICER)
    assert programme.to_document()["status"] is ProgrammeStatus.FINALISED
    finalised = programme.events[-1]
    assert isinstance(finalised, funding.ProgrammeFinalised)
    assert (finalised.paid_minor, finalised.execution_rate_bp) == (60, 6000)
    with pytest.raises(InvalidTransition):
        programme.close("again", NOW, OFFICER)


def test_a_programme_cannot_open_after_its_window() -> None:
    programme = Programme.draft(**programme_fields())
    with pytest.raises(DomainError) as raised:
        programme.open(programme.closes_at, OFFICER)
    assert raised.value.code == "programme.window_passed"
    assert programme.status is ProgrammeStatus.DRAFT
    assert programme.transfers == []


# --- eligibility ----------------------------------------------------------------------


def test_an_applicant_meeting_every_rule_has_no_failures() -> None:
    assert failed_rules(open_programme().eligibility, eligible_snapshot()) == []


def test_every_failed_rule_is_reported_not_only_the_first() -> None:
    snapshot = eligible_snapshot(
        applicant_partner_kind=PartnerKind.RESEARCH_INSTITUTE,
        applicant_region_code="110101",
        enterprise_certified=False,
        agreement_status="suspended",
        latest_grade=Grade.FAIL,
        applicant_is_party=False,
    )
    failures = failed_rules(open_programme().eligibility, snapshot)
    assert [f.code for f in failures] == [
        "eligibility.partner_kind",
        "eligibility.not_a_party",
        "eligibility.region",
        "eligibility.certified_enterprise",
        "eligibility.agreement_active",
        "eligibility.min_grade",
    ]
    assert all(f.text for f in failures)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"applicant_partner_kind": PartnerKind.GOVERNMENT_AGENCY}, "eligibility.partner_kind"),
        ({"applicant_region_code": "440105"}, "eligibility.region"),
        ({"enterprise_certified": False}, "eligibility.certified_enterprise"),
        ({"agreement_status": "drafted"}, "eligibility.agreement_active"),
        ({"latest_grade": None}, "eligibility.min_grade"),
        ({"latest_grade": Grade.FAIL}, "eligibility.min_grade"),
        ({"applicant_is_party": False}, "eligibility.not_a_party"),
    ],
)
def test_each_rule_fails_on_its_own(changes: dict[str, Any], code: str) -> None:
    assert [f.code for f in failed_rules(open_programme().eligibility, eligible_snapshot(**changes))] == [code]


def test_rules_that_are_switched_off_do_not_fail() -> None:
    lenient = EligibilityRules(lead_partner_kinds=(PartnerKind.ENTERPRISE,), require_active_agreement=False)
    snapshot = eligible_snapshot(
        applicant_partner_kind=PartnerKind.ENTERPRISE,
        applicant_region_code="110101",
        enterprise_certified=False,
        agreement_status="drafted",
        latest_grade=None,
    )
    assert failed_rules(lenient, snapshot) == []


# --- co-funding -----------------------------------------------------------------------


def test_cofunding_ratio_is_exact_at_the_boundary() -> None:
    assert cofunding_ratio_met(70, 30, 3000)  # exactly 30 %
    assert not cofunding_ratio_met(71, 30, 3000)  # 29.7 %
    assert cofunding_ratio_met(100, 0, 0)
    assert not cofunding_ratio_met(100, 0, 1)


@settings(max_examples=300, deadline=None)
@given(
    requested=st.integers(1, 10**12),
    pledged=st.integers(0, 10**12),
    min_bp=st.integers(0, 9999),
)
def test_cofunding_ratio_agrees_with_exact_fractions(requested: int, pledged: int, min_bp: int) -> None:
    from fractions import Fraction

    exact = Fraction(pledged, requested + pledged) >= Fraction(min_bp, 10_000)
    assert cofunding_ratio_met(requested, pledged, min_bp) is exact


# --- applications ---------------------------------------------------------------------


def submitted(programme: Programme | None = None) -> tuple[Application, Programme]:
    programme = programme or open_programme()
    application = draft_application(programme)
    application.submit(programme, eligible_snapshot(), NOW, "applicant-user")
    return application, programme


def test_submission_emits_the_full_request_and_an_approval_respects_every_limit() -> None:
    application, programme = submitted()
    [event] = application.events
    assert isinstance(event, funding.ApplicationSubmitted)
    assert (event.requested_minor, event.cofunding_minor, event.party_ids) == (
        1_000_000_00,
        500_000_00,
        ("col-1", "ent-1"),
    )
    assert sum(line.amount_minor for line in event.budget_lines) == event.requested_minor
    application.start_review()
    for amount, available, code in [
        (1_000_000_01, 10**12, "application.approval_over_request"),
        (900_000_00, 800_000_00, "application.approval_over_available"),
        (0, 10**12, "application.approval_not_positive"),
    ]:
        with pytest.raises(DomainError) as raised:
            application.approve(
                approved_minor=amount,
                reason="ok",
                programme=programme,
                available_minor=available,
                eligibility=ELIGIBLE,
                now=NOW,
                actor_id=OFFICER,
            )
        assert raised.value.code == code
    with pytest.raises(DomainError) as raised:
        application.approve(
            approved_minor=800_000_00,
            reason="  ",
            programme=programme,
            available_minor=10**12,
            eligibility=ELIGIBLE,
            now=NOW,
            actor_id="r",
        )
    assert raised.value.code == "application.reason_required"
    application.approve(
        approved_minor=800_000_00,
        reason="equipment quote lower",
        programme=programme,
        available_minor=800_000_00,
        eligibility=ELIGIBLE,
        now=NOW,
        actor_id=OFFICER,
    )
    assert application.status is ApplicationStatus.APPROVED
    approved = application.events[-1]
    assert isinstance(approved, funding.ApplicationApproved)
    assert (approved.requested_minor, approved.approved_minor) == (1_000_000_00, 800_000_00)


def test_an_approval_above_the_programme_cap_is_refused() -> None:
    programme = open_programme(award_cap_minor=1_000_000_00)
    application, _ = submitted(programme)
    application.start_review()
    with pytest.raises(DomainError) as raised:
        application.approve(
            approved_minor=950_000_00,
            reason="x",
            programme=programme.model_copy(update={"award_cap_minor": 900_000_00}),
            available_minor=10**12,
            eligibility=ELIGIBLE,
            now=NOW,
            actor_id=OFFICER,
        )
    assert raised.value.code == "application.approval_over_cap"


@pytest.mark.parametrize(
    ("requested", "cofunding", "lines", "code"),
    [
        (0, 0, [], "application.request_not_positive"),
        (2_000_000_01, 10**10, [(BudgetCategory.RD, 2_000_000_01)], "application.request_over_cap"),
        (100_00, 50_00, [(BudgetCategory.RD, 99_00)], "application.budget_lines_mismatch"),
        (100_00, 42_00, [(BudgetCategory.RD, 100_00)], "application.cofunding_too_low"),
    ],
)
def test_submission_checks_the_figures(
    requested: int, cofunding: int, lines: list[tuple[BudgetCategory, int]], code: str
) -> None:
    programme = open_programme()
    application = draft_application(programme)
    application.revise(
        requested_minor=requested,
        cofunding_minor=cofunding,
        budget_lines=[BudgetLine(category=c, amount_minor=a) for c, a in lines],
    )
    with pytest.raises(DomainError) as raised:
        application.submit(programme, eligible_snapshot(), NOW, "u")
    assert raised.value.code == code
    assert application.status is ApplicationStatus.DRAFT
    assert application.events == []


def test_an_ineligible_applicant_gets_every_failed_rule() -> None:
    programme = open_programme()
    application = draft_application(programme)
    with pytest.raises(DomainError) as raised:
        application.submit(programme, eligible_snapshot(enterprise_certified=False, latest_grade=None), NOW, "u")
    assert raised.value.code == "application.ineligible"
    assert [r["code"] for r in raised.value.extensions["failed_rules"]] == [
        "eligibility.certified_enterprise",
        "eligibility.min_grade",
    ]


def test_a_budget_category_may_appear_once() -> None:
    programme = open_programme()
    with pytest.raises(DomainError) as raised:
        Application.draft(
            application_id="a",
            programme=programme,
            agreement_id="agr",
            applicant_partner_id="col-1",
            party_ids=["col-1"],
            requested_minor=2,
            cofunding_minor=1,
            budget_lines=[BudgetLine(category=BudgetCategory.RD, amount_minor=1)] * 2,
        )
    assert raised.value.code == "application.budget_category_repeated"


def test_submission_needs_the_window_but_a_returned_application_may_come_back_after_it() -> None:
    programme = open_programme()
    application = draft_application(programme)
    with pytest.raises(DomainError) as raised:
        application.submit(programme, eligible_snapshot(), programme.closes_at, "u")
    assert raised.value.code == "application.programme_not_open"

    application.submit(programme, eligible_snapshot(), NOW, "u")
    application.start_review()
    application.return_for_changes("add the training-base plan", NOW, OFFICER)
    assert isinstance(application.events[-1], funding.ApplicationReturned)
    application.revise(
        requested_minor=900_000_00,
        cofunding_minor=500_000_00,
        budget_lines=[BudgetLine(category=BudgetCategory.TRAINING_BASE_CONSTRUCTION, amount_minor=900_000_00)],
    )
    programme.close("window ended", NOW, OFFICER)
    application.submit(programme, eligible_snapshot(), programme.closes_at + timedelta(days=1), "u")
    assert application.status is ApplicationStatus.SUBMITTED
    assert application.events[-1].requested_minor == 900_000_00  # type: ignore[attr-defined]


LEGAL_WITHDRAWALS = [ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.UNDER_REVIEW]


@pytest.mark.parametrize("stage", [*LEGAL_WITHDRAWALS, ApplicationStatus.RETURNED])
def test_the_applicant_may_withdraw_until_a_decision(stage: ApplicationStatus) -> None:
    application = in_stage(stage)
    application.withdraw("we found other funding", NOW, "u")
    assert application.status is ApplicationStatus.WITHDRAWN
    assert isinstance(application.events[-1], funding.ApplicationWithdrawn)


def in_stage(stage: ApplicationStatus) -> Application:
    programme = open_programme()
    application = draft_application(programme)
    if stage is ApplicationStatus.DRAFT:
        return application
    application.submit(programme, eligible_snapshot(), NOW, "u")
    if stage is ApplicationStatus.SUBMITTED:
        return application
    application.start_review()
    if stage is ApplicationStatus.UNDER_REVIEW:
        return application
    if stage is ApplicationStatus.RETURNED:
        application.return_for_changes("more detail", NOW, OFFICER)
    elif stage is ApplicationStatus.REJECTED:
        application.reject("out of scope", NOW, OFFICER)
    elif stage is ApplicationStatus.APPROVED:
        application.approve(
            approved_minor=1,
            reason="ok",
            programme=programme,
            available_minor=1,
            eligibility=ELIGIBLE,
            now=NOW,
            actor_id=OFFICER,
        )
    return application


@pytest.mark.parametrize(
    ("stage", "action"),
    [
        (ApplicationStatus.DRAFT, "start_review"),
        (ApplicationStatus.DRAFT, "reject"),
        (ApplicationStatus.SUBMITTED, "reject"),
        (ApplicationStatus.SUBMITTED, "revise"),
        (ApplicationStatus.UNDER_REVIEW, "submit"),
        (ApplicationStatus.REJECTED, "withdraw"),
        (ApplicationStatus.APPROVED, "withdraw"),
        (ApplicationStatus.APPROVED, "return_for_changes"),
        (ApplicationStatus.REJECTED, "submit"),
    ],
)
def test_illegal_application_transitions_are_refused(stage: ApplicationStatus, action: str) -> None:
    application = in_stage(stage)
    programme = open_programme()
    calls = {
        "start_review": lambda: application.start_review(),
        "reject": lambda: application.reject("r", NOW, OFFICER),
        "return_for_changes": lambda: application.return_for_changes("r", NOW, OFFICER),
        "withdraw": lambda: application.withdraw(None, NOW, "u"),
        "submit": lambda: application.submit(programme, eligible_snapshot(), NOW, "u"),
        "revise": lambda: application.revise(requested_minor=1, cofunding_minor=1, budget_lines=[]),
    }
    with pytest.raises(InvalidTransition):
        calls[action]()
    assert application.status is stage


def test_an_application_round_trips_through_its_document() -> None:
    application, _ = submitted()
    assert Application.from_document(application.to_document()) == application.model_copy(update={"events": []})
