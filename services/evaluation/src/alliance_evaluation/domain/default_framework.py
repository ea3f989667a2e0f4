"""The default indicator framework (19 indicators), tabled in docs/evaluation.md ("The
default indicators"); its thresholds are the alliance's starting values, modelled on
public frameworks (the UK apprenticeship accountability framework, the EU EQAVET
indicators, the Chinese higher-vocational annual quality report). Choices made here, all
configuration:

Weights (basis points, 10 000 in all), by dimension: talent training 4000 — the
purpose of the cooperation; teaching staff 1500; R&D and social service 1500;
resource investment 1000; satisfaction 1000; cooperation depth 1000. Inside a
dimension, the indicators that show the enterprise's own commitment (posts, hosted
students, employment, engineers' hours) weigh more than the supporting ones.

Targets: indicators measured against a commitment take it from the agreement's
obligations. Indicators judged on an absolute scale get a fixed "full
mark" target, so their score is still attainment: completion 90 %, 1 certificate per
student, employment or further study 95 %, employment in the partner or its sector
50 %, dual-qualified teachers 70 %, satisfaction 3.5 of 4, all declared modes carried
out, activity in every month. RD-01 has no target: one output is full marks, none
needs improvement, none in two consecutive results is at risk. TT-05 (early
termination) is lower-is-better and scored by its thresholds.
"""

from __future__ import annotations

from decimal import Decimal

from alliance_evaluation.domain.evidence import Measure
from alliance_evaluation.domain.framework import (
    Aggregation,
    Dimension,
    Direction,
    EvidenceSource,
    Framework,
    GradeBands,
    IndicatorDefinition,
    NoEvidencePolicy,
    absolute,
    of_target,
)
from alliance_shared.contract.vocabulary import ObligationMetric

DEFAULT_FRAMEWORK_ID = "default"

_TT = Dimension.TALENT_TRAINING
_TS = Dimension.TEACHING_STAFF
_RD = Dimension.RD_AND_SOCIAL_SERVICE
_REPORTS = EvidenceSource.COLLEGE_REPORTS


def _indicators() -> tuple[IndicatorDefinition, ...]:
    return (
        IndicatorDefinition(
            code="TT-01",
            dimension=_TT,
            name_zh="企业提供实习岗位数达成率",
            name_en="internship posts provided vs. commitment",
            unit="posts",
            source=_REPORTS,
            measure=Measure.INTERNSHIP_PLACEMENTS,
            aggregation=Aggregation.COUNT,
            target_obligation=ObligationMetric.INTERNSHIP_POSTS,
            weight_bp=600,
            needs_improvement=of_target(8000),
            at_risk=of_target(5000),
        ),
        IndicatorDefinition(
            code="TT-02",
            dimension=_TT,
            name_zh="接收学生实习3个月以上人数",
            name_en="students hosted for 3 months or more",
            unit="persons",
            source=_REPORTS,
            measure=Measure.STUDENTS_HOSTED_3_MONTHS,
            aggregation=Aggregation.COUNT,
            target_obligation=ObligationMetric.HOSTED_STUDENTS,
            weight_bp=600,
            needs_improvement=of_target(8000),
            at_risk=of_target(5000),
        ),
        IndicatorDefinition(
            code="TT-03",
            dimension=_TT,
            name_zh="订单班/共建专业在读学生数",
            name_en="order-class or co-built-major students enrolled",
            unit="persons",
            source=_REPORTS,
            measure=Measure.ORDER_CLASS_STUDENTS,
            aggregation=Aggregation.COUNT,
            target_obligation=ObligationMetric.ORDER_CLASS_STUDENTS,
            weight_bp=400,
            needs_improvement=of_target(8000),
            at_risk=of_target(5000),
        ),
        IndicatorDefinition(
            code="TT-04",
            dimension=_TT,
            name_zh="实习/学徒完成率",
            name_en="completion rate of placements and apprenticeships",
            unit="%",
            source=_REPORTS,
            measure=Measure.PLACEMENT_COMPLETION_RATE,
            aggregation=Aggregation.RATE,
            target_fixed=Decimal(90),
            weight_bp=500,
            needs_improvement=absolute(60),
            at_risk=absolute(50),
        ),
        IndicatorDefinition(
            code="TT-05",
            dimension=_TT,
            name_zh="提前终止率（不含试用期）",
            name_en="early-termination rate (excluding probation)",
            unit="%",
            source=_REPORTS,
            measure=Measure.EARLY_TERMINATION_RATE,
            aggregation=Aggregation.RATE,
            direction=Direction.LOWER_IS_BETTER,
            weight_bp=400,
            needs_improvement=absolute(15),
            at_risk=absolute(20),
        ),
        IndicatorDefinition(
            code="TT-06",
            dimension=_TT,
            name_zh="参与学生人均获得1+X/职业技能证书数",
            name_en="1+X or vocational skill certificates per participating student",
            unit="certificates per student",
            source=_REPORTS,
            measure=Measure.CERTIFICATES_PER_STUDENT,
            aggregation=Aggregation.RATE,
            target_fixed=Decimal(1),
            weight_bp=400,
            needs_improvement=absolute("0.5"),
            at_risk=absolute("0.2"),
        ),
        IndicatorDefinition(
            code="TT-07",
            dimension=_TT,
            name_zh="毕业6个月就业或升学率",
            name_en="employment or further study 6 months after graduation",
            unit="% of participants",
            source=_REPORTS,
            measure=Measure.EMPLOYMENT_OR_STUDY_RATE,
            aggregation=Aggregation.RATE,
            target_fixed=Decimal(95),
            weight_bp=600,
            needs_improvement=absolute(85),
            at_risk=absolute(70),
        ),
        IndicatorDefinition(
            code="TT-08",
            dimension=_TT,
            name_zh="在合作企业或其行业就业比例",
            name_en="employed in the partner enterprise or its sector",
            unit="% of employed",
            source=_REPORTS,
            measure=Measure.EMPLOYED_IN_PARTNER_RATE,
            aggregation=Aggregation.RATE,
            target_fixed=Decimal(50),
            weight_bp=500,
            needs_improvement=absolute(30),
            at_risk=absolute(15),
        ),
        IndicatorDefinition(
            code="TS-01",
            dimension=_TS,
            name_zh="企业工程师授课学时达成率",
            name_en="enterprise engineers' teaching hours vs. commitment",
            unit="hours",
            source=_REPORTS,
            measure=Measure.ENGINEER_TEACHING_HOURS,
            aggregation=Aggregation.SUM,
            target_obligation=ObligationMetric.ENGINEER_TEACHING_HOURS,
            weight_bp=600,
            needs_improvement=of_target(8000),
            at_risk=of_target(5000),
        ),
        IndicatorDefinition(
            code="TS-02",
            dimension=_TS,
            name_zh="完成企业实践的教师人数",
            name_en="college teachers completing enterprise practice",
            unit="persons",
            source=_REPORTS,
            measure=Measure.TEACHER_PRACTICE_PERSONS,
            aggregation=Aggregation.COUNT,
            target_obligation=ObligationMetric.TEACHER_PRACTICE_PERSONS,
            weight_bp=500,
            needs_improvement=of_target(8000),
            at_risk=of_target(5000),
        ),
        IndicatorDefinition(
            code="TS-03",
            dimension=_TS,
            name_zh="合作教师中“双师型”教师比例",
            name_en="dual-qualified teachers among the cooperation's teachers",
            unit="%",
            source=EvidenceSource.MANUAL,
            measure=Measure.DUAL_QUALIFIED_TEACHER_RATE,
            aggregation=Aggregation.RATE,
            target_fixed=Decimal(70),
            weight_bp=400,
            needs_improvement=absolute(50),
            at_risk=absolute(30),
        ),
        IndicatorDefinition(
            code="RD-01",
            dimension=_RD,
            name_zh="联合研发成果数",
            name_en="joint R&D outputs (patents, standards, software copyrights, technology transfers)",
            unit="outputs",
            source=_REPORTS,
            measure=Measure.RD_OUTPUTS,
            aggregation=Aggregation.COUNT,
            weight_bp=500,
            needs_improvement=absolute(1),
            at_risk=absolute(0),
            at_risk_when_repeated=True,
        ),
        IndicatorDefinition(
            code="RD-02",
            dimension=_RD,
            name_zh="来自合作企业的技术服务收入",
            name_en="technical-service revenue from the partner enterprise",
            unit="fen",
            source=_REPORTS,
            measure=Measure.RD_REVENUE,
            aggregation=Aggregation.SUM,
            target_obligation=ObligationMetric.RD_REVENUE_FEN,
            weight_bp=500,
            needs_improvement=of_target(8000),
            at_risk=of_target(5000),
        ),
        IndicatorDefinition(
            code="RD-03",
            dimension=_RD,
            name_zh="共同开发课程或教材数",
            name_en="courses or textbooks co-developed",
            unit="courses",
            source=_REPORTS,
            measure=Measure.COURSES_CODEVELOPED,
            aggregation=Aggregation.COUNT,
            target_obligation=ObligationMetric.COURSES_CODEVELOPED,
            weight_bp=500,
            needs_improvement=of_target(10000),
            at_risk=absolute(1),
        ),
        IndicatorDefinition(
            code="RI-01",
            dimension=Dimension.RESOURCE_INVESTMENT,
            name_zh="企业累计投入（设备、实训基地、资金）",
            name_en="enterprise investment (equipment, training base, funds), cumulative",
            unit="fen",
            source=EvidenceSource.MANUAL,
            measure=Measure.ENTERPRISE_INVESTMENT,
            aggregation=Aggregation.SUM,
            target_obligation=ObligationMetric.INVESTMENT_FEN,
            weight_bp=1000,
            needs_improvement=of_target(8000),
            at_risk=of_target(5000),
        ),
        IndicatorDefinition(
            code="SA-01",
            dimension=Dimension.SATISFACTION,
            name_zh="用人单位满意度",
            name_en="employer satisfaction",
            unit="mean on a 1–4 scale",
            source=EvidenceSource.SURVEY,
            measure=Measure.EMPLOYER_SATISFACTION,
            aggregation=Aggregation.MEAN,
            target_fixed=Decimal("3.5"),
            weight_bp=500,
            needs_improvement=absolute("2.5"),
            at_risk=absolute("2.0"),
        ),
        IndicatorDefinition(
            code="SA-02",
            dimension=Dimension.SATISFACTION,
            name_zh="学生满意度",
            name_en="student satisfaction",
            unit="mean on a 1–4 scale",
            source=EvidenceSource.SURVEY,
            measure=Measure.STUDENT_SATISFACTION,
            aggregation=Aggregation.MEAN,
            target_fixed=Decimal("3.5"),
            weight_bp=500,
            needs_improvement=absolute("2.5"),
            at_risk=absolute("2.0"),
        ),
        IndicatorDefinition(
            code="CD-01",
            dimension=Dimension.COOPERATION_DEPTH,
            name_zh="实际开展的合作模式占约定模式比例",
            name_en="modes actually carried out vs. modes declared",
            unit="%",
            source=EvidenceSource.DERIVED,
            measure=Measure.MODES_CARRIED_OUT_RATE,
            aggregation=Aggregation.RATE,
            target_fixed=Decimal(100),
            weight_bp=500,
            needs_improvement=absolute(70),
            at_risk=absolute(40),
        ),
        IndicatorDefinition(
            code="CD-02",
            dimension=Dimension.COOPERATION_DEPTH,
            name_zh="评价期内有活动记录的月份比例",
            name_en="months in the window with any recorded activity",
            unit="% of months",
            source=EvidenceSource.DERIVED,
            measure=Measure.ACTIVE_MONTHS_RATE,
            aggregation=Aggregation.RATE,
            target_fixed=Decimal(100),
            weight_bp=500,
            needs_improvement=absolute(60),
            at_risk=absolute(30),
        ),
    )


def default_framework(version: int = 1) -> Framework:
    """A draft of the default framework; publish it to use it in a cycle."""
    return Framework(
        framework_id=DEFAULT_FRAMEWORK_ID,
        version=version,
        name="Default school-enterprise cooperation indicators",
        no_evidence_policy=NoEvidencePolicy.EXCLUDE_AND_REWEIGHT,
        grade_bands=GradeBands(),
        indicators=_indicators(),
    )
