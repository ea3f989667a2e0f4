"""What the OpenAPI document shows beyond the models: error responses and request examples."""

from __future__ import annotations

from typing import Any

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"description": "no such resource (problem+json)"}}
UPDATE: Responses = {
    404: {"description": "no such resource"},
    412: {"description": "If-Match is stale (problem+json, code aggregate.version_conflict)"},
    428: {"description": "If-Match is missing"},
}
TRANSITION: Responses = {
    404: {"description": "no such resource"},
    409: {"description": "the lifecycle does not allow this action now (code <entity>.illegal_transition)"},
    412: {"description": "If-Match given and stale"},
    422: {"description": "a rule refused the change (problem+json with a code)"},
}

CONTACT_EXAMPLE: dict[str, Any] = {
    "name": "王芳",
    "email": "wang.fang@pengcheng-precision.example.cn",
    "phone": "+86 755 2601 8899",
    "position": "HR director",
    "locale": "zh-CN",
}
ENTERPRISE_EXAMPLE: dict[str, Any] = {
    "kind": "enterprise",
    "name_zh": "深圳市鹏城精密制造有限公司",
    "name_en": "Shenzhen Pengcheng Precision Manufacturing Co., Ltd.",
    "credit_code": "91440300MA5G4WNN43",
    "region_code": "440305",
    "sector_code": "C39",
    "address": "深圳市南山区科技园南区高新南七道 18 号",
    "website": "https://www.pengcheng-precision.example.cn",
    "enterprise": {"size": "medium", "headcount": 860},
}
COLLEGE_EXAMPLE: dict[str, Any] = {
    "kind": "college",
    "name_zh": "深圳职业技术大学",
    "credit_code": "124403004557558903",
    "region_code": "440305",
    "sector_code": "P83",
    "address": "深圳市南山区西丽湖",
    "college": {"level": "higher_vocational", "majors": ["460103", "510201"]},
}
AGREEMENT_EXAMPLE: dict[str, Any] = {
    "title": "数控技术订单班与实训基地共建协议",
    "parties": [
        {"partner_id": "col-0a1b2c3d4e5f", "role": "lead"},
        {"partner_id": "ent-1a2b3c4d5e6f", "role": "participant"},
        {"partner_id": "gov-2a3b4c5d6e7f", "role": "sponsor"},
    ],
    "modes": ["order_class", "joint_lab_or_training_base"],
    "majors": ["460103", "460104"],
    "start_date": "2026-09-01",
    "end_date": "2029-08-31",
    "declared_depth": "deep",
    "obligations": [
        {
            "party_id": "ent-1a2b3c4d5e6f",
            "metric": "internship_posts",
            "quantity": 40,
            "period": "per_year",
            "description": "CNC machining internship posts",
        },
        {
            "party_id": "ent-1a2b3c4d5e6f",
            "metric": "engineer_teaching_hours",
            "quantity": 64,
            "period": "per_term",
            "description": "2 engineers teaching 64 hours per term",
        },
    ],
}
