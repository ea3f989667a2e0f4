"""Builders shared by the funding unit tests (not a test module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alliance_funding.domain.application import Application, BudgetLine
from alliance_funding.domain.award import Award
from alliance_funding.domain.eligibility import EligibilitySnapshot
from alliance_funding.domain.ledger import Ledger
from alliance_funding.domain.programme import (
    EligibilityRules,
    EvaluationRelease,
    ManualRelease,
    OnAwardRelease,
    Programme,
    TrancheTemplateItem,
)
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.funding import BudgetCategory
from alliance_shared.contract.vocabulary import CycleKind, Grade, PartnerKind

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PROGRAMME_ID = "prg-1"
COLLEGE_ID = "col-1"
ENTERPRISE_ID = "ent-1"
PARTY_IDS = (COLLEGE_ID, ENTERPRISE_ID)
AGREEMENT_ID = "agr-1"
OFFICER = "officer-zhang"
APPROVER = "approver-li"

TEMPLATE = (
    TrancheTemplateItem(name="start-up", share_bp=3000, release=OnAwardRelease()),
    TrancheTemplateItem(
        name="mid-term",
        share_bp=4000,
        release=EvaluationRelease(cycle_kind=CycleKind.MID_TERM, min_grade=Grade.PASS),
    ),
    TrancheTemplateItem(name="final", share_bp=3000, release=ManualRelease()),
)


def programme_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "programme_id": PROGRAMME_ID,
        "name": "Shenzhen integration fund 2026",
        "fiscal_year": 2026,
        "appropriated_minor": 10_000_000_00,
        "opens_at": NOW - timedelta(days=1),
        "closes_at": NOW + timedelta(days=60),
        "eligibility": EligibilityRules(
            lead_partner_kinds=(PartnerKind.COLLEGE, PartnerKind.ENTERPRISE),
            require_certified_enterprise=True,
            min_grade=Grade.PASS,
            region_prefix="4403",
        ),
        "award_cap_minor": 2_000_000_00,
        "min_cofunding_bp": 3000,
        "tranche_template": TEMPLATE,
    }
    return {**fields, **changes}


def open_programme(**changes: Any) -> Programme:
    programme = Programme.draft(**programme_fields(**changes))
    programme.open(NOW - timedelta(hours=1), OFFICER)
    return programme


def eligible_snapshot(**changes: Any) -> EligibilitySnapshot:
    fields: dict[str, Any] = {
        "applicant_partner_kind": PartnerKind.COLLEGE,
        "applicant_region_code": "440305",
        "enterprise_certified": True,
        "agreement_status": "active",
        "latest_grade": Grade.GOOD,
        "applicant_is_party": True,
    }
    return EligibilitySnapshot.model_validate({**fields, **changes})


#: What the read models say of an applicant that passes every rule.
ELIGIBLE = eligible_snapshot()


def draft_application(
    programme: Programme, *, requested: int = 1_000_000_00, cofunding: int = 500_000_00
) -> Application:
    return Application.draft(
        application_id="app-1",
        programme=programme,
        agreement_id=AGREEMENT_ID,
        applicant_partner_id=COLLEGE_ID,
        party_ids=PARTY_IDS,
        requested_minor=requested,
        cofunding_minor=cofunding,
        budget_lines=[
            BudgetLine(category=BudgetCategory.EQUIPMENT, amount_minor=requested - requested // 4),
            BudgetLine(category=BudgetCategory.TEACHER_TRAINING, amount_minor=requested // 4),
        ],
    )


def approved_application(programme: Programme, approved: int = 1_000_000_00) -> Application:
    application = draft_application(programme)
    application.submit(programme, eligible_snapshot(), NOW, "applicant-user")
    application.start_review()
    application.approve(
        approved_minor=approved,
        reason="sound plan",
        programme=programme,
        available_minor=programme.appropriated_minor,
        eligibility=ELIGIBLE,
        now=NOW,
        actor_id=OFFICER,
    )
    return application


def granted(amount: int = 1_000_000_00, **grant_args: Any) -> tuple[Award, Ledger]:
    """An award with its money committed in a ledger whose budget was appropriated."""
    programme = open_programme()
    ledger = Ledger(PROGRAMME_ID)
    ledger.post(*programme.transfers)
    award = Award.grant(
        award_id="awd-1",
        application=approved_application(programme, amount),
        programme=programme,
        now=NOW,
        actor_id=OFFICER,
        **grant_args,
    )
    post_all(award, ledger)
    return award, ledger


def post_all(award: Award, ledger: Ledger) -> list[EventPayload]:
    """What the use case does: post the award's transfers together; returns (and clears) the events."""
    if award.transfers:
        ledger.post(*award.transfers)
    award.transfers.clear()
    events = list(award.events)
    award.events.clear()
    return events
