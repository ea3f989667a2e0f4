"""Example payloads for every routed event type, as they arrive on the wire (JSON dicts),
plus a small recipient directory.

Every example follows the published payload models (a test validates them against the
platform catalog); the registry examples are built from the registry models' own
documented examples, narrowed to the two parties of the small directory below.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from alliance_notifications.domain.default_rules import (
    REMINDER_PROGRAMME_CLOSING,
    REMINDER_RECTIFICATION_DUE,
    REMINDER_TRANCHE_AWAITING_APPROVAL,
    event_type_of,
)
from alliance_notifications.domain.egress import EgressPolicy
from alliance_notifications.domain.endpoints import WebhookEndpoint
from alliance_notifications.domain.recipients import (
    GroupMember,
    Locale,
    PartnerContact,
    RecipientDirectory,
    RoleGroup,
)
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementAmendmentProposed,
    PartnerRegistered,
)

COLLEGE = "col-001"
ENTERPRISE = "ent-042"
PARTIES = [COLLEGE, ENTERPRISE]
NOW = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai, 10:00 in Berlin: nobody's quiet hours
SECRET = "whsec_" + "k" * 40

_AGREEMENT = {"agreement_id": "agr-7f3c", "party_ids": PARTIES}
_ACT = {"occurred_at": "2026-05-06T02:00:00Z", "actor_id": "officer-zhang"}
_APPLICATION = {
    "application_id": "app-0042",
    "programme_id": "prg-2026-sz",
    "applicant_partner_id": COLLEGE,
    **_AGREEMENT,
    **_ACT,
}
_AWARD = {
    "award_id": "awd-2026-0007",
    "programme_id": "prg-2026-sz",
    "application_id": "app-0042",
    "recipient_partner_id": COLLEGE,
    "currency": "CNY",
    **_AGREEMENT,
    **_ACT,
}
_TRANCHE = {**_AWARD, "tranche_id": "awd-2026-0007-t2", "sequence": 2, "scheduled_minor": 20_000_000}
_ORDER = {
    "order_id": "rect-0009",
    "result_id": "res-0031",
    "responsible_party_id": ENTERPRISE,
    "due_at": "2026-06-30T15:59:59Z",
    **_AGREEMENT,
    **_ACT,
}
_TRANCHE_SCHEDULE = [
    {
        "tranche_id": "awd-2026-0007-t1",
        "sequence": 1,
        "name": "start-up",
        "share_bp": 3000,
        "scheduled_minor": 15_000_000,
        "release": "on_award",
        "cycle_kind": None,
        "min_grade": None,
    },
    {
        "tranche_id": "awd-2026-0007-t2",
        "sequence": 2,
        "name": "after the mid-term evaluation",
        "share_bp": 7000,
        "scheduled_minor": 35_000_000,
        "release": "evaluation",
        "cycle_kind": "mid_term",
        "min_grade": "pass",
    },
]


REPO_ROOT = Path(__file__).resolve().parents[3]


def _replay_sample(model: type[EventPayload]) -> dict[str, Any]:
    """The contract's stored replay sample of a type without a documented example."""
    folder = REPO_ROOT / "tests" / "contract" / "samples" / model.event_type
    sample: dict[str, Any] = json.loads(sorted(folder.glob("*.json"))[0].read_text())
    return sample


def _documented_example(model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    assert isinstance(examples[0], dict)
    return copy.deepcopy(dict(examples[0]))


def _registry_examples() -> dict[str, dict[str, Any]]:
    agreement = _documented_example(AgreementActivated)
    # Only the college and the enterprise of the directory below: a party without a
    # contact would make its e-mail unroutable.
    agreement["parties"] = [p for p in agreement["parties"] if p["partner_id"] in PARTIES]
    agreement["party_ids"] = [p["partner_id"] for p in agreement["parties"]]
    certificate = {
        "certification_id": "cert-2026-118",
        "partner_id": ENTERPRISE,
        "partner_name": "深圳市鹏城精密制造有限公司",
        "certificate_number": "CQE-2026-0118",
        "valid_from": "2026-05-01T00:00:00Z",
        "valid_to": "2029-04-30T16:00:00Z",
        **_ACT,
    }
    incentive = {
        "entry_id": "inc-5f1c",
        "partner_id": ENTERPRISE,
        "partner_name": "深圳市鹏城精密制造有限公司",
        "certification_id": "cert-2026-118",
        "kind": "financial",
        "agency_id": "agy-szbank",
        "agency_name": "深圳农商银行",
        "reference": "SZRCB-2026-0193",
        "amount_minor": 12_000_000,
        "valid_from": "2026-06-01T00:00:00Z",
        "valid_to": "2027-06-01T00:00:00Z",
        **_ACT,
    }
    return {
        "registry.certification.granted": certificate,
        "registry.certification.revoked": {
            **certificate,
            "reason": "cooperation obligations not met for two consecutive years",
        },
        "registry.certification.expired": {
            **certificate,
            "certification_id": "cert-2023-007",
            "certificate_number": "CQE-2023-0007",
            "valid_from": "2023-05-06T00:00:00Z",
            "valid_to": "2026-05-06T00:00:00Z",
            "occurred_at": "2026-05-06T00:00:00Z",
            "actor_id": "system",
        },
        "registry.agreement.activated": agreement,
        "registry.agreement.suspended": {
            **agreement,
            "status": "suspended",
            "reason": "the enterprise paused all internships",
            **_ACT,
        },
        "registry.agreement.terminated": {
            **agreement,
            "status": "terminated",
            "reason": "the parties ended the cooperation early",
            **_ACT,
        },
        "registry.agreement.completed": {**agreement, "status": "completed", "occurred_at": "2029-08-31T16:00:00Z"},
        "registry.agreement.amendment_proposed": {
            **agreement,
            "proposed_version": 2,
            "summary": "increase the internship places from 40 to 60 a year",
            "proposal": _replay_sample(AgreementAmendmentProposed)["proposal"],
            "pending_party_ids": agreement["party_ids"],
            **_ACT,
        },
        "registry.agreement.amendment_withdrawn": {
            **agreement,
            "proposed_version": 2,
            "reason": "the parties agreed to keep the current terms",
            **_ACT,
        },
        "registry.agreement.drafted": {**agreement, "status": "draft", **_ACT},
        "registry.agreement.signed": {**agreement, "status": "signed", **_ACT},
        "registry.agreement.resumed": {**agreement, "reason": "企业已恢复实习安排", **_ACT},
        "registry.agreement.party_signed": {
            **agreement,
            "status": "draft",
            "party_id": COLLEGE,
            "signed_party_ids": [COLLEGE],
            "pending_party_ids": [ENTERPRISE],
            **_ACT,
        },
        "registry.agreement.amendment_signed": {
            **agreement,
            "proposed_version": 2,
            "party_id": COLLEGE,
            "signed_party_ids": [COLLEGE],
            "pending_party_ids": [ENTERPRISE],
            **_ACT,
        },
        "registry.agreement.amended": {
            **agreement,
            "version": 2,
            "previous_version": 1,
            "summary": "实习岗位由每年40个增加到60个",
            **_ACT,
        },
        "registry.membership.changed": {
            "partner_id": ENTERPRISE,
            "partner_kind": "enterprise",
            "action": "apply",
            "from_status": None,
            "to_status": "applied",
            "reason": "我们希望加入联盟，共建数控实训基地",
            **_ACT,
        },
        "registry.incentive.recorded": incentive,
        # The directory's college stands in for the granting agency (a partner with a contact).
        "registry.incentive.suspended": {
            **incentive,
            "agency_id": COLLEGE,
            "reason": "cooperation obligations not met for two consecutive years",
        },
        "registry.certification.applied": {
            "certification_id": "cert-2026-118",
            "partner_id": ENTERPRISE,
            "partner_name": "深圳市鹏城精密制造有限公司",
            **_ACT,
        },
        "registry.certification.rejected": {
            "certification_id": "cert-2026-118",
            "partner_id": ENTERPRISE,
            "partner_name": "深圳市鹏城精密制造有限公司",
            "reason": "企业投入证明材料不全",
            **_ACT,
        },
    }


def partner_registered_example() -> dict[str, Any]:
    """``registry.partner.registered`` as the registry documents it (enterprise ent-042)."""
    return _documented_example(PartnerRegistered)


EXAMPLE_PAYLOADS: dict[str, dict[str, Any]] = {
    # registry: built from the registry models' documented examples (see _registry_examples)
    **_registry_examples(),
    # funding
    "funding.programme.opened": {
        "programme_id": "prg-2026-sz",
        "name": "2026 Shenzhen industry-education integration fund",
        "fiscal_year": 2026,
        "appropriated_minor": 2_000_000_000,
        "award_cap_minor": 50_000_000,
        "min_cofunding_bp": 3000,
        "currency": "CNY",
        "opens_at": "2026-05-06T00:00:00Z",
        "closes_at": "2026-06-30T15:59:59Z",
        **_ACT,
    },
    "funding.programme.closed": {"programme_id": "prg-2026-sz", "reason": "application window ended", **_ACT},
    "funding.application.submitted": {
        **_APPLICATION,
        "requested_minor": 50_000_000,
        "cofunding_minor": 20_000_000,
        "currency": "CNY",
        "budget_lines": [{"category": "equipment", "amount_minor": 50_000_000}],
    },
    "funding.application.approved": {
        **_APPLICATION,
        "requested_minor": 50_000_000,
        "approved_minor": 45_000_000,
        "currency": "CNY",
        "reason": "equipment budget reduced to market prices",
    },
    "funding.application.rejected": {**_APPLICATION, "reason": "co-funding below the programme minimum"},
    "funding.application.returned": {**_APPLICATION, "reason": "attach the signed co-funding pledge"},
    "funding.award.granted": {**_AWARD, "amount_minor": 50_000_000, "tranches": _TRANCHE_SCHEDULE},
    "funding.award.terminated": {
        **_AWARD,
        "voided_minor": 35_000_000,
        "recovery_ordered_minor": 5_000_000,
        "cancelled_tranche_ids": ["awd-2026-0007-t2"],
        "reason": "agreement terminated",
    },
    "funding.tranche.eligible": {**_TRANCHE, "trigger": "evaluation", "result_id": "res-0031"},
    "funding.tranche.withheld": {
        **_TRANCHE,
        "holds": ["evaluation", "rectification:rect-0009"],
        "result_id": "res-0031",
        "order_id": None,
    },
    "funding.tranche.requested": {**_TRANCHE, "prepared_by": "officer-zhang"},
    "funding.tranche.approved": {
        **_TRANCHE,
        "approved_minor": 18_000_000,
        "remainder_minor": 2_000_000,
        "remainder_released": True,
        "prepared_by": "officer-zhang",
        "approved_by": "approver-li",
        "reason": "training-base equipment bought below budget",
    },
    "funding.tranche.paid": {
        **_TRANCHE,
        "approved_minor": 18_000_000,
        "paid_minor": 17_500_000,
        "offset_minor": 500_000,
        "bank_reference": "ICBC-20260506-0001",
    },
    "funding.recovery.ordered": {
        **_AWARD,
        "recovery_id": "rcv-0003",
        "amount_minor": 5_000_001,
        "due_at": "2026-08-31T15:59:59Z",
        "reason": "unspent equipment budget",
    },
    "funding.recovery.settled": {
        **_AWARD,
        "recovery_id": "rcv-0003",
        "settlement_id": "stl-0001",
        "method": "offset",
        "settled_minor": 5_000_001,
        "outstanding_minor": 0,
        "bank_reference": None,
        "tranche_id": "awd-2026-0007-t3",
    },
    "funding.recovery.due_soon": {
        **_AWARD,
        "recovery_id": "rcv-0003",
        "amount_minor": 5_000_001,
        "outstanding_minor": 3_000_000,
        "due_at": "2026-08-31T15:59:59Z",
    },
    "funding.recovery.overdue": {
        **_AWARD,
        "recovery_id": "rcv-0003",
        "amount_minor": 5_000_001,
        "outstanding_minor": 3_000_000,
        "due_at": "2026-08-31T15:59:59Z",
    },
    "funding.recovery.escalated": {
        **_AWARD,
        "recovery_id": "rcv-0003",
        "amount_minor": 5_000_001,
        "outstanding_minor": 3_000_000,
        "due_at": "2026-08-31T15:59:59Z",
        "overdue_since": "2026-08-31T15:59:59Z",
    },
    "funding.recovery.written_off": {
        **_AWARD,
        "recovery_id": "rcv-0003",
        "written_off_minor": 3_000_000,
        "reason": "recipient dissolved, nothing left to collect",
        "proposed_by": "officer-zhang",
        "approved_by": "approver-li",
    },
    # evaluation
    "evaluation.result.completed": {
        "result_id": "res-0031",
        "agreement_id": "agr-7f3c",
        "cycle_id": "cyc-2026-mid",
        "cycle_kind": "mid_term",
        "framework_id": "fw-default",
        "framework_version": 1,
        "score_hundredths": 8725,
        "grade": "good",
        "overall_risk": "needs_improvement",
        "indicators": [{"code": "TT-01", "band": "on_track", "score_hundredths": 9000}],
        "actual_depth": "middle",
        "declared_depth": "deep",
        "formality_risk": False,
        "party_ids": PARTIES,
        "college_ids": [COLLEGE],
        "enterprise_ids": [ENTERPRISE],
        "supersedes_result_id": None,
        **_ACT,
    },
    "evaluation.cycle.opened": {
        "cycle_id": "cyc-2026-mid",
        "cycle_kind": "mid_term",
        "name": "2026年度中期评价",
        "agreement_ids": ["agr-7f3c"],
        "party_ids": PARTIES,
        "window_start": "2026-01-01",
        "window_end": "2026-06-30",
        "due_at": "2026-07-15T09:59:59Z",
        "framework_id": "default",
        "framework_version": 1,
        **_ACT,
    },
    "evaluation.panel.member_seated": {
        "cycle_id": "cyc-2026-mid",
        "agreement_id": "agr-7f3c",
        "evaluator_id": "supervisor-chen",
        "role": "supervisor",
        "party_ids": PARTIES,
        "due_at": "2026-07-15T09:59:59Z",
        **_ACT,
    },
    "evaluation.rectification.responded": {
        **_ORDER,
        "ordered_by": "supervisor-chen",
        "evidence_refs": ["evidence/intern-roster-2026.pdf", "evidence/site-photos.zip"],
    },
    "evaluation.appeal.lodged": {
        "appeal_id": "apl-0002",
        "result_id": "res-0031",
        "agreement_id": "agr-7f3c",
        "cycle_id": "cyc-2026-mid",
        "appellant_party_id": ENTERPRISE,
        "grounds": "春季学期的实习记录因系统故障迟报，请予以补充计入",
        "party_ids": PARTIES,
        "panel_evaluator_ids": ["expert-chen"],
        **_ACT,
    },
    "evaluation.rectification.ordered": {
        **_ORDER,
        "cycle_id": "cyc-2026-mid",
        "items": [
            {"indicator_code": "TT-01", "band": "at_risk", "requirement": "offer at least 40 internship posts"},
            {"indicator_code": "TS-01", "band": "at_risk", "requirement": "engineers teach 60 hours per term"},
        ],
    },
    "evaluation.rectification.returned": {**_ORDER, "reason": "the evidence does not cover the spring term"},
    "evaluation.rectification.overdue": {**_ORDER},
    "evaluation.rectification.escalated": {
        **_ORDER,
        "overdue_since": "2026-06-30T16:00:00Z",
        "escalate_after_days": 14,
    },
    "evaluation.rectification.closed": {**_ORDER, "was_overdue": False, "reason": "posts verified on site"},
    "evaluation.formality_risk.flagged": {
        "agreement_id": "agr-7f3c",
        "cycle_id": "cyc-2026-mid",
        "result_id": "res-0031",
        "party_ids": PARTIES,
        "reasons": ["no_activity", "active_months_at_risk"],
        "inactive_months": 9,
        "last_activity_on": "2025-08-15",
        "detail": "no internship, teaching or R&D activity reported for 9 months",
        **_ACT,
    },
    "evaluation.appeal.decided": {
        "appeal_id": "apl-0002",
        "result_id": "res-0031",
        "agreement_id": "agr-7f3c",
        "cycle_id": "cyc-2026-mid",
        "decision": "rejected",
        "reason": "the late evidence was dated after the window",
        "party_ids": PARTIES,
        **_ACT,
    },
    "evaluation.college_report.rejected": {
        "college_id": COLLEGE,
        "original_event_id": "3f1c2a5e-0000-4000-8000-000000000001",
        "original_event_type": "org.coopalliance.college.internship.placed.v1",
        "report_id": "rep-2026-0512",
        "agreement_id": "agr-7f3c",
        "reason_code": "report.college_not_party",
        "detail": "college col-001 is not a party to agreement agr-7f3c",
        "occurred_at": "2026-05-06T02:00:00Z",
    },
    # reminders (payloads built by reminders.py)
    REMINDER_RECTIFICATION_DUE: {
        "order_id": "rect-0009",
        "agreement_id": "agr-7f3c",
        "responsible_party_id": ENTERPRISE,
        "party_ids": PARTIES,
        "due_at": "2026-06-30T15:59:59Z",
        "days_before": 7,
    },
    REMINDER_PROGRAMME_CLOSING: {
        "programme_id": "prg-2026-sz",
        "name": "2026 Shenzhen industry-education integration fund",
        "closes_at": "2026-06-30T15:59:59Z",
        "days_before": 3,
    },
    REMINDER_TRANCHE_AWAITING_APPROVAL: {
        "award_id": "awd-2026-0007",
        "tranche_id": "awd-2026-0007-t2",
        "sequence": 2,
        "scheduled_minor": 20_000_000,
        "currency": "CNY",
        "recipient_partner_id": COLLEGE,
        "agreement_id": "agr-7f3c",
        "prepared_by": "officer-zhang",
        "requested_at": "2026-05-06T02:00:00Z",
        "waiting_days": 3,
    },
}


def example(short_name: str) -> tuple[str, dict[str, Any]]:
    """(event type, payload) of an example."""
    return event_type_of(short_name), dict(EXAMPLE_PAYLOADS[short_name])


def verified_endpoint(endpoint_id: str, partner_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.register(
        endpoint_id=endpoint_id,
        partner_id=partner_id,
        url=f"https://hooks.example.cn/{endpoint_id}",
        secret=SECRET,
        now=NOW,
        actor_id="it-admin",
        policy=EgressPolicy(),
    )
    endpoint.issue_challenge("challenge-token-0123456789", NOW)
    endpoint.confirm_challenge("challenge-token-0123456789", NOW)
    return endpoint


def directory() -> RecipientDirectory:
    """A college (zh-CN) with a verified webhook, an enterprise contact in English in
    Berlin, and one member in each role group."""
    built = RecipientDirectory()
    built.upsert_contact(PartnerContact(partner_id=COLLEGE, contact_name="王老师", email="wang@college.edu.cn"))
    built.upsert_contact(
        PartnerContact(
            partner_id=ENTERPRISE,
            contact_name="Anna Schmidt",
            email="anna.schmidt@example.de",
            locale=Locale.EN,
            time_zone="Europe/Berlin",
        )
    )
    built.add_endpoint(verified_endpoint("wh-col-001", COLLEGE))
    for group, member_id, name in (
        (RoleGroup.FUNDING_OFFICERS, "officer-zhang", "张科长"),
        (RoleGroup.FUNDING_APPROVERS, "approver-li", "李处长"),
        (RoleGroup.SUPERVISORS, "supervisor-chen", "陈督导"),
        (RoleGroup.REGISTRY_ADMINS, "admin-zhao", "赵管理员"),
    ):
        built.set_group_members(group, [GroupMember(member_id=member_id, name=name, email=f"{member_id}@gov.cn")])
    return built
