"""What every problem code says, in zh-CN and en: the ``title`` and ``detail`` of
problem+json follow the reader's ``Accept-Language`` (issue #14 item 20).

A plain typed dict, not Babel catalogs: the services raise their details in English
with values interpolated (``f"no agreement {agreement_id}"``), so the Chinese text needs
the same values. Each entry lists the English detail templates of its raise sites with
their Chinese counterparts; a detail is matched against its code's templates, the values
are taken from it and put into the Chinese text. A detail that matches no template (a
library's message, a list of failed rules) is replaced by the code's Chinese sentence,
never shown half-translated. English details stay as raised.

``tests/unit/shared/test_problem_texts.py`` collects every code and every literal detail
template raised in the four services and the shared runtime and fails when one lacks
its texts here: a new code or detail comes with its translation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Final, Literal

Language = Literal["zh-CN", "en"]
ZH: Final[Language] = "zh-CN"
EN: Final[Language] = "en"
#: The alliance's working language, and the console's default: what a reader who names
#: no language gets.
DEFAULT_LANGUAGE: Final[Language] = ZH

_PLACEHOLDER = re.compile(r"(\{[^{}]+\})")


@dataclass(frozen=True)
class ProblemText:
    title_zh: str
    title_en: str
    #: English detail template (as raised, ``{expression}`` for each value) → Chinese template.
    details: Mapping[str, str] = field(default_factory=dict)
    #: The Chinese detail when the raised one matches no template (default: the title).
    detail_zh: str | None = None


def _t(
    title_zh: str, title_en: str, details: Mapping[str, str] | None = None, detail_zh: str | None = None
) -> ProblemText:
    return ProblemText(title_zh, title_en, details or {}, detail_zh)


_TRANSITION = _t(
    "当前状态不允许此操作",
    "Illegal state transition",
    {"cannot {action} a {entity} that is {current}": "该对象（{entity}）当前状态为 {current}，不允许执行 {action}"},
)
_TRANSITION_ENTITIES = (
    "agreement", "appeal", "application", "award", "certification", "cycle", "delivery", "membership",
    "partner", "programme", "recovery", "rectification", "reminder", "result", "tranche", "webhook_endpoint",
)  # fmt: skip


PROBLEM_TEXTS: Final[dict[str, ProblemText]] = {
    **{f"{entity}.illegal_transition": _TRANSITION for entity in _TRANSITION_ENTITIES},
    # --- shared runtime ---------------------------------------------------------------
    "aggregate.contended": _t(
        "记录正被频繁修改",
        "Record kept changing",
        {
            "{aggregate_id} kept changing; gave up after {retry.attempts} tries": (
                "{aggregate_id} 持续被修改，已尝试 {retry.attempts} 次后放弃；请稍后重试"
            ),
            "{programme_id} kept changing; gave up after {POSTING_RETRY.attempts} tries": (
                "{programme_id} 持续被修改，已尝试 {POSTING_RETRY.attempts} 次后放弃；请稍后重试"
            ),
        },
    ),
    "aggregate.exists": _t("记录已存在", "Already exists", {"{aggregate_id} already exists": "{aggregate_id} 已存在"}),
    "aggregate.version_conflict": _t(
        "版本冲突",
        "Version conflict",
        {
            "{aggregate_id} is at version {current_version}, not {expected} (If-Match)": (
                "{aggregate_id} 当前为第 {current_version} 版，而不是 If-Match 所指的第 {expected} 版"
            ),
            "{aggregate_id} is at version {shown}, the change was based on version {expected}": (
                "{aggregate_id} 当前为第 {shown} 版，而此修改基于第 {expected} 版"
            ),
        },
    ),
    "auth.missing_token": _t(
        "需要登录", "Sign-in required", {"a bearer token is required": "请求须携带访问令牌（Bearer token）"}
    ),
    "auth.malformed_token": _t("访问令牌无效", "Invalid token", {"the bearer token is not a JWT": "访问令牌不是 JWT"}),
    "auth.bad_algorithm": _t(
        "访问令牌无效",
        "Invalid token",
        {"algorithm {header.get('alg')} is not accepted": "不接受签名算法 {header.get('alg')}"},
    ),
    "auth.unknown_key": _t(
        "访问令牌无效",
        "Invalid token",
        {
            "the token names no key id": "访问令牌未注明密钥编号",
            "the token's key id is not in the JWKS": "访问令牌的密钥编号不在 JWKS 中",
        },
    ),
    "auth.token_expired": _t(
        "登录已过期", "Sign-in expired", {"the bearer token has expired": "访问令牌已过期，请重新登录"}
    ),
    "auth.bad_signature": _t(
        "访问令牌无效", "Invalid token", {"the token signature does not verify": "访问令牌签名校验失败"}
    ),
    "auth.invalid_token": _t("访问令牌无效", "Invalid token", detail_zh="访问令牌无效"),
    "auth.invalid_claims": _t(
        "访问令牌内容无效",
        "Invalid token claims",
        {
            "{name} must be plain text of at most 200 characters": "{name} 须为不超过 200 个字符的纯文本",
            "roles must be a list of strings": "roles 须为字符串列表",
            "sub is required": "访问令牌须包含 sub",
            "college and enterprise tokens must carry partner_id": "学校和企业的访问令牌须包含 partner_id",
        },
    ),
    "auth.keys_unavailable": _t(
        "身份认证服务暂不可用",
        "Identity provider unavailable",
        {"the identity provider's keys cannot be fetched": "无法获取身份认证服务的密钥，请稍后重试"},
    ),
    "auth.role_forbidden": _t(
        "无权执行此操作",
        "Forbidden",
        {"this action needs one of the roles {sorted(allowed)}": "此操作需要以下角色之一：{sorted(allowed)}"},
    ),
    "auth.object_forbidden": _t("无权访问该对象", "Forbidden", detail_zh="您无权访问或操作该对象"),
    "dependency.unavailable": _t(
        "服务暂不可用",
        "Service unavailable",
        {"the database is unreachable or busy; retry shortly": "数据库无法连接或繁忙，请稍后重试"},
    ),
    "internal.error": _t(
        "服务内部错误",
        "Internal server error",
        {"an unexpected error occurred; it has been logged": "发生意外错误，已记录日志"},
    ),
    "request.invalid": _t(
        "请求内容不符合要求",
        "Invalid request",
        {"the request does not match the schema": "请求内容不符合接口定义，详见 errors 所列字段"},
    ),
    "request.too_large": _t(
        "请求内容过大", "Content too large", {"the body may be at most {limit} bytes": "请求正文最多 {limit} 字节"}
    ),
    "request.bad_path": _t(
        "请求路径无效",
        "Invalid path",
        {"the path holds control characters; ids are printable": "请求路径含有控制字符；编号须为可打印字符"},
    ),
    "route.not_found": _t("路径不存在", "Not found", detail_zh="请求的路径不存在"),
    "route.method_not_allowed": _t("不支持该请求方法", "Method not allowed", detail_zh="该路径不支持此请求方法"),
    "http.error": _t("请求未能处理", "Request refused", detail_zh="请求未能处理"),
    "pagination.bad_cursor": _t(
        "分页游标无效", "Invalid cursor", {"the cursor is not one this API issued": "该分页游标不是本接口签发的"}
    ),
    "precondition.bad_etag": _t(
        "If-Match 无效",
        "Invalid If-Match",
        {"If-Match {header[:40]} is not an ETag of this API": "If-Match {header[:40]} 不是本接口签发的 ETag"},
    ),
    "precondition.if_match_required": _t(
        "须提供 If-Match",
        "If-Match required",
        {
            "send If-Match with the ETag you read, so a concurrent change is not overwritten": (
                "请在 If-Match 中附上读取时得到的 ETag，以免覆盖他人同时所做的修改"
            )
        },
    ),
    "query.region_prefix_invalid": _t(
        "地区代码前缀无效",
        "Invalid region prefix",
        {"a region prefix is 2, 4 or 6 digits": "地区代码前缀须为 2、4 或 6 位数字"},
    ),
    "idempotency.key_too_long": _t(
        "Idempotency-Key 过长",
        "Idempotency-Key too long",
        {"at most {MAX_KEY_LENGTH} characters": "最多 {MAX_KEY_LENGTH} 个字符"},
    ),
    "idempotency.key_reused": _t(
        "Idempotency-Key 重复使用",
        "Idempotency-Key reused",
        {
            "this Idempotency-Key was used with a different request body": (
                "该 Idempotency-Key 已用于另一个不同的请求正文"
            )
        },
    ),
    "idempotency.in_progress": _t(
        "相同请求仍在处理",
        "Request in progress",
        {
            "the first request with this Idempotency-Key is still running; retry later": (
                "使用该 Idempotency-Key 的第一个请求仍在处理中，请稍后重试"
            )
        },
    ),
    "event.too_large": _t(
        "变更内容过大",
        "Change too large",
        {
            "this change would announce a {event.type} of {size} bytes; {topic} carries at most {limit}": (
                "此变更将发布 {size} 字节的 {event.type} 事件，而 {topic} 最多承载 {limit} 字节"
            )
        },
    ),
    # --- registry ---------------------------------------------------------------------
    "partner.not_found": _t(
        "合作单位不存在",
        "Partner not found",
        {
            "no partner {aggregate_id}": "合作单位 {aggregate_id} 不存在",
            "funding knows no partner {enterprise_id}": "资金服务中没有合作单位 {enterprise_id} 的记录",
        },
    ),
    "partner.credit_code_contended": _t(
        "统一社会信用代码正被同时登记",
        "Credit code being registered",
        {"credit code {code} is being registered concurrently": "统一社会信用代码 {code} 正被同时登记，请稍后重试"},
    ),
    "partner.credit_code_invalid": _t(
        "统一社会信用代码无效",
        "Invalid credit code",
        {"unified social credit code {problem}": "统一社会信用代码有误：{problem}"},
    ),
    "partner.credit_code_taken": _t(
        "统一社会信用代码已登记",
        "Credit code already registered",
        {
            "unified social credit code {code} is already registered to partner {holder.partner_id}": (
                "统一社会信用代码 {code} 已由合作单位 {holder.partner_id} 登记"
            )
        },
    ),
    "partner.kind_fixed": _t(
        "单位类型不可更改", "Kind cannot change", {"a partner's kind cannot change": "合作单位的类型不可更改"}
    ),
    "partner.profile_mismatch": _t(
        "单位档案与类型不符",
        "Profile does not match the kind",
        {
            "a college, and only a college, has a college profile": "只有学校有学校档案，且学校必须有学校档案",
            "an enterprise, and only an enterprise, has an enterprise profile": (
                "只有企业有企业档案，且企业必须有企业档案"
            ),
        },
    ),
    "partner.region_code_invalid": _t(
        "行政区划代码无效",
        "Invalid region code",
        {
            "a region code is exactly 6 digits": "行政区划代码须为 6 位数字",
            "{code} is not an administrative division in the code table ({REGION_TABLE})": (
                "{code} 不是代码表（{REGION_TABLE}）中的行政区划"
            ),
        },
    ),
    "partner.sector_code_invalid": _t(
        "行业代码无效",
        "Invalid sector code",
        {
            "an industry code is a section letter A–T, optionally followed by 2 to 4 digits": (
                "行业代码为门类字母 A–T，可后接 2 至 4 位数字"
            ),
            "{code[:3]} is not a division of section {code[0]} in {SECTOR_TABLE}": (
                "{code[:3]} 不是 {SECTOR_TABLE} 中门类 {code[0]} 下的大类"
            ),
        },
    ),
    "partner.too_many_contacts": _t(
        "联系人过多", "Too many contacts", {"at most {MAX_CONTACTS} contacts": "最多 {MAX_CONTACTS} 位联系人"}
    ),
    "partner.version_mismatch": _t(
        "版本冲突",
        "Version conflict",
        {
            "partner {self.partner_id} is at version {self.version}, not {expected_version}": (
                "合作单位 {self.partner_id} 当前为第 {self.version} 版，而不是第 {expected_version} 版"
            )
        },
    ),
    "membership.not_found": _t(
        "会员资格不存在",
        "Membership not found",
        {"no membership of partner {aggregate_id}": "合作单位 {aggregate_id} 没有会员资格记录"},
    ),
    "membership.exists": _t(
        "会员资格已存在",
        "Membership exists",
        {
            "partner {partner_id} already has a membership; withdrawn and expelled memberships are final": (
                "合作单位 {partner_id} 已有会员资格记录；已退出或被除名的会员资格不可恢复"
            )
        },
    ),
    "membership.inactive_partner": _t(
        "合作单位已停用",
        "Partner deactivated",
        {"partner {partner.partner_id} is deactivated": "合作单位 {partner.partner_id} 已停用"},
    ),
    "council.not_constituted": _t(
        "理事会尚未组建", "No council", {"no council {aggregate_id}": "理事会 {aggregate_id} 尚未组建"}
    ),
    "council.composition": _t(
        "理事会构成不符合要求",
        "Council composition",
        {
            "the council must keep at least one college, one enterprise and one government agency or industry "
            "association seat; missing: {', '.join(missing)}": (
                "理事会须至少保留学校、企业、政府部门或行业协会席位各一个；缺少：{', '.join(missing)}"
            )
        },
    ),
    "council.duplicate_partner": _t(
        "重复的理事单位", "Duplicate member", {"a member holds at most one seat": "每个成员单位最多占一个席位"}
    ),
    "council.exists": _t(
        "理事会已组建",
        "Council exists",
        {"the council is constituted; assign or vacate seats": "理事会已组建；请分配或空出席位"},
    ),
    "council.no_seat": _t(
        "没有理事席位",
        "No seat",
        {"partner {partner_id} holds no council seat": "合作单位 {partner_id} 没有理事会席位"},
    ),
    "council.not_a_member": _t(
        "不是正式成员",
        "Not a member",
        {
            "partner {assignment.partner_id} is not an admitted member of the alliance": (
                "合作单位 {assignment.partner_id} 不是联盟正式成员"
            )
        },
    ),
    "council.single_chair": _t(
        "理事长只能一位", "One chair", {"the council has at most one chair": "理事会最多设一位理事长"}
    ),
    "council.term_invalid": _t(
        "任期无效", "Invalid term", {"a term ends after it starts": "任期的结束日期须晚于开始日期"}
    ),
    "certification.not_found": _t(
        "认证不存在", "Certification not found", {"no certification {aggregate_id}": "认证 {aggregate_id} 不存在"}
    ),
    "certification.inactive_partner": _t(
        "合作单位已停用",
        "Partner deactivated",
        {"partner {partner.partner_id} is deactivated": "合作单位 {partner.partner_id} 已停用"},
    ),
    "certification.not_enterprise": _t(
        "只有企业可以认证",
        "Not an enterprise",
        {
            "only enterprises can be certified; {partner.partner_id} is a {partner.kind.value}": (
                "只有企业可以申请认证；{partner.partner_id} 的类型为 {partner.kind.value}"
            )
        },
    ),
    "certification.open_exists": _t(
        "已有进行中的认证",
        "Open certification exists",
        {
            "partner {partner_id} already has certification {open_ones[0].certification_id} "
            "({open_ones[0].status.value})": (
                "合作单位 {partner_id} 已有认证 {open_ones[0].certification_id}（状态：{open_ones[0].status.value}）"
            )
        },
    ),
    "certification.validity_invalid": _t(
        "有效期无效",
        "Invalid validity",
        {"a certificate's validity ends after it starts": "证书有效期的结束时间须晚于开始时间"},
    ),
    "certification.validity_passed": _t(
        "有效期已过", "Validity passed", {"the certificate's validity has already ended": "证书有效期已经结束"}
    ),
    "incentive.not_found": _t(
        "激励登记不存在",
        "Incentive entry not found",
        {"no incentive entry {aggregate_id}": "激励登记 {aggregate_id} 不存在"},
    ),
    "incentive.not_in_catalogue": _t(
        "不在产教融合型企业名录中",
        "Not in the catalogue",
        {
            "the enterprise is not in the catalogue of certified enterprises": "该企业不在产教融合型企业名录中",
            "{partner_id} is not an enterprise": "{partner_id} 不是企业",
        },
    ),
    "incentive.kind_from_funding": _t(
        "财政类激励来自专项资金",
        "Fiscal entries come from funding",
        {"fiscal entries come from the special fund's awards": "财政类激励由专项资金的立项资助自动登记"},
    ),
    "incentive.amount_required": _t(
        "须填写金额",
        "Amount required",
        {"a {grant.kind.value} entry states its amount": "{grant.kind.value} 类激励须填写金额"},
    ),
    "incentive.amount_not_money": _t(
        "该类激励没有金额",
        "No amount for this kind",
        {"a {grant.kind.value} entry has no amount": "{grant.kind.value} 类激励不填写金额"},
    ),
    "incentive.validity_invalid": _t(
        "有效期无效",
        "Invalid validity",
        {"an entitlement's validity ends after it starts": "激励有效期的结束时间须晚于开始时间"},
    ),
    "incentive.before_certification": _t(
        "早于认证有效期",
        "Before the certification",
        {
            "the entitlement starts before certificate {certification.certificate.certificate_number} is valid": (
                "激励生效时间早于证书 {certification.certificate.certificate_number} 的有效期"
            )
        },
    ),
    "incentive.after_certification": _t(
        "晚于认证有效期",
        "After the certification",
        {
            "certification {certification.certification_id} ({certification.status.value}) "
            "ends {ends.isoformat()}: an entitlement dated after it is refused": (
                "认证 {certification.certification_id}（状态：{certification.status.value}）"
                "于 {ends.isoformat()} 终止：晚于该时间的激励不予登记"
            )
        },
    ),
    "agreement.not_found": _t(
        "合作协议不存在",
        "Agreement not found",
        {
            "no agreement {aggregate_id}": "合作协议 {aggregate_id} 不存在",
            "no agreement {agreement_id}": "合作协议 {agreement_id} 不存在",
        },
    ),
    "agreement.already_signed": _t(
        "已经签署",
        "Already signed",
        {
            "{party_id} has already signed": "{party_id} 已经签署",
            "{party_id} has already signed this amendment": "{party_id} 已经签署本修订",
        },
    ),
    "agreement.amendment_empty": _t(
        "修订没有改动", "Empty amendment", {"the amendment changes nothing": "本修订未作任何改动"}
    ),
    "agreement.dates": _t(
        "协议日期无效", "Invalid dates", {"the end date must be after the start date": "结束日期须晚于开始日期"}
    ),
    "agreement.duplicate_party": _t(
        "合作方重复", "Duplicate party", {"a partner is a party once": "同一单位只能作为一方"}
    ),
    "agreement.inactive_party": _t(
        "合作方已停用",
        "Inactive party",
        {"deactivated partners: {', '.join(inactive)}": "已停用的单位：{', '.join(inactive)}"},
    ),
    "agreement.lead": _t(
        "牵头方无效",
        "Lead party",
        {"exactly one college or enterprise leads the agreement": "协议须由且仅由一所学校或一家企业牵头"},
    ),
    "agreement.no_college": _t(
        "缺少学校", "No college", {"an agreement needs at least one college": "协议至少需要一所学校"}
    ),
    "agreement.no_enterprise": _t(
        "缺少企业", "No enterprise", {"an agreement needs at least one enterprise": "协议至少需要一家企业"}
    ),
    "agreement.no_modes": _t(
        "缺少合作模式", "No cooperation mode", {"name at least one cooperation mode": "请至少填写一种合作模式"}
    ),
    "agreement.no_pending_amendment": _t(
        "没有待签署的修订",
        "No pending amendment",
        {"there is no amendment awaiting signatures": "目前没有等待签署的修订"},
    ),
    "agreement.not_a_party": _t(
        "不是协议一方", "Not a party", {"{party_id} is not a party of this agreement": "{party_id} 不是本协议的一方"}
    ),
    "agreement.not_started": _t(
        "协议尚未开始",
        "Not started",
        {"the agreement starts on {self.terms.start_date}": "协议自 {self.terms.start_date} 起开始"},
    ),
    "agreement.obligation_party": _t(
        "义务方不是协议一方",
        "Obligation of a non-party",
        {"obligation of {obligation.party_id}, who is not a party": "义务承担方 {obligation.party_id} 不是协议一方"},
    ),
    "agreement.parties_fixed": _t(
        "修订不能增减合作方",
        "Parties fixed",
        {
            "an amendment cannot add or remove parties; draft a new agreement": (
                "修订不能增加或减少合作方；请另行起草新协议"
            )
        },
    ),
    "agreement.party_required": _t(
        "须指明签署方", "Party required", {"name the party whose signature you record": "请指明所记录的是哪一方的签署"}
    ),
    "agreement.party_signs_itself": _t(
        "须由本单位签署",
        "Party signs itself",
        {
            "{body.party_id} is a college or enterprise: it signs with its own token": (
                "{body.party_id} 是学校或企业，须使用本单位的访问令牌签署"
            )
        },
    ),
    "agreement.role_mismatch": _t(
        "角色与单位类型不符",
        "Role mismatch",
        {
            "a {party.kind.value} cannot be {party.role.value} of an agreement": (
                "类型为 {party.kind.value} 的单位不能担任协议的 {party.role.value}"
            )
        },
    ),
    "agreement.term_over": _t(
        "协议期限已满",
        "Term over",
        {"the agreement's term ended on {self.terms.end_date}": "协议期限已于 {self.terms.end_date} 结束"},
    ),
    "agreement.unknown_party": _t(
        "未知的合作方",
        "Unknown party",
        {"unknown partners: {', '.join(unknown)}": "未登记的单位：{', '.join(unknown)}"},
    ),
    "reason_required": _t("须说明理由", "Reason required", {"a reason is required": "须说明理由"}),
    "major_code_invalid": _t(
        "专业代码无效",
        "Invalid major code",
        {"{code} is not a 2, 4 or 6-digit major code": "{code} 不是 2、4 或 6 位的专业代码"},
    ),
    "agreement_event.no_id": _t(
        "协议事件缺少编号",
        "Agreement event without id",
        {"an agreement event without agreement_id": "协议事件缺少 agreement_id"},
    ),
    "programme_event.no_id": _t(
        "资助事件缺少项目编号",
        "Funding event without programme id",
        {"a funding event without programme_id": "资助事件缺少 programme_id"},
    ),
    # --- funding ----------------------------------------------------------------------
    "programme.not_found": _t(
        "资助项目不存在",
        "Programme not found",
        {
            "no programme {aggregate_id}": "资助项目 {aggregate_id} 不存在",
            "no programme {programme_id}": "资助项目 {programme_id} 不存在",
        },
    ),
    "programme.invalid": _t(
        "资助项目内容无效",
        "Invalid programme",
        {
            "id, status and version are not revisable": "编号、状态和版本不可修改",
            "{field}: {detail}": "{field}：{detail}",
            "{field}: {error['msg']}": "{field}：{error['msg']}",
        },
    ),
    "programme.payments_in_flight": _t(
        "尚有拨款未确认支付",
        "Payments in flight",
        {
            "{figures.disbursed_minor} is approved for payment but not yet confirmed paid": (
                "{figures.disbursed_minor}（分）已批准拨付但尚未确认支付"
            )
        },
    ),
    "programme.window_passed": _t(
        "申报期已过", "Window passed", {"the application window has already closed": "申报期已经结束"}
    ),
    "programme.wrong_figures": _t(
        "数据不属于该项目", "Wrong figures", {"the figures belong to another programme": "这些数据属于另一个资助项目"}
    ),
    "application.not_found": _t(
        "申请不存在",
        "Application not found",
        {
            "no application {aggregate_id}": "申请 {aggregate_id} 不存在",
            "no application {application_id}": "申请 {application_id} 不存在",
        },
    ),
    "application.approval_not_positive": _t(
        "批准金额须为正数", "Approval not positive", {"an approval is for a positive amount": "批准金额须大于零"}
    ),
    "application.approval_over_request": _t(
        "批准金额超过申请金额",
        "Approval over the request",
        {
            "{approved_minor} exceeds the requested amount ({limit})": (
                "批准金额 {approved_minor}（分）超过申请金额（{limit} 分）"
            )
        },
        "批准金额超过申请金额",
    ),
    "application.approval_over_cap": _t(
        "批准金额超过单项上限",
        "Approval over the cap",
        {
            "{approved_minor} exceeds the programme's per-award cap ({limit})": (
                "批准金额 {approved_minor}（分）超过项目单项资助上限（{limit} 分）"
            )
        },
        "批准金额超过项目单项资助上限",
    ),
    "application.approval_over_available": _t(
        "批准金额超过可用额度",
        "Approval over what is available",
        {
            "{approved_minor} exceeds what the programme has available ({limit})": (
                "批准金额 {approved_minor}（分）超过项目可用额度（{limit} 分）"
            )
        },
        "批准金额超过项目可用额度",
    ),
    "application.approved_amount_required": _t(
        "须填写批准金额", "Approved amount required", {"an approval names the approved amount": "批准时须填写批准金额"}
    ),
    "application.budget_category_repeated": _t(
        "预算科目重复",
        "Budget category repeated",
        {"each budget category appears at most once": "每个预算科目最多出现一次"},
    ),
    "application.budget_lines_mismatch": _t(
        "预算明细与申请金额不符",
        "Budget lines mismatch",
        {
            "the budget lines sum to {lines_total}, the request is {self.requested_minor}": (
                "预算明细合计 {lines_total}（分），申请金额为 {self.requested_minor}（分）"
            )
        },
    ),
    "application.cofunding_too_low": _t(
        "企业配套资金不足",
        "Co-funding too low",
        {
            "co-funding {self.cofunding_minor} is below {programme.min_cofunding_bp} basis points of the total "
            "{self.requested_minor + self.cofunding_minor}": (
                "配套资金 {self.cofunding_minor}（分）低于总额 {self.requested_minor + self.cofunding_minor}（分）"
                "的 {programme.min_cofunding_bp} 个基点"
            )
        },
    ),
    "application.duplicate": _t(
        "重复申请",
        "Duplicate application",
        {
            "agreement {agreement_id} already has application {application_id} in programme {programme_id}": (
                "合作协议 {agreement_id} 在资助项目 {programme_id} 中已有申请 {application_id}"
            )
        },
    ),
    "application.too_many_attempts": _t(
        "申请次数已达上限",
        "Too many applications",
        {
            "agreement {agreement_id} has applied {MAX_ATTEMPTS} times in programme {programme_id}": (
                "合作协议 {agreement_id} 在资助项目 {programme_id} 中已申请 {MAX_ATTEMPTS} 次"
            )
        },
    ),
    "application.ineligible": _t(
        "不符合申报条件", "Not eligible", detail_zh="不符合申报条件；未满足的条件见 failed_rules"
    ),
    "application.programme_not_open": _t(
        "项目未开放申报",
        "Programme not open",
        {
            "programme {programme.programme_id} does not take applications now": (
                "资助项目 {programme.programme_id} 目前不受理申请"
            )
        },
    ),
    "application.reason_required": _t(
        "须说明理由", "Reason required", {"a review decision carries a reason": "审核决定须附理由"}
    ),
    "application.request_not_positive": _t(
        "申请金额须为正数", "Request not positive", {"the requested amount must be positive": "申请金额须大于零"}
    ),
    "application.request_over_cap": _t(
        "申请金额超过单项上限",
        "Request over the cap",
        {
            "the request {self.requested_minor} exceeds the per-award cap {programme.award_cap_minor}": (
                "申请金额 {self.requested_minor}（分）超过单项资助上限 {programme.award_cap_minor}（分）"
            )
        },
    ),
    "application.wrong_programme": _t(
        "申请不属于该项目",
        "Wrong programme",
        {"the application is for {self.programme_id}": "该申请属于资助项目 {self.programme_id}"},
    ),
    "award.not_found": _t(
        "资助不存在",
        "Award not found",
        {"no award {aggregate_id}": "资助 {aggregate_id} 不存在", "no award {award_id}": "资助 {award_id} 不存在"},
    ),
    "award.amount_too_small": _t(
        "金额过小无法分期",
        "Amount too small",
        {
            "{amount} cannot be split into {len(parts)} non-empty tranches": (
                "{amount}（分）无法拆分为 {len(parts)} 个非零分期"
            )
        },
    ),
    "award.behind_ledger": _t(
        "资助与账簿暂不一致",
        "Award behind the ledger",
        {
            "the book moved the money of this {action}, but the award changed meanwhile and now {detail}; "
            "it completes when the step is allowed again": (
                "账簿已完成本次操作（{action}）的资金划转，但资助在此期间发生变化：{detail}；该步骤再次允许时将自动完成"
            )
        },
    ),
    "award.maker_checker": _t(
        "须由另一人审批",
        "Maker-checker",
        {
            "the officer who approved the application cannot also grant its award": (
                "批准申请的经办人不能同时确认该资助"
            ),
            "the officer who proposed the termination cannot approve it": "提出终止的经办人不能同时批准终止",
        },
    ),
    "award.not_approved": _t(
        "尚未经第二人确认", "Not confirmed", {"a second person has not confirmed the grant yet": "资助尚未经第二人确认"}
    ),
    "award.reason_required": _t("须说明理由", "Reason required", {"a termination carries a reason": "终止须附理由"}),
    "award.termination_not_proposed": _t(
        "没有待批准的终止",
        "No termination proposed",
        {"no termination of {self.award_id} awaits approval": "资助 {self.award_id} 没有等待批准的终止"},
    ),
    "award.unexpected_transfer": _t(
        "意外的资金划转", "Unexpected transfer", {"{action} would move money": "操作 {action} 将划转资金"}
    ),
    "award.wrong_programme": _t(
        "申请不属于该项目",
        "Wrong programme",
        {"the application is for {application.programme_id}": "该申请属于资助项目 {application.programme_id}"},
    ),
    "tranche.not_found": _t(
        "分期拨款不存在",
        "Tranche not found",
        {"award {self.award_id} has no tranche {tranche_id}": "资助 {self.award_id} 没有分期 {tranche_id}"},
    ),
    "tranche.approval_not_positive": _t(
        "批准金额须为正数",
        "Approval not positive",
        {
            "an approval is for at least 1 minor unit: approving 0 would pay nothing": (
                "批准金额至少为 1 分：批准 0 元不会支付任何款项"
            )
        },
    ),
    "tranche.approval_out_of_range": _t(
        "批准金额超出范围",
        "Approval out of range",
        {
            "the approval must be between 1 and the scheduled {tranche.scheduled_minor}": (
                "批准金额须在 1 分至计划金额 {tranche.scheduled_minor}（分）之间"
            )
        },
    ),
    "tranche.bank_reference_required": _t(
        "须填写银行流水号",
        "Bank reference required",
        {"a payment is confirmed with the bank's reference": "确认支付须填写银行流水号"},
    ),
    "tranche.payment_held": _t(
        "拨款支付已暂停",
        "Payment held",
        {
            "the payment of tranche {tranche_id} is held ({holds}) until the agreement is reinstated": (
                "分期 {tranche_id} 的支付已暂停（{holds}），待合作协议恢复后方可支付"
            )
        },
    ),
    "tranche.maker_checker": _t(
        "须由另一人审批",
        "Maker-checker",
        {
            "{approver_id} prepared tranche {tranche_id} and cannot also approve it": (
                "{approver_id} 经办了分期 {tranche_id}，不能同时审批"
            )
        },
    ),
    "tranche.no_remainder_kept": _t(
        "没有保留的余额",
        "No remainder kept",
        {"tranche {tranche_id} keeps no remainder to release": "分期 {tranche_id} 没有可释放的保留余额"},
    ),
    "tranche.not_manual": _t(
        "该分期不由人工拨付",
        "Not a manual tranche",
        {
            "tranche {tranche_id} is released by {tranche.release.kind}": (
                "分期 {tranche_id} 的拨付方式为 {tranche.release.kind}"
            )
        },
    ),
    "tranche.reason_required": _t(
        "须说明理由",
        "Reason required",
        {"approving less than scheduled needs a reason": "批准金额低于计划金额时须说明理由"},
    ),
    "recovery.not_found": _t(
        "追回不存在",
        "Recovery not found",
        {"award {self.award_id} has no recovery {recovery_id}": "资助 {self.award_id} 没有追回 {recovery_id}"},
    ),
    "recovery.amount_not_positive": _t(
        "追回金额须为正数", "Amount not positive", {"a recovery is for at least 1 minor unit": "追回金额至少为 1 分"}
    ),
    "recovery.bank_reference_required": _t(
        "须填写银行流水号",
        "Bank reference required",
        {"a repayment is recorded with the bank's reference": "退回资金须填写银行流水号"},
    ),
    "recovery.due_in_past": _t(
        "期限须在将来", "Deadline in the past", {"a recovery deadline lies in the future": "追回期限须晚于当前时间"}
    ),
    "recovery.exceeds_paid": _t(
        "追回金额超出范围",
        "Recovery exceeds what was paid",
        {
            "a recovery is between 1 and what was paid and not yet ordered back ({self.recoverable_minor})": (
                "追回金额须在 1 分至已支付且尚未追回的金额（{self.recoverable_minor} 分）之间"
            )
        },
    ),
    "recovery.exists": _t(
        "追回已存在",
        "Recovery exists",
        {
            "recovery {recovery_id} was already ordered": "追回 {recovery_id} 已经下达",
            "recovery {recovery_id} was already proposed": "追回 {recovery_id} 已经提出",
        },
    ),
    "recovery.incomplete": _t(
        "追回信息不完整", "Recovery incomplete", {"a recovery needs an id and a due date": "追回须有编号和期限"}
    ),
    "recovery.maker_checker": _t(
        "须由另一人审批",
        "Maker-checker",
        {
            "the officer who proposed the recovery cannot approve it": "提出追回的经办人不能同时批准",
            "the officer who proposed the write-off cannot approve it": "提出核销的经办人不能同时批准",
        },
    ),
    "recovery.not_proposed": _t(
        "没有待批准的追回",
        "No recovery proposed",
        {
            "no recovery {recovery_id} of {self.award_id} awaits approval": (
                "资助 {self.award_id} 没有等待批准的追回 {recovery_id}"
            )
        },
    ),
    "recovery.offset_exceeds_tranche": _t(
        "抵扣超过分期余额",
        "Offset exceeds the tranche",
        {
            "tranche {tranche_id} has {tranche.unpaid_approved_minor} left to pay": (
                "分期 {tranche_id} 尚余 {tranche.unpaid_approved_minor}（分）待支付"
            )
        },
    ),
    "recovery.reason_required": _t(
        "须说明理由",
        "Reason required",
        {"a recovery order carries a reason": "追回须附理由", "a write-off carries a reason": "核销须附理由"},
    ),
    "recovery.write_off_not_proposed": _t(
        "没有待批准的核销",
        "No write-off proposed",
        {"no write-off of {recovery_id} awaits approval": "追回 {recovery_id} 没有等待批准的核销"},
    ),
    "recovery.write_off_stale": _t(
        "核销金额已变化",
        "Write-off outdated",
        {
            "{proposal.amount_minor} was proposed, {recovery.outstanding_minor} is outstanding now: "
            "propose the write-off again": (
                "提出核销的金额为 {proposal.amount_minor}（分），"
                "现未追回金额为 {recovery.outstanding_minor}（分）：请重新提出核销"
            )
        },
    ),
    "recovery.settlement_exists": _t(
        "结算已记录",
        "Settlement exists",
        {"settlement {settlement_id} was already recorded": "结算 {settlement_id} 已经记录"},
    ),
    "recovery.settlement_not_positive": _t(
        "结算金额须为正数",
        "Settlement not positive",
        {"a settlement is for at least 1 minor unit": "结算金额至少为 1 分"},
    ),
    "recovery.settlement_out_of_range": _t(
        "结算金额超出范围",
        "Settlement out of range",
        {
            "a settlement is between 1 and the outstanding {recovery.outstanding_minor}": (
                "结算金额须在 1 分至未追回金额 {recovery.outstanding_minor}（分）之间"
            )
        },
    ),
    "recovery.tranche_required": _t(
        "须指明抵扣的分期",
        "Tranche required",
        {"an offset names the tranche it is taken from": "抵扣须指明从哪一期拨款中扣除"},
    ),
    "ledger.not_found": _t(
        "账簿不存在", "No book", {"programme {programme_id} has no book yet": "资助项目 {programme_id} 尚无账簿"}
    ),
    "ledger.currency_mismatch": _t(
        "币种不符",
        "Currency mismatch",
        {
            "transfer {transfer.transfer_id} is in {transfer.currency}; the book is in {currency}": (
                "划转 {transfer.transfer_id} 的币种为 {transfer.currency}，账簿币种为 {currency}"
            )
        },
    ),
    "ledger.duplicate_transfer_id": _t(
        "划转编号重复", "Duplicate transfer id", {"a posting names a transfer id twice": "同一记账中划转编号重复"}
    ),
    "ledger.empty_posting": _t(
        "记账为空", "Empty posting", {"a posting needs at least one transfer": "记账至少包含一笔划转"}
    ),
    "ledger.insufficient_funds": _t(
        "余额不足",
        "Insufficient funds",
        {
            "{account} holds {balances.get(account, 0)}; the posting needs {needed}": (
                "账户 {account} 余额为 {balances.get(account, 0)}（分），本次记账需要 {needed}（分）"
            ),
            "{account} holds {current}; the posting needs {needed}": (
                "账户 {account} 余额为 {current}（分），本次记账需要 {needed}（分）"
            ),
        },
    ),
    "ledger.partial_replay": _t(
        "记账重放不一致",
        "Partial replay",
        {
            "some transfers of this posting were applied before, others not": (
                "本次记账的部分划转此前已执行，部分未执行"
            ),
            "this request repeats a posting with other transfers than the one applied ({sorted(original)} were "
            "applied together; the request names {sorted(asked)})": (
                "本请求重复了一次记账，但所列划转与已执行的不同（已一并执行：{sorted(original)}；本请求：{sorted(asked)}）"
            ),
        },
    ),
    "ledger.transfer_id_reused": _t(
        "划转编号已被使用",
        "Transfer id reused",
        {
            "transfer id {transfer.transfer_id} was applied before for {earlier.kind} of {earlier.amount_minor}; "
            "this request asks for {transfer.kind} of {transfer.amount_minor}": (
                "划转编号 {transfer.transfer_id} 此前已用于 {earlier.kind}（{earlier.amount_minor} 分），"
                "本请求要求 {transfer.kind}（{transfer.amount_minor} 分）"
            ),
            "transfer id {transfer.transfer_id} was used before for another transfer": (
                "划转编号 {transfer.transfer_id} 此前已用于另一笔划转"
            ),
        },
    ),
    "ledger.wrong_programme": _t(
        "划转不属于该项目",
        "Wrong programme",
        {
            "transfer {transfer.transfer_id} belongs to programme {transfer.programme_id}, not to {programme_id}": (
                "划转 {transfer.transfer_id} 属于资助项目 {transfer.programme_id}，而非 {programme_id}"
            )
        },
    ),
    "statement.not_found": _t(
        "抵免结算单不存在",
        "Statement not found",
        {"no statement for {enterprise_id} in {year}": "{enterprise_id} 在 {year} 年没有抵免结算单"},
    ),
    "surcharge.investment_outside_year": _t(
        "投入不在该年度",
        "Investment outside the year",
        {
            "investments {', '.join(outside)} were not made in {year}": (
                "投入 {', '.join(outside)} 不是在 {year} 年发生的"
            )
        },
    ),
    "surcharge.investment_repeated": _t(
        "投入编号重复", "Investment repeated", {"an investment reference appears twice": "同一投入编号出现了两次"}
    ),
    "surcharge.negative_amount": _t(
        "金额不能为负", "Negative amount", {"{name} cannot be negative": "{name} 不能为负数"}
    ),
    "surcharge.not_an_enterprise": _t(
        "不是企业",
        "Not an enterprise",
        {"{enterprise_id} is a {partner.item.kind}": "{enterprise_id} 的类型为 {partner.item.kind}"},
    ),
    "surcharge.rate_dates_repeated": _t(
        "抵免比例生效日期重复",
        "Rate dates repeated",
        {"two credit rates take effect on the same day": "两个抵免比例在同一天生效"},
    ),
    "report.bad_grouping": _t(
        "分组方式无效", "Invalid grouping", {"group by programme, region or mode": "请按资助项目、地区或合作模式分组"}
    ),
    "matching.not_a_college": _t(
        "不是学校", "Not a college", {"partner {college_id} is not a college": "合作单位 {college_id} 不是学校"}
    ),
    # --- evaluation -------------------------------------------------------------------
    "framework.not_found": _t(
        "评价指标体系不存在",
        "Framework not found",
        {
            "no framework {framework_id}": "评价指标体系 {framework_id} 不存在",
            "no framework {framework_id} version {aggregate_id}": "评价指标体系 {framework_id} 没有版本 {aggregate_id}",
        },
    ),
    "framework.draft_exists": _t(
        "已有草稿",
        "Draft exists",
        {
            "version {latest.item.version} of {framework_id} is still a draft; edit or publish it": (
                "{framework_id} 的第 {latest.item.version} 版仍是草稿；请编辑或发布该草稿"
            )
        },
    ),
    "framework.empty": _t(
        "指标体系为空", "Empty framework", {"a framework needs at least one indicator": "指标体系至少需要一个指标"}
    ),
    "framework.invalid": _t("指标体系无效", "Invalid framework", detail_zh="指标体系内容不符合要求"),
    "framework.panel_role_weights_invalid": _t(
        "评议角色权重无效",
        "Invalid panel role weights",
        {
            "panel role weights must sum to {TOTAL_WEIGHT_BP} basis points": (
                "评议角色权重之和须为 {TOTAL_WEIGHT_BP} 个基点"
            )
        },
    ),
    "framework.published_immutable": _t(
        "已发布的版本不可修改",
        "Published version is immutable",
        {
            "framework {framework_id} v{version} is published and cannot change; derive the next draft version": (
                "指标体系 {framework_id} 第 {version} 版已发布，不可修改；请派生下一版草稿"
            ),
            "framework {self.framework_id} v{self.version} is published and cannot change; derive the next draft "
            "version instead": "指标体系 {self.framework_id} 第 {self.version} 版已发布，不可修改；请派生下一版草稿",
        },
    ),
    "framework.unknown_indicator": _t(
        "未知指标", "Unknown indicator", {"framework has no indicator {code}": "指标体系中没有指标 {code}"}
    ),
    "framework.weights_invalid": _t(
        "指标权重无效",
        "Invalid weights",
        {
            "indicator weights sum to {self.total_weight_bp} basis points, not {TOTAL_WEIGHT_BP}": (
                "指标权重之和为 {self.total_weight_bp} 个基点，应为 {TOTAL_WEIGHT_BP}"
            )
        },
    ),
    "cycle.not_found": _t(
        "评价周期不存在", "Cycle not found", {"no cycle {aggregate_id}": "评价周期 {aggregate_id} 不存在"}
    ),
    "cycle.agreement_inactive": _t(
        "合作协议未生效",
        "Agreement not active",
        {"agreement {agreement_id} is {agreement.status}": "合作协议 {agreement_id} 当前状态为 {agreement.status}"},
    ),
    "cycle.due_in_past": _t(
        "截止时间须在将来",
        "Deadline in the past",
        {"a cycle's deadline lies in the future": "评价周期的截止时间须晚于当前时间"},
    ),
    "cycle.framework_not_published": _t(
        "指标体系尚未发布",
        "Framework not published",
        {
            "framework {framework.framework_id} v{framework.version} is a draft; publish it first": (
                "指标体系 {framework.framework_id} 第 {framework.version} 版仍是草稿；请先发布"
            )
        },
    ),
    "cycle.no_agreements": _t(
        "没有可评价的协议",
        "No agreements",
        {
            "a cycle evaluates at least one agreement": "评价周期至少包含一份合作协议",
            "no active agreement has a party in a region starting {spec.region_prefix}": (
                "没有合作方位于以 {spec.region_prefix} 开头地区的生效协议"
            ),
            "programme {programme_id} funds no active agreement": "资助项目 {programme_id} 没有资助生效的协议",
        },
    ),
    "cycle.results_missing": _t(
        "尚有协议没有评价结果",
        "Results missing",
        {"{len(missing)} agreements have no result yet": "尚有 {len(missing)} 份协议没有评价结果"},
    ),
    "cycle.unknown_agreement": _t(
        "未知的合作协议",
        "Unknown agreement",
        {
            "agreement {agreement_id} is not known": "未登记合作协议 {agreement_id}",
            "agreement {agreement_id} is no longer known": "合作协议 {agreement_id} 已不再登记",
        },
    ),
    "export.too_large": _t(
        "导出内容过多",
        "Export too large",
        {
            "a download holds at most {EXPORT_MAX_ROWS} rows; narrow the filters": (
                "一次导出最多 {EXPORT_MAX_ROWS} 行；请缩小筛选范围"
            )
        },
    ),
    "cycle.unknown_programme": _t(
        "未知的资助项目",
        "Unknown programme",
        {"programme {programme_id} is not known": "未收到资助项目 {programme_id} 的开立事件"},
    ),
    "cycle.window_invalid": _t(
        "统计期无效",
        "Invalid evidence window",
        {"an evidence window ends on or after its start": "佐证统计期的结束日期不得早于开始日期"},
    ),
    "panel.not_found": _t(
        "评议组不存在",
        "Panel not found",
        {
            "agreement {agreement_id} has no panel in cycle {cycle_id}": (
                "合作协议 {agreement_id} 在评价周期 {cycle_id} 中没有评议组"
            ),
            "agreement {agreement_id} is not evaluated in cycle {cycle.cycle_id}": (
                "合作协议 {agreement_id} 不在评价周期 {cycle.cycle_id} 的评价范围内"
            ),
            "no panel {aggregate_id}": "评议组 {aggregate_id} 不存在",
            "agreement {result.agreement_id} had no panel in its cycle": (
                "合作协议 {result.agreement_id} 在其评价周期中没有评议组"
            ),
        },
    ),
    "panel.no_such_score": _t(
        "没有可更正的评分",
        "No such score",
        {
            "evaluator {correction.evaluator_id} gave no score for {correction.indicator_code} "
            "on the panel of agreement {self.agreement_id}": (
                "评议人 {correction.evaluator_id} 未在合作协议 {self.agreement_id} 的评议组中"
                "为指标 {correction.indicator_code} 打分"
            )
        },
    ),
    "panel.already_member": _t(
        "已在评议组中",
        "Already a member",
        {"evaluator {member.evaluator_id} already sits on this panel": "评议人 {member.evaluator_id} 已在本评议组中"},
    ),
    "panel.conflict_of_interest": _t(
        "存在利益冲突",
        "Conflict of interest",
        {
            "evaluator {member.evaluator_id} is affiliated with {', '.join(conflicts)}, a party to agreement "
            "{self.agreement_id}, and cannot sit as {member.role}": (
                "评议人 {member.evaluator_id} 隶属于合作协议 {self.agreement_id} 的一方 {', '.join(conflicts)}，"
                "不能以 {member.role} 身份参加评议"
            )
        },
    ),
    "panel.not_a_member": _t(
        "不是评议组成员",
        "Not a panel member",
        {
            "evaluator {evaluator_id} is not on the panel of agreement {self.agreement_id}": (
                "评议人 {evaluator_id} 不是合作协议 {self.agreement_id} 评议组的成员"
            )
        },
    ),
    "panel.not_panel_indicator": _t(
        "该指标不由评议组打分",
        "Not a panel indicator",
        {
            "{indicator_code} is measured from evidence, not scored by the panel": (
                "指标 {indicator_code} 依据佐证材料计算，不由评议组打分"
            )
        },
    ),
    "result.not_found": _t(
        "评价结果不存在",
        "Result not found",
        {
            "no result {aggregate_id}": "评价结果 {aggregate_id} 不存在",
            "no result {old.result_id}": "评价结果 {old.result_id} 不存在",
        },
    ),
    "result.agreement_not_in_cycle": _t(
        "协议不在本周期内",
        "Agreement not in the cycle",
        {
            "agreement {agreement.agreement_id} is not evaluated in cycle {cycle.cycle_id}": (
                "合作协议 {agreement.agreement_id} 不在评价周期 {cycle.cycle_id} 的评价范围内"
            )
        },
    ),
    "result.cycle_not_scoring": _t(
        "评价周期不在评分阶段",
        "Cycle not scoring",
        {
            "cycle {cycle.cycle_id} is {cycle.status}, not scoring": (
                "评价周期 {cycle.cycle_id} 当前状态为 {cycle.status}，不在评分阶段"
            )
        },
    ),
    "result.framework_mismatch": _t(
        "指标体系不符",
        "Framework mismatch",
        {
            "cycle {cycle.cycle_id} is pinned to {cycle.framework_id} v{cycle.framework_version}": (
                "评价周期 {cycle.cycle_id} 使用指标体系 {cycle.framework_id} 第 {cycle.framework_version} 版"
            )
        },
    ),
    "result.not_its_rescore": _t(
        "不是该结果的重评",
        "Not its re-score",
        {
            "result {by.result_id} was not recorded as the re-score of {self.result_id}": (
                "评价结果 {by.result_id} 不是 {self.result_id} 的重评结果"
            )
        },
    ),
    "result.supersedes_other_agreement": _t(
        "重评须针对同一协议",
        "Re-score of another agreement",
        {"a re-score replaces a result of the same agreement": "重评只能替代同一合作协议的评价结果"},
    ),
    "rectification.not_found": _t(
        "整改通知不存在",
        "Rectification order not found",
        {"no rectification order {aggregate_id}": "整改通知 {aggregate_id} 不存在"},
    ),
    "rectification.due_in_past": _t(
        "期限须在将来",
        "Deadline in the past",
        {"a rectification deadline lies in the future": "整改期限须晚于当前时间"},
    ),
    "rectification.duplicate_item": _t(
        "整改事项重复",
        "Duplicate item",
        {"each indicator is named once in an order": "同一指标在整改通知中只能出现一次"},
    ),
    "rectification.item_not_applicable": _t(
        "该指标不适用",
        "Item not applicable",
        {
            "{code} does not apply to agreement {result.agreement_id} (no such obligation)": (
                "指标 {code} 不适用于合作协议 {result.agreement_id}（协议中没有相应义务）"
            )
        },
    ),
    "rectification.no_evidence": _t(
        "须提交佐证", "No evidence", {"a response names at least one piece of evidence": "整改答复至少须附一项佐证材料"}
    ),
    "rectification.not_a_party": _t(
        "不是协议一方",
        "Not a party",
        {
            "{responsible_party_id} is not a party to agreement {result.agreement_id}": (
                "{responsible_party_id} 不是合作协议 {result.agreement_id} 的一方"
            )
        },
    ),
    "rectification.not_needed": _t(
        "无需整改",
        "Rectification not needed",
        {
            "result {result.result_id} has no failing grade and no at-risk indicator": (
                "评价结果 {result.result_id} 既无不合格等级，也无存在风险的指标"
            )
        },
    ),
    "rectification.unknown_item": _t(
        "未知的整改事项",
        "Unknown item",
        {"result {result.result_id} has no indicator {code}": "评价结果 {result.result_id} 中没有指标 {code}"},
    ),
    "appeal.not_found": _t(
        "申诉不存在", "Appeal not found", {"no appeal {aggregate_id}": "申诉 {aggregate_id} 不存在"}
    ),
    "appeal.decider_conflict": _t(
        "评议人不能处理本申诉",
        "Decider sat on the panel",
        {
            "{decider_id} sat on the panel that scored result {self.result_id} and cannot decide its appeal": (
                "{decider_id} 参加了评价结果 {self.result_id} 的评议，不能处理其申诉"
            )
        },
    ),
    "appeal.not_a_party": _t(
        "不是协议一方",
        "Not a party",
        {
            "{appellant_party_id} is not a party to agreement {result.agreement_id}": (
                "{appellant_party_id} 不是合作协议 {result.agreement_id} 的一方"
            )
        },
    ),
    "appeal.result_superseded": _t(
        "评价结果已被替代",
        "Result superseded",
        {
            "result {result.result_id} was superseded by {result.superseded_by_result_id}; appeal that one": (
                "评价结果 {result.result_id} 已被 {result.superseded_by_result_id} 替代；请对新结果申诉"
            )
        },
    ),
    "appeal.window_closed": _t(
        "申诉期已过",
        "Appeal window closed",
        {
            "appeals against result {result.result_id} closed at {deadline.isoformat()} "
            "({policy.window_working_days} working days)": (
                "评价结果 {result.result_id} 的申诉期已于 {deadline.isoformat()} 截止"
                "（{policy.window_working_days} 个工作日）"
            )
        },
    ),
    "appeal.wrong_result": _t(
        "申诉与结果不符",
        "Wrong result",
        {
            "appeal {self.appeal_id} concerns result {self.result_id}": (
                "申诉 {self.appeal_id} 针对的是评价结果 {self.result_id}"
            )
        },
    ),
    "appeal.corrections_need_upheld": _t(
        "仅支持申诉成立时更正评分",
        "Corrections need an upheld appeal",
        {"panel scores are corrected only by an upheld appeal": "只有申诉成立时才能更正评议组评分"},
    ),
    "appeal.duplicate_correction": _t(
        "评分更正重复",
        "Duplicate correction",
        {"each evaluator's score of an indicator is corrected once": "同一评议人对同一指标的评分只能更正一次"},
    ),
    "evidence.invalid": _t("佐证数据无效", "Invalid evidence", detail_zh="佐证数据不符合数据规范"),
    "report.agreement_inactive": _t(
        "合作协议未生效",
        "Agreement not active",
        {
            "agreement {report.agreement_id} is {agreement.status} and was not active on {report.occurred_on}; "
            "reports are accepted for active agreements and for days on which they were active": (
                "合作协议 {report.agreement_id} 当前状态为 {agreement.status}，且在 {report.occurred_on} 未生效；"
                "只受理生效协议及其生效期间的报送"
            )
        },
    ),
    "report.college_mismatch": _t(
        "报送的学校与其主题不符",
        "Report names another college",
        {
            "the report names college {report.college_id[:100]} but arrived on {topic[:200]}, which only its own "
            "college may write; a college reports only its own facts": (
                "报送中写的是学校 {report.college_id[:100]}，却发到了 {topic[:200]}（只有该主题的学校可以写入）；"
                "学校只能报送本校的事实"
            )
        },
    ),
    "report.college_not_party": _t(
        "学校不是协议一方",
        "College not a party",
        {
            "college {report.college_id} is not a party to agreement {report.agreement_id}": (
                "学校 {report.college_id} 不是合作协议 {report.agreement_id} 的一方"
            )
        },
    ),
    "report.enterprise_not_party": _t(
        "企业不是协议一方",
        "Enterprise not a party",
        {
            "enterprise {enterprise_id} is not a party to agreement {report.agreement_id}": (
                "企业 {enterprise_id} 不是合作协议 {report.agreement_id} 的一方"
            )
        },
    ),
    "report.unknown_agreement": _t(
        "未知的合作协议",
        "Unknown agreement",
        {
            "agreement {report.agreement_id} is not known to the alliance registry": (
                "联盟登记中没有合作协议 {report.agreement_id}"
            ),
            "agreement {parked.agreement_id} did not become known from the alliance registry within "
            "{ctx.settings.parked_report_max_seconds} s of the report": (
                "报送后 {ctx.settings.parked_report_max_seconds} 秒内，联盟登记中仍未出现合作协议 {parked.agreement_id}"
            ),
        },
    ),
    # --- notifications ----------------------------------------------------------------
    "routing.invalid_rules": _t(
        "路由规则无效",
        "Invalid routing rules",
        {
            "rule {first.rule_index}: {first.detail}": "第 {first.rule_index} 条规则：{first.detail}",
        },
        detail_zh="路由规则有误，整套规则未被采用；problems 列出每条有误的规则",
    ),
    "routing.unknown_event_type": _t(
        "未知的事件类型",
        "Unknown event type",
        {"{event_type} is not an event of the platform's catalog": "{event_type} 不是平台事件目录中的事件"},
    ),
    "routing.invalid_payload": _t(
        "事件内容无效",
        "Invalid event payload",
        {
            "the payload is not a valid {event_type}: {error.error_count()} errors": (
                "该内容不是有效的 {event_type} 事件：共 {error.error_count()} 处错误"
            )
        },
    ),
    "event.not_found": _t(
        "事件不存在",
        "Event not found",
        {
            "no delivery of event {event_id} is recorded; send its type and payload": (
                "没有事件 {event_id} 的投递记录；请提供事件类型和内容"
            )
        },
    ),
    "inbox.not_found": _t(
        "通知不存在",
        "Inbox entry not found",
        {
            "no inbox entry {inbox_id} for you": "您的收件箱中没有通知 {inbox_id}",
            "no inbox entry {self.inbox_id} for you": "您的收件箱中没有通知 {self.inbox_id}",
        },
    ),
    "delivery.not_found": _t(
        "投递记录不存在", "Delivery not found", {"no delivery {aggregate_id}": "投递记录 {aggregate_id} 不存在"}
    ),
    "delivery.digest_entry": _t(
        "属于每日摘要",
        "Digest entry",
        {"{plan.delivery_key} belongs in the digest, not the log": "{plan.delivery_key} 属于每日摘要，而非投递记录"},
    ),
    "delivery.not_final": _t(
        "投递尚未结束",
        "Delivery not final",
        {
            "delivery {self.delivery_id} is {self.status.value}; resend a final one": (
                "投递 {self.delivery_id} 当前状态为 {self.status.value}；只能重发已结束的投递"
            )
        },
    ),
    "delivery.not_rendered": _t(
        "通知无法生成",
        "Notice not rendered",
        {
            "the notice could not be rendered; fix the template first": "通知内容无法生成，请先修正模板",
            "{plan.channel.value} deliveries need a rendered message": (
                "{plan.channel.value} 渠道的投递需要已生成的通知内容"
            ),
        },
    ),
    "delivery.resend_inbox": _t(
        "站内通知不重发",
        "Inbox entries are not resent",
        {"inbox entries are not resent; they stay in the inbox": "站内通知不会重发，它们一直保留在收件箱中"},
    ),
    "digest.not_a_digest_entry": _t(
        "不属于每日摘要",
        "Not a digest entry",
        {"delivery {plan.delivery_key} is not for the digest": "投递 {plan.delivery_key} 不属于每日摘要"},
    ),
    "preferences.quiet_hours_empty": _t(
        "免打扰时段无效",
        "Empty quiet hours",
        {"quiet hours must start and end at different times": "免打扰时段的开始和结束时间须不同"},
    ),
    "preferences.regulatory_mandatory": _t(
        "监管类通知不能关闭",
        "Regulatory notices are mandatory",
        {"regulatory notices cannot be muted": "监管类通知不能关闭"},
    ),
    "recipient.unknown_time_zone": _t(
        "未知时区", "Unknown time zone", {"unknown IANA time zone {name}": "未知的 IANA 时区 {name}"}
    ),
    "reminder.missing_field": _t(
        "事件缺少字段",
        "Missing field",
        {
            "the event has no {field}": "事件缺少字段 {field}",
            "the event has no timezone-aware {field}": "事件缺少带时区的字段 {field}",
        },
    ),
    "webhook.not_found": _t(
        "回调地址不存在",
        "Webhook endpoint not found",
        {
            "no webhook endpoint {aggregate_id}": "回调地址 {aggregate_id} 不存在",
            "no webhook endpoint {endpoint_id} of {partner_id}": "合作单位 {partner_id} 没有回调地址 {endpoint_id}",
        },
    ),
    "webhook.address_not_public": _t(
        "回调地址须为公网地址",
        "Address not public",
        {"webhook URLs must resolve to public addresses only": "回调 URL 只能解析到公网地址"},
    ),
    "webhook.challenge_expired": _t(
        "验证口令已过期",
        "Challenge expired",
        {"the verification challenge expired; request a new one": "验证口令已过期，请重新发起验证"},
    ),
    "webhook.challenge_mismatch": _t(
        "验证口令不符", "Challenge mismatch", {"the endpoint did not echo the challenge": "回调地址未原样返回验证口令"}
    ),
    "webhook.challenge_too_short": _t(
        "验证口令过短",
        "Challenge too short",
        {"a challenge needs at least 16 random characters": "验证口令至少须有 16 个随机字符"},
    ),
    "webhook.no_challenge": _t(
        "尚未发送验证口令",
        "No challenge",
        {"no verification challenge was sent to this endpoint": "尚未向该回调地址发送验证口令"},
    ),
    "webhook.secret_reused": _t(
        "签名密钥未更换",
        "Secret reused",
        {"the new secret must differ from the current one": "新签名密钥须与当前密钥不同"},
    ),
    "webhook.secret_too_short": _t(
        "签名密钥过短",
        "Secret too short",
        {
            "a signing secret needs at least {MIN_SECRET_LENGTH} characters": (
                "签名密钥至少须有 {MIN_SECRET_LENGTH} 个字符"
            )
        },
    ),
    "webhook.too_many_endpoints": _t(
        "回调地址过多",
        "Too many endpoints",
        {"a partner may have at most {cap} webhook endpoints": "每个合作单位最多可登记 {cap} 个回调地址"},
    ),
    "webhook.url_credentials": _t(
        "URL 中不得含凭据",
        "Credentials in the URL",
        {"put credentials in the signing secret, not in the URL": "凭据请放在签名密钥中，不要写在 URL 里"},
    ),
    "webhook.url_invalid": _t("回调 URL 无效", "Invalid URL", {"a webhook URL needs a host": "回调 URL 须包含主机名"}),
    "webhook.url_not_https": _t(
        "回调 URL 须使用 https",
        "URL not https",
        {"webhook URLs must use https, got {url}": "回调 URL 须使用 https，收到的是 {url}"},
    ),
    "webhook.url_not_public": _t(
        "回调主机须为公网主机", "Host not public", {"webhook URLs must name a public host": "回调 URL 须指向公网主机"}
    ),
    "webhook.url_unresolvable": _t(
        "回调主机无法解析", "Host unresolvable", {"the webhook host does not resolve": "无法解析回调主机名"}
    ),
    "webhook.verification_failed": _t(
        "回调地址验证失败",
        "Verification failed",
        {
            "the endpoint did not complete the handshake: it must answer 2xx echoing the challenge": (
                "回调地址未完成握手：须以 2xx 状态码应答并原样返回验证口令"
            )
        },
    ),
    "webhook.verification_refused": _t(
        "回调地址拒绝验证", "Verification refused", {"answered {reply.status_code}": "应答状态码为 {reply.status_code}"}
    ),
    "webhook.verify_rate_limited": _t(
        "验证过于频繁",
        "Too many handshakes",
        {
            "at most {self.limit} per {int(self.window.total_seconds())} s; try again later": (
                "每 {int(self.window.total_seconds())} 秒最多 {self.limit} 次，请稍后再试"
            )
        },
    ),
}

#: Titles of codes the catalog does not know, by HTTP status.
STATUS_TITLES: Final[dict[int, tuple[str, str]]] = {
    400: ("请求有误", "Bad request"),
    401: ("未通过身份认证", "Unauthorized"),
    403: ("无权访问", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持该请求方法", "Method not allowed"),
    406: ("无法提供所要求的格式", "Not acceptable"),
    409: ("冲突", "Conflict"),
    412: ("前提条件不满足", "Precondition failed"),
    413: ("请求内容过大", "Content too large"),
    415: ("不支持的媒体类型", "Unsupported media type"),
    422: ("无法处理的请求", "Unprocessable content"),
    428: ("需要前提条件", "Precondition required"),
    429: ("请求过于频繁", "Too many requests"),
    500: ("服务内部错误", "Internal server error"),
    503: ("服务暂不可用", "Service unavailable"),
}


def negotiate(accept_language: str | None) -> Language:
    """The reader's language from ``Accept-Language``: the most preferred of zh-CN and en
    (``zh``, ``zh-Hans``, ``zh-TW`` read Chinese; ``en-GB`` English); the default otherwise."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, Language]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        language: Language | None = {"zh": ZH, "en": EN, "*": DEFAULT_LANGUAGE}.get(primary)
        if language is not None and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


@cache
def _matcher(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    parts = _PLACEHOLDER.split(template)
    names = tuple(parts[1::2])
    pattern = "".join(re.escape(p) if i % 2 == 0 else "(.*?)" for i, p in enumerate(parts))
    return re.compile(f"^{pattern}$", re.S), names


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Each ``{expression}`` of the template replaced by its value, in one pass."""
    return _PLACEHOLDER.sub(lambda placeholder: values.get(placeholder.group(0), placeholder.group(0)), template)


def chinese_detail(entry: ProblemText, detail: str) -> str:
    """The raised English detail in Chinese, its values kept; the code's sentence when no
    template matches."""
    for english, chinese in entry.details.items():
        matcher, names = _matcher(english)
        found = matcher.match(detail)
        if found is None:
            continue
        return _fill(chinese, dict(zip(names, found.groups(), strict=True)))
    return entry.detail_zh or entry.title_zh


def problem_texts_for(code: str, status: int, detail: str, accept_language: str | None) -> tuple[str, str, Language]:
    """(title, detail, language) for a reader's ``Accept-Language`` header: for answers
    built outside a request handler (the ASGI guards)."""
    language = negotiate(accept_language)
    title, shown = localize(code, status, detail, language)
    return title, shown, language


def localize(code: str, status: int, detail: str, language: Language) -> tuple[str, str]:
    """(title, detail) of a problem in ``language``; an unknown code keeps its detail and
    gets the status's title."""
    entry = PROBLEM_TEXTS.get(code)
    if entry is None:
        zh_title, en_title = STATUS_TITLES.get(status, ("错误", "Error"))
        return (zh_title, detail) if language == ZH else (en_title, detail)
    if language == EN:
        return entry.title_en, detail
    return entry.title_zh, chinese_detail(entry, detail)
