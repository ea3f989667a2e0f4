"""Words every bounded context shares: partner kinds, cooperation modes, obligation
metrics, grades. Agreement obligations (registry) are evaluation targets (evaluation),
so their metric codes live here, once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

#: Why a person took a decision: required text, bounded.
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class PartnerKind(StrEnum):
    COLLEGE = "college"
    ENTERPRISE = "enterprise"
    INDUSTRY_ASSOCIATION = "industry_association"
    GOVERNMENT_AGENCY = "government_agency"
    RESEARCH_INSTITUTE = "research_institute"


class CooperationMode(StrEnum):
    ORDER_CLASS = "order_class"
    INTERNSHIP_BASE = "internship_base"
    WORK_STUDY_ALTERNATION = "work_study_alternation"
    MODERN_APPRENTICESHIP = "modern_apprenticeship"
    JOINT_RD_CENTRE = "joint_rd_centre"
    INDUSTRY_COLLEGE = "industry_college"
    JOINT_LAB_OR_TRAINING_BASE = "joint_lab_or_training_base"
    TEACHER_EXCHANGE = "teacher_exchange"
    ONE_PLUS_X_PILOT = "one_plus_x_pilot"
    CURRICULUM_CODEVELOPMENT = "curriculum_codevelopment"
    EMPLOYMENT_RECOMMENDATION = "employment_recommendation"


class Depth(StrEnum):
    SHALLOW = "shallow"
    MIDDLE = "middle"
    DEEP = "deep"


class ObligationMetric(StrEnum):
    """Measurable commitments a party makes in an agreement; evaluation targets."""

    INTERNSHIP_POSTS = "internship_posts"  # posts per year (TT-01)
    HOSTED_STUDENTS = "hosted_students"  # students hosted >= 3 months (TT-02)
    ORDER_CLASS_STUDENTS = "order_class_students"  # (TT-03)
    ENGINEER_TEACHING_HOURS = "engineer_teaching_hours"  # (TS-01)
    TEACHER_PRACTICE_PERSONS = "teacher_practice_persons"  # (TS-02)
    RD_REVENUE_FEN = "rd_revenue_fen"  # technical-service revenue (RD-02)
    COURSES_CODEVELOPED = "courses_codeveloped"  # (RD-03)
    INVESTMENT_FEN = "investment_fen"  # enterprise investment pledge (RI-01)


class ObligationPeriod(StrEnum):
    PER_YEAR = "per_year"
    PER_TERM = "per_term"
    TOTAL = "total"


class Grade(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    PASS = "pass"  # noqa: S105 - a grade, not a password
    FAIL = "fail"


GRADE_ORDER: dict[Grade, int] = {Grade.FAIL: 0, Grade.PASS: 1, Grade.GOOD: 2, Grade.EXCELLENT: 3}


class RiskBand(StrEnum):
    ON_TRACK = "on_track"
    NEEDS_IMPROVEMENT = "needs_improvement"
    AT_RISK = "at_risk"
    NO_EVIDENCE = "no_evidence"


class CycleKind(StrEnum):
    MID_TERM = "mid_term"
    ANNUAL = "annual"
    FINAL_ACCEPTANCE = "final_acceptance"


class Role(StrEnum):
    REGISTRY_ADMIN = "registry_admin"
    FUNDING_OFFICER = "funding_officer"
    FUNDING_APPROVER = "funding_approver"
    SUPERVISOR = "supervisor"
    EVALUATOR = "evaluator"
    COLLEGE = "college"
    ENTERPRISE = "enterprise"
    AUDITOR = "auditor"
    OPS = "ops"
    #: Staff of a granting agency partner (a bank, a land or tax bureau): records incentives.
    AGENCY_STAFF = "agency_staff"
