"""Evidence: the window, manual evidence, and the figures computed from an agreement's records.

The figures are computed by ``computation.aggregate_evidence`` from the definitions in
the framework (``computation.py``); it is pure and deterministic. The same report delivered twice
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from alliance_shared.contract.base import CurrencyCode, MinorUnits
from alliance_shared.contract.college import (
    CollegeReport,
    CourseCodeveloped,
    EngineerTeachingReported,
    GraduateEmployed,
    InternshipCompleted,
    InternshipPlaced,
    OrderClassEnrolled,
    RdOutputReported,
    StudentCertified,
    TeacherPracticeCompleted,
)
from alliance_shared.contract.vocabulary import CooperationMode

#: A calendar day; an ISO string in documents (BSON has no date-only type).
IsoDate = Annotated[date, PlainSerializer(lambda d: d.isoformat(), return_type=str)]

HUNDRED = Fraction(100)


class Measure(StrEnum):
    """The names of the shipped framework's measured figures (``default_framework.py``
    defines how each is computed); a new framework version may name others."""

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
    measurements: Mapping[str, Measurement]
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
