"""The catalog of codes other services put into events, in each reader's language.

A notice never mixes languages (issue #14 item 19): what another service says by code —
an indicator, a panel role, a membership step, a formality-risk reason, a payment hold, a
college report's rejection — is rendered from here through the ``term`` filter; a code
missing here is shown as the code itself (language-neutral), never as another service's
English sentence. Free text a person wrote (a reason, a requirement, the grounds of an
appeal) is shown quoted as their own words (``as_written``), whatever its language.

Indicator names are those of the shipped default framework (evaluation's
``domain/default_framework.py``; a unit test keeps the two equal). An indicator a
supervisor adds to a later framework version is shown by its code.
"""

from __future__ import annotations

from typing import Final

#: kind → code → (zh-CN, en)
CODE_TEXTS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "indicator": {
        "COMPOSITE": ("综合得分", "composite score"),
        "TT-01": ("企业提供实习岗位数达成率", "internship posts provided vs. commitment"),
        "TT-02": ("接收学生实习3个月以上人数", "students hosted for 3 months or more"),
        "TT-03": ("订单班/共建专业在读学生数", "order-class or co-built-major students enrolled"),
        "TT-04": ("实习/学徒完成率", "completion rate of placements and apprenticeships"),
        "TT-05": ("提前终止率（不含试用期）", "early-termination rate (excluding probation)"),
        "TT-06": (
            "参与学生人均获得1+X/职业技能证书数",
            "1+X or vocational skill certificates per participating student",
        ),
        "TT-07": ("毕业6个月就业或升学率", "employment or further study 6 months after graduation"),
        "TT-08": ("在合作企业或其行业就业比例", "employed in the partner enterprise or its sector"),
        "TS-01": ("企业工程师授课学时达成率", "enterprise engineers' teaching hours vs. commitment"),
        "TS-02": ("完成企业实践的教师人数", "college teachers completing enterprise practice"),
        "TS-03": ("合作教师中“双师型”教师比例", "dual-qualified teachers among the cooperation's teachers"),
        "RD-01": (
            "联合研发成果数",
            "joint R&D outputs (patents, standards, software copyrights, technology transfers)",
        ),
        "RD-02": ("来自合作企业的技术服务收入", "technical-service revenue from the partner enterprise"),
        "RD-03": ("共同开发课程或教材数", "courses or textbooks co-developed"),
        "RI-01": (
            "企业累计投入（设备、实训基地、资金）",
            "enterprise investment (equipment, training base, funds), cumulative",
        ),
        "SA-01": ("用人单位满意度", "employer satisfaction"),
        "SA-02": ("学生满意度", "student satisfaction"),
        "CD-01": ("实际开展的合作模式占约定模式比例", "modes actually carried out vs. modes declared"),
        "CD-02": ("评价期内有活动记录的月份比例", "months in the window with any recorded activity"),
        "PR-01": (
            "合作质量评议（企业、学校、学生视角）",
            "quality of the cooperation as the panel judges it (enterprise, college, students)",
        ),
        "PR-02": (
            "现场核查：岗位、实训基地与台账和报送一致",
            "on-site check: posts, training bases and records match what was reported",
        ),
        "PR-03": ("学生获得感：技能提升与就业帮助", "students' gain: skills learnt and help into work"),
    },
    "panel_role": {
        "supervisor": ("联盟督导", "alliance supervisor"),
        "industry_expert": ("行业专家", "industry expert"),
        "enterprise_representative": ("企业代表", "enterprise representative"),
        "college_self_assessment": ("学校自评", "college self-assessment"),
        "student_representative": ("学生代表", "student representative"),
    },
    "membership_action": {
        "apply": ("提交入盟申请", "applied for membership"),
        "admit": ("批准入盟", "admitted to the alliance"),
        "reject": ("驳回入盟申请", "membership application rejected"),
        "suspend": ("暂停会员资格", "membership suspended"),
        "reinstate": ("恢复会员资格", "membership reinstated"),
        "withdraw": ("退出联盟", "withdrew from the alliance"),
        "expel": ("除名", "expelled from the alliance"),
    },
    "membership_status": {
        "applied": ("申请中", "applied"),
        "admitted": ("正式成员", "member"),
        "rejected": ("未获批准", "not admitted"),
        "suspended": ("暂停", "suspended"),
        "withdrawn": ("已退出", "withdrawn"),
        "expelled": ("已除名", "expelled"),
    },
    "formality_reason": {
        "no_activity": ("评价期内长期没有合作活动记录", "no cooperation activity recorded for a long period"),
        "active_months_at_risk": (
            "有活动记录的月份比例（CD-02）处于风险区间",
            "too few months with recorded activity (CD-02 at risk)",
        ),
    },
    "hold": {
        "evaluation": ("评价结果未达到本期拨款要求的等级", "the evaluation did not reach the grade this tranche needs"),
        "agreement:suspended": ("合作协议已暂停", "the cooperation agreement is suspended"),
        "agreement:terminated": ("合作协议已终止", "the cooperation agreement was terminated"),
        "agreement:completed_early": ("合作协议已提前结束", "the cooperation agreement ended early"),
    },
    "report_reason": {
        "report.invalid": ("报送数据不符合数据规范", "the report does not match the data specification"),
        "report.unknown_type": ("平台不受理此类报送", "the platform accepts no reports of this type"),
        "report.malformed_envelope": ("报送消息格式有误", "the report's message envelope is malformed"),
        "report.oversized": ("报送消息超出大小上限", "the report is larger than allowed"),
        "report.unknown_agreement": ("平台未登记报送所涉合作协议", "the agreement named is not registered"),
        "report.agreement_inactive": (
            "合作协议在报送所涉日期未处于生效状态",
            "the agreement was not in force on the reported day",
        ),
        "report.college_not_party": ("贵校不是该合作协议的一方", "your college is not a party to the agreement"),
        "report.enterprise_not_party": (
            "报送所涉企业不是该合作协议的一方",
            "the enterprise named is not a party to the agreement",
        ),
        "report.processing_failed": ("平台处理报送时出错", "the platform failed to process the report"),
        "report.rejected": ("报送未被接收", "the report was not accepted"),
        "event.invalid_payload": ("报送数据不符合数据规范", "the report does not match the data specification"),
        "event.unknown_type": ("平台不受理此类报送", "the platform accepts no reports of this type"),
        "record.oversized": ("报送消息超出大小上限", "the report is larger than allowed"),
        "handler.unexpected_error": ("平台处理报送时出错", "the platform failed to process the report"),
    },
}


def code_text(kind: str, code: str, english: bool) -> str | None:
    """The text of ``code`` of ``kind`` in one language; None when the catalog has none."""
    texts = CODE_TEXTS.get(kind, {}).get(code)
    if texts is None:
        return None
    return texts[1] if english else texts[0]
