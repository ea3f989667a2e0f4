"""Evidence aggregation: from an agreement's college reports and manual evidence to figures.

``aggregate_evidence`` is pure and deterministic. The same report delivered twice
counts once (key: college id + report id), and the figures do not depend on the order
the records arrive in. Every figure says how it was reached, and a figure that cannot
be computed is ``None`` with the reason — "no evidence", never a silent zero.

When is a zero a zero? Counts and sums from college reports are real zeros when the
college reported anything at all for the agreement in the window (it reports, and
reported no placements); when it reported nothing at all, a zero cannot be told from a
missing report, so they are "no evidence". Rates with nobody to divide by, surveys
never run and manual evidence never recorded are "no evidence" too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from alliance_shared.contract.base import CurrencyCode, MinorUnits
from alliance_shared.contract.college import (
    CertificateKind,
    CollegeReport,
    CourseCodeveloped,
    EngineerTeachingReported,
    GraduateEmployed,
    InternshipCompleted,
    InternshipOutcome,
    InternshipPlaced,
    OrderClassEnrolled,
    RdOutputReported,
    RespondentKind,
    StudentCertified,
    SurveySubmitted,
    TeacherPracticeCompleted,
)
from alliance_shared.contract.vocabulary import CooperationMode

#: A calendar day; an ISO string in documents (BSON has no date-only type).
IsoDate = Annotated[date, PlainSerializer(lambda d: d.isoformat(), return_type=str)]

HUNDRED = Fraction(100)


class Measure(StrEnum):
    """What the aggregation computes; framework indicators point at one of these."""

    INTERNSHIP_PLACEMENTS = "internship_placements"  # TT-01
    STUDENTS_HOSTED_3_MONTHS = "students_hosted_3_months"  # TT-02
    ORDER_CLASS_STUDENTS = "order_class_students"  # TT-03
    PLACEMENT_COMPLETION_RATE = "placement_completion_rate"  # TT-04
    EARLY_TERMINATION_RATE = "early_termination_rate"  # TT-05
    CERTIFICATES_PER_STUDENT = "certificates_per_student"  # TT-06
    EMPLOYMENT_OR_STUDY_RATE = "employment_or_study_rate"  # TT-07
    EMPLOYED_IN_PARTNER_RATE = "employed_in_partner_rate"  # TT-08
    ENGINEER_TEACHING_HOURS = "engineer_teaching_hours"  # TS-01
    TEACHER_PRACTICE_PERSONS = "teacher_practice_persons"  # TS-02
    DUAL_QUALIFIED_TEACHER_RATE = "dual_qualified_teacher_rate"  # TS-03
    RD_OUTPUTS = "rd_outputs"  # RD-01
    RD_REVENUE = "rd_revenue"  # RD-02
    COURSES_CODEVELOPED = "courses_codeveloped"  # RD-03
    ENTERPRISE_INVESTMENT = "enterprise_investment"  # RI-01
    EMPLOYER_SATISFACTION = "employer_satisfaction"  # SA-01
    STUDENT_SATISFACTION = "student_satisfaction"  # SA-02
    MODES_CARRIED_OUT_RATE = "modes_carried_out_rate"  # CD-01
    ACTIVE_MONTHS_RATE = "active_months_rate"  # CD-02


class EvidenceWindow(BaseModel):
    """The days whose evidence a cycle looks at, both ends included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: IsoDate
    end: IsoDate

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("an evidence window ends on or after its start")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def months(self) -> tuple[tuple[int, int], ...]:
        """The calendar months (year, month) the window touches."""
        months: list[tuple[int, int]] = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            months.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return tuple(months)


class ManualEvidenceKind(StrEnum):
    ENTERPRISE_INVESTMENT = "enterprise_investment"  # RI-01: amount_minor
    DUAL_QUALIFIED_TEACHERS = "dual_qualified_teachers"  # TS-03: a headcount snapshot
    MODE_CARRIED_OUT = "mode_carried_out"  # a mode no college report shows (e.g. industry college)


class ManualEvidence(BaseModel):
    """Evidence a supervisor records by hand, with a reference to its supporting document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evidence_id: str = Field(min_length=1, max_length=100)
    kind: ManualEvidenceKind
    occurred_on: IsoDate
    recorded_by: str = Field(min_length=1, max_length=100)
    document_ref: str = Field(min_length=1, max_length=500)
    amount_minor: MinorUnits | None = None
    currency: CurrencyCode | None = None
    dual_qualified_teachers: int | None = Field(default=None, ge=0, le=100_000)
    cooperation_teachers: int | None = Field(default=None, ge=1, le=100_000)
    mode: CooperationMode | None = None

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        given = {
            name
            for name in ("amount_minor", "currency", "dual_qualified_teachers", "cooperation_teachers", "mode")
            if getattr(self, name) is not None
        }
        needed = {
            ManualEvidenceKind.ENTERPRISE_INVESTMENT: {"amount_minor", "currency"},
            ManualEvidenceKind.DUAL_QUALIFIED_TEACHERS: {"dual_qualified_teachers", "cooperation_teachers"},
            ManualEvidenceKind.MODE_CARRIED_OUT: {"mode"},
        }[self.kind]
        if given != needed:
            raise ValueError(f"{self.kind} evidence takes exactly the fields {sorted(needed)}")
        if (
            self.dual_qualified_teachers is not None
            and self.cooperation_teachers is not None
            and self.dual_qualified_teachers > self.cooperation_teachers
        ):
            raise ValueError("dual-qualified teachers cannot outnumber the cooperation's teachers")
        return self


@dataclass(frozen=True)
class Measurement:
    """One computed figure: ``value`` is None when there is no evidence; ``how`` says why
    or how it was computed, in words a supervisor can check against the records."""

    value: Fraction | None
    how: str
    numerator: Fraction = Fraction(0)
    denominator: int | None = None
    evidence_count: int = 0

    @property
    def has_evidence(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class EvidenceSummary:
    measurements: Mapping[Measure, Measurement]
    modes_carried_out: frozenset[CooperationMode]
    #: Teachers went to the enterprise and engineers taught at the college.
    two_way_teacher_exchange: bool
    activity_dates: tuple[date, ...]
    college_report_count: int


#: Which cooperation mode a kind of college report shows being carried out.
MODE_SHOWN_BY: Mapping[type[CollegeReport], CooperationMode] = {
    InternshipPlaced: CooperationMode.INTERNSHIP_BASE,
    InternshipCompleted: CooperationMode.INTERNSHIP_BASE,
    OrderClassEnrolled: CooperationMode.ORDER_CLASS,
    RdOutputReported: CooperationMode.JOINT_RD_CENTRE,
    TeacherPracticeCompleted: CooperationMode.TEACHER_EXCHANGE,
    EngineerTeachingReported: CooperationMode.TEACHER_EXCHANGE,
    StudentCertified: CooperationMode.ONE_PLUS_X_PILOT,
    CourseCodeveloped: CooperationMode.CURRICULUM_CODEVELOPMENT,
    GraduateEmployed: CooperationMode.EMPLOYMENT_RECOMMENDATION,
}

HOSTED_MONTHS_MINIMUM = 3

_R = TypeVar("_R", bound=CollegeReport)
_K = TypeVar("_K")


def fmt(value: Fraction) -> str:
    """A fraction as a decimal with at most two places, rounded half up."""
    hundredths = (value * 100 + Fraction(1, 2)).__floor__()
    whole, cents = divmod(hundredths, 100)
    return str(whole) if cents == 0 else f"{whole}.{cents:02d}".rstrip("0")


def dedupe_reports(reports: Iterable[CollegeReport]) -> tuple[CollegeReport, ...]:
    """One report per (college id, report id), in a canonical order.

    Should a college re-send a report id with different content, the pick is still
    independent of arrival order (the greatest by type and canonical JSON).
    """
    chosen: dict[tuple[str, str], tuple[tuple[str, str], CollegeReport]] = {}
    for report in reports:
        key = (report.college_id, report.report_id)
        rank = (report.event_type, report.model_dump_json())
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, report)
    return tuple(chosen[key][1] for key in sorted(chosen))


def dedupe_manual(evidence: Iterable[ManualEvidence]) -> tuple[ManualEvidence, ...]:
    chosen: dict[str, ManualEvidence] = {}
    for item in evidence:
        current = chosen.get(item.evidence_id)
        if current is None or item.model_dump_json() > current.model_dump_json():
            chosen[item.evidence_id] = item
    return tuple(chosen[key] for key in sorted(chosen))


def aggregate_evidence(
    reports: Iterable[CollegeReport],
    manual: Iterable[ManualEvidence],
    window: EvidenceWindow,
    declared_modes: Collection[CooperationMode],
    currency: str = "CNY",
) -> EvidenceSummary:
    """Figures for every ``Measure`` from one agreement's evidence.

    Reports and manual evidence outside the window are ignored, except enterprise
    investment, which is cumulative: every investment recorded up to the window's end
    counts. Money in another currency than ``currency`` is left out and said so.
    """
    in_window = tuple(r for r in dedupe_reports(reports) if r.occurred_on in window)
    manual_items = dedupe_manual(manual)
    manual_in_window = tuple(m for m in manual_items if m.occurred_on in window)
    figures = _ReportFigures(in_window, currency)

    modes = {MODE_SHOWN_BY[type(r)] for r in in_window if type(r) in MODE_SHOWN_BY}
    modes |= {m.mode for m in manual_in_window if m.mode is not None}
    two_way = bool(_of(in_window, TeacherPracticeCompleted)) and bool(_of(in_window, EngineerTeachingReported))
    activity = sorted({r.occurred_on for r in in_window} | {m.occurred_on for m in manual_in_window})

    measurements = figures.measurements()
    measurements[Measure.DUAL_QUALIFIED_TEACHER_RATE] = _dual_qualified_rate(manual_in_window)
    measurements[Measure.ENTERPRISE_INVESTMENT] = _investment(
        [m for m in manual_items if m.occurred_on <= window.end], currency
    )
    measurements[Measure.MODES_CARRIED_OUT_RATE] = _modes_rate(frozenset(modes), frozenset(declared_modes))
    measurements[Measure.ACTIVE_MONTHS_RATE] = _active_months(activity, window)
    return EvidenceSummary(
        measurements=measurements,
        modes_carried_out=frozenset(modes),
        two_way_teacher_exchange=two_way,
        activity_dates=tuple(activity),
        college_report_count=len(in_window),
    )


def _of(reports: Iterable[CollegeReport], kind: type[_R]) -> list[_R]:
    return [r for r in reports if isinstance(r, kind)]


def _latest_per(items: Iterable[_R], key: Callable[[_R], _K], rank: Callable[[_R], Any]) -> dict[_K, _R]:
    latest: dict[_K, _R] = {}
    for item in items:
        k = key(item)
        if k not in latest or rank(item) > rank(latest[k]):
            latest[k] = item
    return latest


def _rate(numerator: int, denominator: int, count: int, what: str, empty: str) -> Measurement:
    if denominator == 0:
        return Measurement(value=None, how=f"no evidence: {empty}", evidence_count=count)
    return Measurement(
        value=HUNDRED * numerator / denominator,
        how=f"{numerator} of {denominator} {what}",
        numerator=Fraction(numerator),
        denominator=denominator,
        evidence_count=count,
    )


class _ReportFigures:
    """The measures computed from college reports alone."""

    def __init__(self, reports: tuple[CollegeReport, ...], currency: str) -> None:
        self.reports = reports
        self.currency = currency
        self.placed = _of(reports, InternshipPlaced)
        self.completed = _of(reports, InternshipCompleted)
        self.enrolled = _of(reports, OrderClassEnrolled)
        self.certified = _of(reports, StudentCertified)
        self.graduates = _of(reports, GraduateEmployed)
        self.practice = _of(reports, TeacherPracticeCompleted)
        self.teaching = _of(reports, EngineerTeachingReported)
        self.courses = _of(reports, CourseCodeveloped)
        self.rd_outputs = _of(reports, RdOutputReported)
        self.surveys = _of(reports, SurveySubmitted)

    def measurements(self) -> dict[Measure, Measurement]:
        return dict(self._all())

    def _all(self) -> Iterator[tuple[Measure, Measurement]]:
        yield (
            Measure.INTERNSHIP_PLACEMENTS,
            self._count(len(self.placed), len(self.placed), "internship placements reported"),
        )
        hosted = {r.student_ref for r in self.completed if r.months_completed >= HOSTED_MONTHS_MINIMUM}
        yield (
            Measure.STUDENTS_HOSTED_3_MONTHS,
            self._count(
                len(hosted), len(self.completed), f"distinct students hosted for {HOSTED_MONTHS_MINIMUM}+ months"
            ),
        )
        enrolled = {r.student_ref for r in self.enrolled}
        yield (
            Measure.ORDER_CLASS_STUDENTS,
            self._count(len(enrolled), len(self.enrolled), "distinct students enrolled in order classes"),
        )
        yield from self._placement_outcomes()
        yield Measure.CERTIFICATES_PER_STUDENT, self._certificates()
        yield from self._destinations()
        hours = sum(r.hours for r in self.teaching)
        yield (
            Measure.ENGINEER_TEACHING_HOURS,
            self._count(hours, len(self.teaching), "hours taught by enterprise engineers"),
        )
        teachers = {r.teacher_ref for r in self.practice}
        yield (
            Measure.TEACHER_PRACTICE_PERSONS,
            self._count(len(teachers), len(self.practice), "distinct teachers who completed enterprise practice"),
        )
        yield Measure.RD_OUTPUTS, self._count(len(self.rd_outputs), len(self.rd_outputs), "joint R&D outputs reported")
        yield Measure.RD_REVENUE, self._revenue()
        yield (
            Measure.COURSES_CODEVELOPED,
            self._count(len(self.courses), len(self.courses), "courses or textbooks co-developed"),
        )
        yield Measure.EMPLOYER_SATISFACTION, self._satisfaction(RespondentKind.EMPLOYER)
        yield Measure.STUDENT_SATISFACTION, self._satisfaction(RespondentKind.STUDENT)

    def _count(self, value: int, count: int, what: str) -> Measurement:
        if not self.reports:
            return Measurement(
                value=None,
                how="no evidence: the college sent no report at all for this agreement in the window",
            )
        return Measurement(
            value=Fraction(value), how=f"{value} {what}", numerator=Fraction(value), evidence_count=count
        )

    def _placement_outcomes(self) -> Iterator[tuple[Measure, Measurement]]:
        # A student's latest outcome report counts (a correction supersedes).
        outcomes = _latest_per(self.completed, key=lambda r: r.student_ref, rank=lambda r: (r.occurred_on, r.report_id))
        started = {r.student_ref for r in self.placed} | set(outcomes)
        finished = [o for o in outcomes.values() if o.outcome is InternshipOutcome.COMPLETED]
        count = len(self.placed) + len(self.completed)
        yield (
            Measure.PLACEMENT_COMPLETION_RATE,
            _rate(
                len(finished),
                len(started),
                count,
                "students who started a placement completed it",
                "no student started or finished a placement in the window",
            ),
        )
        counted = [o for o in outcomes.values() if not o.within_probation]
        terminated = [o for o in counted if o.outcome is InternshipOutcome.TERMINATED_EARLY]
        yield (
            Measure.EARLY_TERMINATION_RATE,
            _rate(
                len(terminated),
                len(counted),
                len(self.completed),
                "placements that ended were terminated early (terminations within probation excluded)",
                "no placement ended in the window outside a probation period",
            ),
        )

    def _certificates(self) -> Measurement:
        participants = (
            {r.student_ref for r in self.placed}
            | {r.student_ref for r in self.completed}
            | {r.student_ref for r in self.enrolled}
            | {r.student_ref for r in self.certified}
        )
        certificates = {(r.student_ref, r.certificate_code) for r in self.certified}
        if not participants:
            return Measurement(value=None, how="no evidence: no participating student was reported")
        one_plus_x = sum(1 for r in self.certified if r.certificate_kind is CertificateKind.ONE_PLUS_X)
        return Measurement(
            value=Fraction(len(certificates), len(participants)),
            how=(
                f"{len(certificates)} distinct certificates ({one_plus_x} reports of 1+X) "
                f"for {len(participants)} participating students"
            ),
            numerator=Fraction(len(certificates)),
            denominator=len(participants),
            evidence_count=len(self.certified),
        )

    def _destinations(self) -> Iterator[tuple[Measure, Measurement]]:
        # The latest destination reported per graduate counts.
        latest = _latest_per(
            self.graduates,
            key=lambda r: r.student_ref,
            rank=lambda r: (r.months_after_graduation, r.occurred_on, r.report_id),
        )
        placed_well = [g for g in latest.values() if g.employed or g.further_study]
        yield (
            Measure.EMPLOYMENT_OR_STUDY_RATE,
            _rate(
                len(placed_well),
                len(latest),
                len(self.graduates),
                "reported graduates employed or in further study",
                "no graduate destination was reported",
            ),
        )
        employed = [g for g in latest.values() if g.employed]
        in_partner = [g for g in employed if g.in_partner_enterprise or g.in_partner_sector]
        yield (
            Measure.EMPLOYED_IN_PARTNER_RATE,
            _rate(
                len(in_partner),
                len(employed),
                len(self.graduates),
                "employed graduates work in the partner enterprise or its sector",
                "no reported graduate is employed",
            ),
        )

    def _revenue(self) -> Measurement:
        counted = [r for r in self.rd_outputs if r.currency == self.currency]
        total = sum(r.revenue_minor for r in counted)
        other = len(self.rd_outputs) - len(counted)
        measurement = self._count(total, len(counted), f"{self.currency} minor units of revenue")
        if other and measurement.value is not None:
            how = f"{measurement.how}; {other} reports in another currency left out"
            return Measurement(measurement.value, how, measurement.numerator, None, measurement.evidence_count)
        return measurement

    def _satisfaction(self, kind: RespondentKind) -> Measurement:
        surveys = [s for s in self.surveys if s.respondent_kind is kind]
        respondents = sum(s.respondents for s in surveys)
        if respondents == 0:
            return Measurement(value=None, how=f"no evidence: no {kind} survey was submitted")
        weighted = sum(s.respondents * s.mean_score_hundredths for s in surveys)
        mean = Fraction(weighted, respondents * 100)
        return Measurement(
            value=mean,
            how=f"respondent-weighted mean {fmt(mean)} of {len(surveys)} {kind} surveys, {respondents} respondents",
            numerator=Fraction(weighted, 100),
            denominator=respondents,
            evidence_count=len(surveys),
        )


def _dual_qualified_rate(manual: Iterable[ManualEvidence]) -> Measurement:
    snapshots = [m for m in manual if m.kind is ManualEvidenceKind.DUAL_QUALIFIED_TEACHERS]
    if not snapshots:
        return Measurement(value=None, how="no evidence: no dual-qualified teacher count was recorded")
    # A headcount is a snapshot: the latest one is the state of the window.
    latest = max(snapshots, key=lambda m: (m.occurred_on, m.evidence_id))
    assert latest.dual_qualified_teachers is not None
    assert latest.cooperation_teachers is not None
    return _rate(
        latest.dual_qualified_teachers,
        latest.cooperation_teachers,
        len(snapshots),
        f"cooperation teachers are dual-qualified (snapshot of {latest.occurred_on.isoformat()})",
        "",
    )


def _investment(manual: Iterable[ManualEvidence], currency: str) -> Measurement:
    investments = [m for m in manual if m.kind is ManualEvidenceKind.ENTERPRISE_INVESTMENT]
    counted = [m for m in investments if m.currency == currency]
    if not investments:
        return Measurement(value=None, how="no evidence: no enterprise investment was recorded")
    total = sum(m.amount_minor or 0 for m in counted)
    how = f"{total} {currency} minor units invested in total, from {len(counted)} records"
    if len(counted) != len(investments):
        how += f"; {len(investments) - len(counted)} records in another currency left out"
    return Measurement(value=Fraction(total), how=how, numerator=Fraction(total), evidence_count=len(counted))


def _modes_rate(carried_out: frozenset[CooperationMode], declared: frozenset[CooperationMode]) -> Measurement:
    if not declared:
        return Measurement(value=None, how="no evidence: the agreement declares no cooperation mode")
    shown = sorted(declared & carried_out)
    missing = sorted(declared - carried_out)
    measurement = _rate(len(shown), len(declared), len(shown), "declared modes carried out", "")
    how = (
        f"{measurement.how} (carried out: {', '.join(shown) or 'none'}; "
        f"without evidence: {', '.join(missing) or 'none'})"
    )
    return Measurement(measurement.value, how, measurement.numerator, measurement.denominator, len(shown))


def _active_months(activity: Iterable[date], window: EvidenceWindow) -> Measurement:
    months = window.months()
    active = {(day.year, day.month) for day in activity} & set(months)
    return _rate(len(active), len(months), len(active), "months of the window had recorded activity", "")
