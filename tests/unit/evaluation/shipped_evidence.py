"""Seeded, varied evidence for one agreement (not a test module): every kind of college
report and manual evidence, in and out of the window, with corrections, probation
terminations, other currencies and repeated students — the material the before/after
comparison of the shipped indicators runs on (``test_evaluation_indicator_language.py``)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from alliance_evaluation.domain.evidence import ManualEvidence, ManualEvidenceKind
from alliance_shared.contract import college
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.vocabulary import CooperationMode, ObligationMetric

from .evaluation_support import AGREEMENT_ID, COLLEGE_ID, ENTERPRISE_ID

SEEDS = (1, 2, 3, 4, 5, 6, 7, 8)

DECLARED_MODES = (
    CooperationMode.INTERNSHIP_BASE,
    CooperationMode.ORDER_CLASS,
    CooperationMode.JOINT_RD_CENTRE,
    CooperationMode.TEACHER_EXCHANGE,
)

TARGETS: dict[ObligationMetric, Fraction] = {
    ObligationMetric.INTERNSHIP_POSTS: Fraction(8),
    ObligationMetric.HOSTED_STUDENTS: Fraction(5),
    ObligationMetric.ORDER_CLASS_STUDENTS: Fraction(6),
    ObligationMetric.ENGINEER_TEACHING_HOURS: Fraction(120),
    ObligationMetric.TEACHER_PRACTICE_PERSONS: Fraction(3),
    ObligationMetric.RD_REVENUE_FEN: Fraction(2_000_00),
    ObligationMetric.COURSES_CODEVELOPED: Fraction(2),
    ObligationMetric.INVESTMENT_FEN: Fraction(50_000_00),
}


def _day(rng: random.Random) -> date:
    # Mostly inside the 2025 window, sometimes just outside it.
    return date(2024, 11, 1) + timedelta(days=rng.randrange(0, 480))


def _report(rng: random.Random, n: int) -> CollegeReport:
    base: dict[str, Any] = {
        "report_id": f"R{n}",
        "agreement_id": AGREEMENT_ID,
        "college_id": COLLEGE_ID,
        "occurred_on": _day(rng),
    }
    student = f"S{rng.randrange(12)}"
    kind = rng.randrange(10)
    if kind == 0:
        return college.InternshipPlaced(
            **base,
            student_ref=student,
            enterprise_id=ENTERPRISE_ID,
            post="assistant",
            start_date=base["occurred_on"],
            planned_months=6,
        )
    if kind == 1:
        early = rng.random() < 0.4
        return college.InternshipCompleted(
            **base,
            student_ref=student,
            enterprise_id=ENTERPRISE_ID,
            months_completed=rng.randrange(0, 9),
            outcome=college.InternshipOutcome.TERMINATED_EARLY if early else college.InternshipOutcome.COMPLETED,
            termination_reason=college.TerminationReason.STUDENT_CHOICE if early else None,
            within_probation=early and rng.random() < 0.3,
        )
    if kind == 2:
        return college.OrderClassEnrolled(**base, student_ref=student, class_name="CNC 1", major_code="460104")
    if kind == 3:
        return college.StudentCertified(
            **base,
            student_ref=student,
            certificate_kind=rng.choice(list(college.CertificateKind)),
            certificate_code=f"C{rng.randrange(3)}",
            level=rng.choice(list(college.CertificateLevel)),
        )
    if kind == 4:
        employed = rng.random() < 0.7
        return college.GraduateEmployed(
            **base,
            student_ref=student,
            employed=employed,
            employer_name="Acme" if employed else None,
            post="operator" if employed else None,
            in_partner_enterprise=employed and rng.random() < 0.3,
            in_partner_sector=employed and rng.random() < 0.3,
            further_study=not employed and rng.random() < 0.5,
            months_after_graduation=rng.choice((6, 12)),
        )
    if kind == 5:
        return college.TeacherPracticeCompleted(
            **base, teacher_ref=f"T{rng.randrange(5)}", enterprise_id=ENTERPRISE_ID, days=rng.randrange(1, 60)
        )
    if kind == 6:
        return college.EngineerTeachingReported(
            **base,
            engineer_ref=f"E{rng.randrange(4)}",
            enterprise_id=ENTERPRISE_ID,
            course="PLC",
            hours=rng.randrange(1, 40),
        )
    if kind == 7:
        return college.CourseCodeveloped(**base, title="PLC basics", kind=rng.choice(list(college.CodevelopedKind)))
    if kind == 8:
        return college.RdOutputReported(
            **base,
            kind=rng.choice(list(college.RdOutputKind)),
            title="fixture",
            revenue_minor=rng.randrange(0, 100_000_00),
            currency="CNY" if rng.random() < 0.8 else "USD",
        )
    return college.SurveySubmitted(
        **base,
        respondent_kind=rng.choice(list(college.RespondentKind)),
        respondents=rng.randrange(1, 60),
        mean_score_hundredths=rng.randrange(100, 401),
    )


def _manual(rng: random.Random, n: int) -> ManualEvidence:
    common: dict[str, Any] = {
        "evidence_id": f"M{n}",
        "occurred_on": _day(rng),
        "recorded_by": "sup-1",
        "document_ref": "doc",
    }
    kind = rng.randrange(3)
    if kind == 0:
        return ManualEvidence(
            **common,
            kind=ManualEvidenceKind.ENTERPRISE_INVESTMENT,
            amount_minor=rng.randrange(0, 30_000_00),
            currency="CNY" if rng.random() < 0.8 else "EUR",
        )
    if kind == 1:
        teachers = rng.randrange(1, 20)
        return ManualEvidence(
            **common,
            kind=ManualEvidenceKind.DUAL_QUALIFIED_TEACHERS,
            cooperation_teachers=teachers,
            dual_qualified_teachers=rng.randrange(0, teachers + 1),
        )
    return ManualEvidence(**common, kind=ManualEvidenceKind.MODE_CARRIED_OUT, mode=rng.choice(list(CooperationMode)))


def evidence(seed: int) -> tuple[list[CollegeReport], list[ManualEvidence]]:
    """The same reports and manual evidence for the same seed, every time."""
    rng = random.Random(seed)
    reports = [_report(rng, n) for n in range(rng.randrange(0, 90))]
    manual = [_manual(rng, n) for n in range(rng.randrange(0, 8))]
    return reports, manual
