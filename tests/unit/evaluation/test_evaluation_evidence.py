from __future__ import annotations

from datetime import date
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_evaluation.domain.computation import aggregate_evidence
from alliance_evaluation.domain.default_framework import default_measures
from alliance_evaluation.domain.evidence import (
    EvidenceSummary,
    EvidenceWindow,
    ManualEvidence,
    ManualEvidenceKind,
    Measure,
)
from alliance_shared.contract import college
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.vocabulary import CooperationMode

from .evaluation_support import AGREEMENT_ID, COLLEGE_ID, ENTERPRISE_ID, WINDOW, completed, placed, survey

DECLARED = (CooperationMode.INTERNSHIP_BASE, CooperationMode.ORDER_CLASS, CooperationMode.JOINT_RD_CENTRE)


def aggregate(reports: list[CollegeReport], manual: list[ManualEvidence] | None = None) -> EvidenceSummary:
    return aggregate_evidence(reports, manual or [], WINDOW, DECLARED, default_measures())


def value(summary: EvidenceSummary, measure: Measure) -> Fraction | None:
    return summary.measurements[measure].value


def common(report_id: str, on: date = date(2025, 5, 10)) -> dict[str, object]:
    return {"report_id": report_id, "agreement_id": AGREEMENT_ID, "college_id": COLLEGE_ID, "occurred_on": on}


def graduate(
    student: str,
    *,
    employed: bool,
    study: bool = False,
    partner: bool = False,
    months: int = 6,
    report_id: str | None = None,
) -> college.GraduateEmployed:
    return college.GraduateEmployed.model_validate(
        {
            **common(report_id or f"G-{student}-{months}"),
            "student_ref": student,
            "employed": employed,
            "employer_name": "Acme" if employed else None,
            "post": "operator" if employed else None,
            "in_partner_enterprise": partner,
            "further_study": study,
            "months_after_graduation": months,
        }
    )


def test_placements_completions_and_early_terminations() -> None:
    reports: list[CollegeReport] = [
        placed("S1"),
        placed("S2"),
        placed("S3"),
        placed("S4"),
        placed("S5"),
        completed("S1", months=6),
        completed("S2", months=4),
        completed("S3", months=2, early=True),
        completed("S4", months=1, early=True, probation=True),
    ]
    summary = aggregate(reports)
    assert value(summary, Measure.INTERNSHIP_PLACEMENTS) == 5
    # S1 and S2 stayed 3+ months, S3 only 2, S4 one.
    assert value(summary, Measure.STUDENTS_HOSTED_3_MONTHS) == 2
    # Completed S1, S2 of the 5 students who started.
    assert value(summary, Measure.PLACEMENT_COMPLETION_RATE) == 40
    # Of the placements that ended outside probation (S1, S2, S3), S3 ended early.
    assert value(summary, Measure.EARLY_TERMINATION_RATE) == Fraction(100, 3)
    assert "2 of 5" in summary.measurements[Measure.PLACEMENT_COMPLETION_RATE].how


def test_certificates_per_participating_student() -> None:
    cert = college.StudentCertified.model_validate(
        {
            **common("C1"),
            "student_ref": "S1",
            "certificate_kind": "one_plus_x",
            "certificate_code": "X1",
            "level": "elementary",
        }
    )
    enrolled = college.OrderClassEnrolled.model_validate(
        {**common("O1"), "student_ref": "S2", "class_name": "class", "major_code": "460103"}
    )
    summary = aggregate([placed("S1"), cert, enrolled, placed("S3"), placed("S4")])
    assert value(summary, Measure.CERTIFICATES_PER_STUDENT) == Fraction(1, 4)
    assert value(summary, Measure.ORDER_CLASS_STUDENTS) == 1


def test_graduate_destinations_use_the_latest_report_per_graduate() -> None:
    reports: list[CollegeReport] = [
        graduate("G1", employed=False, months=3),
        graduate("G1", employed=True, partner=True, months=6),
        graduate("G2", employed=False, study=True),
        graduate("G3", employed=True),
        graduate("G4", employed=False),
    ]
    summary = aggregate(reports)
    assert value(summary, Measure.EMPLOYMENT_OR_STUDY_RATE) == 75
    assert value(summary, Measure.EMPLOYED_IN_PARTNER_RATE) == 50


def test_satisfaction_is_the_respondent_weighted_mean() -> None:
    summary = aggregate([survey("employer", 10, 300), survey("employer", 30, 200), survey("student", 5, 350)])
    assert value(summary, Measure.EMPLOYER_SATISFACTION) == Fraction(10 * 3 + 30 * 2, 40)
    assert value(summary, Measure.STUDENT_SATISFACTION) == Fraction(35, 10)


def test_teaching_research_and_revenue_figures() -> None:
    reports: list[CollegeReport] = [
        college.EngineerTeachingReported.model_validate(
            {**common("E1"), "engineer_ref": "E1", "enterprise_id": ENTERPRISE_ID, "course": "c", "hours": 40}
        ),
        college.EngineerTeachingReported.model_validate(
            {**common("E2"), "engineer_ref": "E2", "enterprise_id": ENTERPRISE_ID, "course": "c", "hours": 8}
        ),
        college.TeacherPracticeCompleted.model_validate(
            {**common("T1"), "teacher_ref": "T1", "enterprise_id": ENTERPRISE_ID, "days": 20}
        ),
        college.TeacherPracticeCompleted.model_validate(
            {**common("T2"), "teacher_ref": "T1", "enterprise_id": ENTERPRISE_ID, "days": 10}
        ),
        college.RdOutputReported.model_validate(
            {**common("RD1"), "kind": "patent", "title": "t", "revenue_minor": 500_00, "currency": "CNY"}
        ),
        college.RdOutputReported.model_validate(
            {**common("RD2"), "kind": "standard", "title": "t", "revenue_minor": 99, "currency": "USD"}
        ),
        college.CourseCodeveloped.model_validate({**common("CD1"), "title": "t", "kind": "course"}),
    ]
    summary = aggregate(reports)
    assert value(summary, Measure.ENGINEER_TEACHING_HOURS) == 48
    assert value(summary, Measure.TEACHER_PRACTICE_PERSONS) == 1
    assert value(summary, Measure.RD_OUTPUTS) == 2
    assert value(summary, Measure.RD_REVENUE) == 500_00
    assert "1 of 2 records left out (kept: currency eq CNY)" in summary.measurements[Measure.RD_REVENUE].how
    assert value(summary, Measure.COURSES_CODEVELOPED) == 1
    assert summary.two_way_teacher_exchange
    assert CooperationMode.TEACHER_EXCHANGE in summary.modes_carried_out


def test_missing_evidence_is_none_with_a_reason_never_a_silent_zero() -> None:
    nothing = aggregate([])
    for measure in Measure:
        if measure in (Measure.MODES_CARRIED_OUT_RATE, Measure.ACTIVE_MONTHS_RATE):
            continue
        measurement = nothing.measurements[measure]
        assert measurement.value is None, measure
        assert measurement.how.startswith("no evidence"), measure
    # Once the college reports anything, a count without reports is a real zero...
    some = aggregate([survey("student", 3, 300)])
    assert value(some, Measure.RD_OUTPUTS) == 0
    # ...but a rate with nobody to count stays "no evidence".
    assert value(some, Measure.PLACEMENT_COMPLETION_RATE) is None
    assert value(some, Measure.EMPLOYER_SATISFACTION) is None


def test_manual_evidence_investment_is_cumulative_and_headcounts_take_the_latest_snapshot() -> None:
    manual = [
        ManualEvidence(
            evidence_id="M1",
            kind=ManualEvidenceKind.ENTERPRISE_INVESTMENT,
            occurred_on=date(2024, 6, 1),
            recorded_by="sup",
            document_ref="doc",
            amount_minor=100_000,
            currency="CNY",
        ),
        ManualEvidence(
            evidence_id="M2",
            kind=ManualEvidenceKind.ENTERPRISE_INVESTMENT,
            occurred_on=date(2025, 6, 1),
            recorded_by="sup",
            document_ref="doc",
            amount_minor=50_000,
            currency="CNY",
        ),
        ManualEvidence(
            evidence_id="M3",
            kind=ManualEvidenceKind.ENTERPRISE_INVESTMENT,
            occurred_on=date(2026, 2, 1),
            recorded_by="sup",
            document_ref="doc",
            amount_minor=1,
            currency="CNY",
        ),
        ManualEvidence(
            evidence_id="H1",
            kind=ManualEvidenceKind.DUAL_QUALIFIED_TEACHERS,
            occurred_on=date(2025, 2, 1),
            recorded_by="sup",
            document_ref="doc",
            dual_qualified_teachers=1,
            cooperation_teachers=10,
        ),
        ManualEvidence(
            evidence_id="H2",
            kind=ManualEvidenceKind.DUAL_QUALIFIED_TEACHERS,
            occurred_on=date(2025, 9, 1),
            recorded_by="sup",
            document_ref="doc",
            dual_qualified_teachers=6,
            cooperation_teachers=10,
        ),
        ManualEvidence(
            evidence_id="K1",
            kind=ManualEvidenceKind.MODE_CARRIED_OUT,
            occurred_on=date(2025, 9, 1),
            recorded_by="sup",
            document_ref="doc",
            mode=CooperationMode.JOINT_RD_CENTRE,
        ),
    ]
    summary = aggregate([], manual)
    assert value(summary, Measure.ENTERPRISE_INVESTMENT) == 150_000
    assert value(summary, Measure.DUAL_QUALIFIED_TEACHER_RATE) == 60
    assert summary.modes_carried_out == {CooperationMode.JOINT_RD_CENTRE}


def test_modes_and_active_months() -> None:
    reports: list[CollegeReport] = [
        placed("S1", on=date(2025, 1, 5)),
        placed("S2", on=date(2025, 1, 20)),
        survey("student", 3, 300),
    ]
    summary = aggregate(reports)
    assert summary.modes_carried_out == {CooperationMode.INTERNSHIP_BASE}
    assert value(summary, Measure.MODES_CARRIED_OUT_RATE) == Fraction(100, 3)
    # January and March of twelve months.
    assert value(summary, Measure.ACTIVE_MONTHS_RATE) == Fraction(200, 12)


def test_reports_outside_the_window_are_ignored() -> None:
    summary = aggregate([placed("S1", on=date(2024, 12, 31)), placed("S2", on=date(2026, 1, 1))])
    assert summary.college_report_count == 0
    assert value(summary, Measure.INTERNSHIP_PLACEMENTS) is None


def test_window_months() -> None:
    window = EvidenceWindow(start=date(2024, 11, 15), end=date(2025, 2, 1))
    assert window.months() == ((2024, 11), (2024, 12), (2025, 1), (2025, 2))


# --- order and duplicate independence -------------------------------------------------

students = st.sampled_from([f"S{i}" for i in range(6)])
days = st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 12, 31))


def _id(n: int) -> str:
    return f"R{n}"


report_strategy = st.one_of(
    st.builds(lambda s, n, d: placed(s, report_id=_id(n), on=d), students, st.integers(0, 30), days),
    st.builds(
        lambda s, n, m, e, p, d: completed(s, months=m, early=e, probation=p and e, report_id=_id(n), on=d),
        students,
        st.integers(0, 30),
        st.integers(0, 12),
        st.booleans(),
        st.booleans(),
        days,
    ),
    st.builds(
        lambda n, r, h: survey("employer" if n % 2 else "student", r, h, report_id=_id(n)),
        st.integers(0, 30),
        st.integers(1, 50),
        st.integers(100, 400),
    ),
    st.builds(
        lambda s, n, e, p, m: graduate(s, employed=e, partner=p and e, months=m, report_id=_id(n)),
        students,
        st.integers(0, 30),
        st.booleans(),
        st.booleans(),
        st.integers(0, 12),
    ),
)


def figures(summary: EvidenceSummary) -> dict[str, object]:
    return {
        "values": {m: (x.value, x.numerator, x.denominator, x.how) for m, x in summary.measurements.items()},
        "modes": summary.modes_carried_out,
        "activity": summary.activity_dates,
        "count": summary.college_report_count,
    }


@settings(max_examples=150, deadline=None)
@given(reports=st.lists(report_strategy, max_size=25), data=st.data())
def test_aggregation_ignores_order_and_duplicates(reports: list[CollegeReport], data: st.DataObject) -> None:
    baseline = figures(aggregate(reports))
    duplicated = reports + data.draw(st.lists(st.sampled_from(reports), max_size=10) if reports else st.just([]))
    shuffled = data.draw(st.permutations(duplicated))
    assert figures(aggregate(list(shuffled))) == baseline
