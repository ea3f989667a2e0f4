"""Builders shared by the evaluation unit tests (not a test module)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from alliance_evaluation.domain.cycle import Cycle
from alliance_evaluation.domain.default_framework import default_framework
from alliance_evaluation.domain.evidence import EvidenceWindow
from alliance_evaluation.domain.framework import Framework
from alliance_evaluation.domain.result import AgreementSnapshot
from alliance_evaluation.domain.targets import Obligation
from alliance_shared.contract import college
from alliance_shared.contract.vocabulary import CooperationMode, CycleKind, Depth, ObligationMetric, ObligationPeriod

NOW = datetime(2025, 12, 31, 8, 0, tzinfo=UTC)
WINDOW = EvidenceWindow(start=date(2025, 1, 1), end=date(2025, 12, 31))
AGREEMENT_ID = "agr-1"
COLLEGE_ID = "col-1"
ENTERPRISE_ID = "ent-1"
PARTY_IDS = (COLLEGE_ID, ENTERPRISE_ID)

_counter = iter(range(1, 10**9))


def _base(report_id: str | None, occurred_on: date | None) -> dict[str, Any]:
    return {
        "report_id": report_id or f"R-{next(_counter)}",
        "agreement_id": AGREEMENT_ID,
        "college_id": COLLEGE_ID,
        "occurred_on": occurred_on or date(2025, 3, 1),
    }


def placed(student: str, *, report_id: str | None = None, on: date | None = None) -> college.InternshipPlaced:
    return college.InternshipPlaced(
        **_base(report_id, on),
        student_ref=student,
        enterprise_id=ENTERPRISE_ID,
        post="assistant",
        start_date=on or date(2025, 3, 1),
        planned_months=6,
    )


def completed(
    student: str,
    *,
    months: int = 6,
    early: bool = False,
    probation: bool = False,
    report_id: str | None = None,
    on: date | None = None,
) -> college.InternshipCompleted:
    return college.InternshipCompleted(
        **_base(report_id, on),
        student_ref=student,
        enterprise_id=ENTERPRISE_ID,
        months_completed=months,
        outcome=college.InternshipOutcome.TERMINATED_EARLY if early else college.InternshipOutcome.COMPLETED,
        termination_reason=college.TerminationReason.STUDENT_CHOICE if early else None,
        within_probation=probation,
    )


def survey(
    kind: str, respondents: int, mean_hundredths: int, *, report_id: str | None = None
) -> college.SurveySubmitted:
    return college.SurveySubmitted(
        **_base(report_id, None),
        respondent_kind=college.RespondentKind(kind),
        respondents=respondents,
        mean_score_hundredths=mean_hundredths,
    )


def published_default(now: datetime = NOW) -> Framework:
    framework = default_framework()
    framework.publish(now - timedelta(days=400), "admin")
    return framework


def agreement(
    *,
    modes: tuple[CooperationMode, ...] = (CooperationMode.INTERNSHIP_BASE, CooperationMode.ORDER_CLASS),
    depth: Depth = Depth.MIDDLE,
    obligations: tuple[Obligation, ...] | None = None,
    active: bool = True,
) -> AgreementSnapshot:
    if obligations is None:
        obligations = (
            Obligation(
                party_id=ENTERPRISE_ID,
                metric=ObligationMetric.INTERNSHIP_POSTS,
                quantity=10,
                period=ObligationPeriod.PER_YEAR,
            ),
        )
    return AgreementSnapshot(
        agreement_id=AGREEMENT_ID,
        party_ids=PARTY_IDS,
        college_ids=(COLLEGE_ID,),
        enterprise_ids=(ENTERPRISE_ID,),
        declared_modes=modes,
        declared_depth=depth,
        active=active,
        term_start=date(2024, 1, 1),
        term_end=date(2026, 12, 31),
        active_since=date(2024, 1, 1),
        obligations=obligations,
    )


def scoring_cycle(framework: Framework, now: datetime = NOW) -> Cycle:
    cycle = Cycle.open(
        cycle_id="cyc-1",
        kind=CycleKind.ANNUAL,
        name="Annual 2025",
        agreement_ids=[AGREEMENT_ID],
        party_ids=PARTY_IDS,
        window=WINDOW,
        due_at=now + timedelta(days=30),
        framework=framework,
        now=now - timedelta(days=300),
        actor_id="sup-1",
    )
    cycle.start_scoring(now - timedelta(days=1), "sup-1")
    cycle.events.clear()
    return cycle
