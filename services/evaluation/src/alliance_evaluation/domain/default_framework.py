"""The default indicator framework (19 measured indicators and 3 the panel scores), tabled in docs/evaluation.md ("The
default indicators"); its thresholds are the alliance's starting values, modelled on
public frameworks (the UK apprenticeship accountability framework, the EU EQAVET
indicators, the Chinese higher-vocational annual quality report). Choices made here, all
configuration:

Weights (basis points, 10 000 in all), by dimension: talent training 3500 — the
purpose of the cooperation; teaching staff 1300; R&D and social service 1300;
resource investment 800; satisfaction 800; cooperation depth 800; panel review 1500 —
what the evidence cannot show (is the cooperation any good, do the posts and bases
exist, do students gain), judged by the panel on a 0–100 scale (full marks at 100,
needs improvement below 75, at risk below 60). Inside a
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

Each measured indicator's figure is a ``Computation`` in the indicator definition
language (``computation.py``); there is no code per indicator.
"""

from __future__ import annotations

from decimal import Decimal

from alliance_evaluation.domain.computation import (
    CURRENCY,
    Aggregation,
    Computation,
    Condition,
    Fact,
    NoEvidenceWhen,
    Op,
    RecordKind,
    Scalar,
    Scope,
    Selection,
)
from alliance_evaluation.domain.evidence import HOSTED_MONTHS_MINIMUM, Measure
from alliance_evaluation.domain.framework import (
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
_PR = Dimension.PANEL_REVIEW
_REPORTS = EvidenceSource.COLLEGE_REPORTS
_K = RecordKind


def _cond(field: str, op: Op, value: Scalar = None) -> Condition:
    return Condition(field=field, op=op, value=value)


def _of(
    *kinds: RecordKind,
    scope: Scope = Scope.IN_WINDOW,
    latest_per: str | None = None,
    latest_by: tuple[str, ...] = ("occurred_on",),
    where: tuple[Condition, ...] = (),
    where_any: tuple[Condition, ...] = (),
) -> Selection:
    return Selection(
        kinds=kinds, scope=scope, latest_per=latest_per, latest_by=latest_by, where=where, where_any=where_any
    )


def _count(what: str, records: Selection | RecordKind) -> Computation:
    selection = records if isinstance(records, Selection) else _of(records)
    return Computation(aggregation=Aggregation.COUNT, what=what, records=selection)


def _distinct(what: str, fields: tuple[str, ...], records: Selection) -> Computation:
    return Computation(aggregation=Aggregation.DISTINCT_COUNT, what=what, records=records, fields=fields)


def _sum(what: str, field: str, records: Selection) -> Computation:
    return Computation(aggregation=Aggregation.SUM, what=what, records=records, fields=(field,))


def _latest(what: str, field: str, records: Selection) -> Computation:
    return Computation(aggregation=Aggregation.LATEST, what=what, records=records, fields=(field,))


def _percent(what: str, numerator: Computation, denominator: Computation) -> Computation:
    return Computation(
        aggregation=Aggregation.RATIO, what=what, numerator=numerator, denominator=denominator, scale=Decimal(100)
    )


def _latest_outcomes(*where: Condition) -> Selection:
    """A student's latest placement outcome (a correction supersedes)."""
    return _of(_K.INTERNSHIP_COMPLETED, latest_per="student_ref", where=where)


def _latest_destinations(*where: Condition, any_of: tuple[Condition, ...] = ()) -> Selection:
    """A graduate's latest reported destination (the later survey month first)."""
    return _of(
        _K.GRADUATE_EMPLOYED,
        latest_per="student_ref",
        latest_by=("months_after_graduation", "occurred_on"),
        where=where,
        where_any=any_of,
    )


def _satisfaction(respondents: str) -> Computation:
    """The respondent-weighted mean of the surveys' mean scores (hundredths → points)."""
    return Computation(
        aggregation=Aggregation.WEIGHTED_MEAN,
        what=f"points on the 1–4 scale from {respondents} surveys",
        records=_of(_K.SURVEY_SUBMITTED, where=(_cond("respondent_kind", Op.EQ, respondents),)),
        fields=("mean_score_hundredths", "respondents"),
        scale=Decimal("0.01"),
    )


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
            computation=_count("internship placements reported", _K.INTERNSHIP_PLACED),
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
            computation=_distinct(
                f"distinct students hosted for {HOSTED_MONTHS_MINIMUM}+ months",
                ("student_ref",),
                _of(_K.INTERNSHIP_COMPLETED, where=(_cond("months_completed", Op.GE, HOSTED_MONTHS_MINIMUM),)),
            ),
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
            computation=_distinct(
                "distinct students enrolled in order classes", ("student_ref",), _of(_K.ORDER_CLASS_ENROLLED)
            ),
            target_obligation=ObligationMetric.ORDER_CLASS_STUDENTS,
            weight_bp=300,
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
            computation=_percent(
                "students who started a placement completed it (a student's latest outcome counts)",
                _count("completed placements", _latest_outcomes(_cond("outcome", Op.EQ, "completed"))),
                _distinct(
                    "students who started a placement",
                    ("student_ref",),
                    _of(_K.INTERNSHIP_PLACED, _K.INTERNSHIP_COMPLETED),
                ),
            ),
            target_fixed=Decimal(90),
            weight_bp=400,
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
            computation=_percent(
                "placements that ended were terminated early (terminations within probation excluded)",
                _count(
                    "placements terminated early",
                    _latest_outcomes(
                        _cond("within_probation", Op.EQ, False), _cond("outcome", Op.EQ, "terminated_early")
                    ),
                ),
                _count("placements that ended", _latest_outcomes(_cond("within_probation", Op.EQ, False))),
            ),
            direction=Direction.LOWER_IS_BETTER,
            weight_bp=300,
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
            computation=Computation(
                aggregation=Aggregation.RATIO,
                what="distinct certificates per participating student",
                numerator=_distinct(
                    "distinct certificates", ("student_ref", "certificate_code"), _of(_K.STUDENT_CERTIFIED)
                ),
                denominator=_distinct(
                    "participating students",
                    ("student_ref",),
                    _of(_K.INTERNSHIP_PLACED, _K.INTERNSHIP_COMPLETED, _K.ORDER_CLASS_ENROLLED, _K.STUDENT_CERTIFIED),
                ),
            ),
            target_fixed=Decimal(1),
            weight_bp=300,
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
            computation=_percent(
                "reported graduates employed or in further study (a graduate's latest destination counts)",
                _count(
                    "graduates employed or in further study",
                    _latest_destinations(any_of=(_cond("employed", Op.EQ, True), _cond("further_study", Op.EQ, True))),
                ),
                _count("graduates with a reported destination", _latest_destinations()),
            ),
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
            computation=_percent(
                "employed graduates work in the partner enterprise or its sector",
                _count(
                    "graduates employed by the partner or in its sector",
                    _latest_destinations(
                        _cond("employed", Op.EQ, True),
                        any_of=(_cond("in_partner_enterprise", Op.EQ, True), _cond("in_partner_sector", Op.EQ, True)),
                    ),
                ),
                _count("employed graduates", _latest_destinations(_cond("employed", Op.EQ, True))),
            ),
            target_fixed=Decimal(50),
            weight_bp=400,
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
            computation=_sum("hours taught by enterprise engineers", "hours", _of(_K.ENGINEER_TEACHING_REPORTED)),
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
            computation=_distinct(
                "distinct teachers who completed enterprise practice",
                ("teacher_ref",),
                _of(_K.TEACHER_PRACTICE_COMPLETED),
            ),
            target_obligation=ObligationMetric.TEACHER_PRACTICE_PERSONS,
            weight_bp=400,
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
            computation=_percent(
                "cooperation teachers are dual-qualified (the latest headcount snapshot)",
                _latest("dual-qualified teachers", "dual_qualified_teachers", _of(_K.DUAL_QUALIFIED_TEACHERS)),
                _latest("cooperation teachers", "cooperation_teachers", _of(_K.DUAL_QUALIFIED_TEACHERS)),
            ),
            target_fixed=Decimal(70),
            weight_bp=300,
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
            computation=_count("joint R&D outputs reported", _K.RD_OUTPUT_REPORTED),
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
            computation=_sum(
                "minor units of revenue in the cycle's currency",
                "revenue_minor",
                _of(_K.RD_OUTPUT_REPORTED, where=(_cond("currency", Op.EQ, CURRENCY),)),
            ),
            target_obligation=ObligationMetric.RD_REVENUE_FEN,
            weight_bp=400,
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
            computation=_count("courses or textbooks co-developed", _K.COURSE_CODEVELOPED),
            target_obligation=ObligationMetric.COURSES_CODEVELOPED,
            weight_bp=400,
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
            computation=Computation(
                aggregation=Aggregation.SUM,
                what="minor units invested in total, in the cycle's currency, up to the window's end",
                records=_of(
                    _K.ENTERPRISE_INVESTMENT,
                    scope=Scope.UP_TO_WINDOW_END,
                    where=(_cond("currency", Op.EQ, CURRENCY),),
                ),
                fields=("amount_minor",),
                no_evidence_when=NoEvidenceWhen.NO_RECORD_OF_KINDS,
            ),
            target_obligation=ObligationMetric.INVESTMENT_FEN,
            weight_bp=800,
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
            computation=_satisfaction("employer"),
            target_fixed=Decimal("3.5"),
            weight_bp=400,
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
            computation=_satisfaction("student"),
            target_fixed=Decimal("3.5"),
            weight_bp=400,
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
            computation=Computation(
                aggregation=Aggregation.RATIO,
                what="declared modes carried out",
                numerator=_distinct(
                    "declared modes shown by evidence",
                    ("mode",),
                    _of(where=(_cond("mode", Op.IN_DECLARED_MODES),)),
                ),
                denominator_fact=Fact.DECLARED_MODES,
                scale=Decimal(100),
            ),
            target_fixed=Decimal(100),
            weight_bp=400,
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
            computation=Computation(
                aggregation=Aggregation.RATIO,
                what="months of the window had recorded activity",
                numerator=_distinct("months with any record", ("month",), _of()),
                denominator_fact=Fact.WINDOW_MONTHS,
                scale=Decimal(100),
            ),
            target_fixed=Decimal(100),
            weight_bp=400,
            needs_improvement=absolute(60),
            at_risk=absolute(30),
        ),
        IndicatorDefinition(
            code="PR-01",
            dimension=_PR,
            name_zh="合作质量评议（企业、学校、学生视角）",
            name_en="quality of the cooperation as the panel judges it (enterprise, college, students)",
            unit="points of 100",
            source=EvidenceSource.PANEL,
            measure=None,
            computation=None,
            target_fixed=Decimal(100),
            weight_bp=600,
            needs_improvement=absolute(75),
            at_risk=absolute(60),
        ),
        IndicatorDefinition(
            code="PR-02",
            dimension=_PR,
            name_zh="现场核查：岗位、实训基地与台账和报送一致",
            name_en="on-site check: posts, training bases and records match what was reported",
            unit="points of 100",
            source=EvidenceSource.PANEL,
            measure=None,
            computation=None,
            target_fixed=Decimal(100),
            weight_bp=500,
            needs_improvement=absolute(75),
            at_risk=absolute(60),
        ),
        IndicatorDefinition(
            code="PR-03",
            dimension=_PR,
            name_zh="学生获得感：技能提升与就业帮助",
            name_en="students' gain: skills learnt and help into work",
            unit="points of 100",
            source=EvidenceSource.PANEL,
            measure=None,
            computation=None,
            target_fixed=Decimal(100),
            weight_bp=400,
            needs_improvement=absolute(75),
            at_risk=absolute(60),
        ),
    )


def default_measures() -> dict[str, Computation]:
    """The shipped measures by name: the figures shown beside an agreement's evidence."""
    return default_framework().measures()


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
