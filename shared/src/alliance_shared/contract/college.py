"""Inbound college reports: the contract college information systems publish to.

Each college writes these to its own topic ``alliance.college.<college id>.reports``
(``topics.college_reports_topic``), signed in as its own Kafka principal
``college-<college id>``, as CloudEvents in Kafka binary mode: ``ce_type`` is the model's
``event_type``, ``ce_subject`` and the record key are the ``agreement_id``, ``ce_source``
names the college system, the record value is the JSON payload below. The evaluation
service turns them into evidence.

The broker lets only the college's principal write its topic, so a report is attributed
to the college the topic names: a report whose ``college_id`` (or ``ce_source``, when it
names a college) is another college's is rejected as ``report.college_mismatch``.

Rules every report follows:

- ``report_id`` is the college's own id of the fact. Sending the same report twice is
  harmless: it counts once.
- People appear only by pseudonymous references (``student_ref``, ``teacher_ref``,
  ``engineer_ref``): letters, digits, ``_`` and ``-``, at most 64 characters. Never put
  names, ID-card or phone numbers in them.
- Unknown fields are rejected, strings have maximum lengths, counts are bounded, and
  no field carries a float: money is integer minor units (fen for CNY) and survey
  scores are hundredths on the 1–4 scale (2.75 is sent as 275).
- A rejected report is answered on ``alliance.evaluation.events`` with
  ``org.coopalliance.evaluation.college_report.rejected.v1`` naming the original event
  id, the ``report_id`` when it could be read, a reason code and a detail.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from alliance_shared.contract.base import CurrencyCode, EventPayload, MinorUnits

#: The college's own id of a report; also the dedupe key together with ``college_id``.
ReportId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]+$")]
#: A platform partner or agreement id as issued by the registry.
PlatformId = Annotated[str, Field(min_length=1, max_length=100)]
#: A pseudonymous reference to a person: no spaces, so no names slip in.
PersonRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
#: A short human-readable label (post, course, class, title).
Label = Annotated[str, Field(min_length=1, max_length=200)]


class CollegeReport(EventPayload):
    """Fields every college report carries."""

    aggregate_field: ClassVar[str] = "agreement_id"

    report_id: ReportId = Field(description="the college's own id of this report")
    agreement_id: PlatformId = Field(description="the cooperation agreement the fact belongs to")
    college_id: PlatformId = Field(description="the reporting college's partner id")
    occurred_on: date = Field(description="the day the fact happened (the college's calendar)")


class InternshipPlaced(CollegeReport):
    """A student started an internship placement in an enterprise."""

    event_type: ClassVar[str] = "org.coopalliance.college.internship.placed.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "PL-2025-0001",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-03-03",
                    "student_ref": "S9F2K1",
                    "enterprise_id": "ent-042",
                    "post": "CNC machining assistant",
                    "start_date": "2025-03-03",
                    "planned_months": 6,
                }
            ]
        }
    )

    student_ref: PersonRef
    enterprise_id: PlatformId = Field(description="the host enterprise's partner id")
    post: Label
    start_date: date
    planned_months: int = Field(strict=True, ge=1, le=36)


class InternshipOutcome(StrEnum):
    COMPLETED = "completed"
    TERMINATED_EARLY = "terminated_early"


class TerminationReason(StrEnum):
    STUDENT_CHOICE = "student_choice"
    ENTERPRISE_CHOICE = "enterprise_choice"
    HEALTH = "health"
    SAFETY = "safety"
    MISCONDUCT = "misconduct"
    OTHER = "other"


class InternshipCompleted(CollegeReport):
    """A placement ended: completed as planned, or terminated early with a reason.

    ``within_probation`` marks an early termination inside the agreed probation period;
    those do not count against the enterprise's early-termination rate.
    """

    event_type: ClassVar[str] = "org.coopalliance.college.internship.completed.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "PC-2025-0001",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-09-01",
                    "student_ref": "S9F2K1",
                    "enterprise_id": "ent-042",
                    "months_completed": 6,
                    "outcome": "completed",
                },
                {
                    "report_id": "PC-2025-0002",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-04-20",
                    "student_ref": "S1B7Q3",
                    "enterprise_id": "ent-042",
                    "months_completed": 1,
                    "outcome": "terminated_early",
                    "termination_reason": "student_choice",
                    "within_probation": True,
                },
            ]
        }
    )

    student_ref: PersonRef
    enterprise_id: PlatformId
    months_completed: int = Field(strict=True, ge=0, le=60)
    outcome: InternshipOutcome
    termination_reason: TerminationReason | None = Field(
        default=None, description="required when the outcome is terminated_early"
    )
    within_probation: bool = False

    @model_validator(mode="after")
    def _reason_matches_outcome(self) -> Self:
        if self.outcome is InternshipOutcome.TERMINATED_EARLY:
            if self.termination_reason is None:
                raise ValueError("an early termination needs a termination_reason")
        elif self.termination_reason is not None or self.within_probation:
            raise ValueError("a completed placement has no termination_reason and no within_probation")
        return self


class OrderClassEnrolled(CollegeReport):
    """A student enrolled in an order class or a co-built major with the enterprise."""

    event_type: ClassVar[str] = "org.coopalliance.college.order_class.enrolled.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "OC-2025-0101",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-09-10",
                    "student_ref": "S4H8M2",
                    "class_name": "Smart manufacturing order class 2025",
                    "major_code": "460103",
                }
            ]
        }
    )

    student_ref: PersonRef
    class_name: Label
    major_code: str = Field(pattern=r"^[0-9A-Z]{4,12}$", description="the national major code")


class CertificateKind(StrEnum):
    ONE_PLUS_X = "one_plus_x"  # a "1+X" vocational skill level certificate
    VOCATIONAL_SKILL = "vocational_skill"


class CertificateLevel(StrEnum):
    ELEMENTARY = "elementary"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    TECHNICIAN = "technician"
    SENIOR_TECHNICIAN = "senior_technician"


class StudentCertified(CollegeReport):
    """A participating student obtained a 1+X or vocational skill certificate."""

    event_type: ClassVar[str] = "org.coopalliance.college.student.certified.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "CE-2025-0033",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-06-30",
                    "student_ref": "S9F2K1",
                    "certificate_kind": "one_plus_x",
                    "certificate_code": "1X-IM-0417",
                    "level": "intermediate",
                }
            ]
        }
    )

    student_ref: PersonRef
    certificate_kind: CertificateKind
    certificate_code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.+-]+$")
    level: CertificateLevel


class GraduateEmployed(CollegeReport):
    """Where a participating graduate is, some months after graduation.

    Report every participating graduate, also those not (yet) employed
    (``employed`` false and ``further_study`` false): the employment rate is computed
    over all reported graduates. The latest report per ``student_ref`` counts.
    """

    event_type: ClassVar[str] = "org.coopalliance.college.graduate.employed.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "GE-2026-0007",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2026-01-05",
                    "student_ref": "S9F2K1",
                    "employed": True,
                    "employer_name": "Huaxin Precision Machinery Co., Ltd.",
                    "employer_partner_id": "ent-042",
                    "post": "CNC operator",
                    "in_partner_enterprise": True,
                    "in_partner_sector": True,
                    "further_study": False,
                    "months_after_graduation": 6,
                }
            ]
        }
    )

    student_ref: PersonRef
    employed: bool = True
    employer_name: Label | None = Field(default=None, description="required when employed")
    employer_partner_id: PlatformId | None = Field(
        default=None, description="the employer's partner id when it is an alliance partner"
    )
    post: Label | None = Field(default=None, description="required when employed")
    in_partner_enterprise: bool = False
    in_partner_sector: bool = False
    further_study: bool = False
    months_after_graduation: int = Field(strict=True, ge=0, le=60)

    @model_validator(mode="after")
    def _employment_is_consistent(self) -> Self:
        if self.employed:
            if self.employer_name is None or self.post is None:
                raise ValueError("an employed graduate needs employer_name and post")
        elif (
            self.employer_name is not None
            or self.employer_partner_id is not None
            or self.post is not None
            or self.in_partner_enterprise
            or self.in_partner_sector
        ):
            raise ValueError("a graduate who is not employed has no employer, post or partner flags")
        return self


class TeacherPracticeCompleted(CollegeReport):
    """A college teacher completed a practice period in the enterprise."""

    event_type: ClassVar[str] = "org.coopalliance.college.teacher_practice.completed.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "TP-2025-0012",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-08-29",
                    "teacher_ref": "T0042",
                    "enterprise_id": "ent-042",
                    "days": 30,
                }
            ]
        }
    )

    teacher_ref: PersonRef
    enterprise_id: PlatformId
    days: int = Field(strict=True, ge=1, le=366)


class EngineerTeachingReported(CollegeReport):
    """Hours an enterprise engineer taught at the college (one report per course and term)."""

    event_type: ClassVar[str] = "org.coopalliance.college.engineer_teaching.reported.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "ET-2025-0005",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-07-10",
                    "engineer_ref": "E0007",
                    "enterprise_id": "ent-042",
                    "course": "Industrial robot maintenance",
                    "hours": 48,
                }
            ]
        }
    )

    engineer_ref: PersonRef
    enterprise_id: PlatformId
    course: Label
    hours: int = Field(strict=True, ge=1, le=2000)


class CodevelopedKind(StrEnum):
    COURSE = "course"
    TEXTBOOK = "textbook"


class CourseCodeveloped(CollegeReport):
    """A course or textbook co-developed with the enterprise was finished."""

    event_type: ClassVar[str] = "org.coopalliance.college.course.codeveloped.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "CD-2025-0002",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-12-15",
                    "title": "PLC programming in practice",
                    "kind": "textbook",
                }
            ]
        }
    )

    title: Label
    kind: CodevelopedKind


class RdOutputKind(StrEnum):
    PATENT = "patent"
    STANDARD = "standard"
    SOFTWARE_COPYRIGHT = "software_copyright"
    TECHNOLOGY_TRANSFER = "technology_transfer"


class RdOutputReported(CollegeReport):
    """A joint R&D output, with any technical-service revenue it brought from the enterprise."""

    event_type: ClassVar[str] = "org.coopalliance.college.rd_output.reported.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "RD-2025-0003",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-11-02",
                    "kind": "technology_transfer",
                    "title": "Adaptive spindle cooling control",
                    "revenue_minor": 12000000,
                    "currency": "CNY",
                }
            ]
        }
    )

    kind: RdOutputKind
    title: Label
    revenue_minor: MinorUnits = Field(default=0, description="revenue in minor units (fen for CNY)")
    currency: CurrencyCode = "CNY"


class RespondentKind(StrEnum):
    STUDENT = "student"
    EMPLOYER = "employer"


class SurveySubmitted(CollegeReport):
    """The summary of a satisfaction survey of students or employers.

    ``mean_score_hundredths`` is the mean answer on the 1–4 scale in hundredths
    (1.00 → 100, 4.00 → 400), so no float travels on the wire.
    """

    event_type: ClassVar[str] = "org.coopalliance.college.survey.submitted.v1"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "report_id": "SV-2025-EMP-01",
                    "agreement_id": "agr-7f3c",
                    "college_id": "col-001",
                    "occurred_on": "2025-12-20",
                    "respondent_kind": "employer",
                    "respondents": 12,
                    "mean_score_hundredths": 325,
                }
            ]
        }
    )

    respondent_kind: RespondentKind
    respondents: int = Field(strict=True, ge=1, le=100_000)
    mean_score_hundredths: int = Field(strict=True, ge=100, le=400)


COLLEGE_REPORTS: tuple[type[EventPayload], ...] = (
    InternshipPlaced,
    InternshipCompleted,
    OrderClassEnrolled,
    StudentCertified,
    GraduateEmployed,
    TeacherPracticeCompleted,
    EngineerTeachingReported,
    CourseCodeveloped,
    RdOutputReported,
    SurveySubmitted,
)
