"""The alliance at work, step by step, through the public HTTP APIs and — for colleges —
through Kafka exactly as a college system publishes. `alliance demo` narrates it; the
system tests run the very same story and assert on what it returns.

Every run uses fresh organisations (new credit codes, new ids), so the story can be told
again and again against one running platform.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from alliance_devstack.demo.access import Actor, PlatformAccess, UnexpectedAnswer
from alliance_devstack.demo.college_system import CollegeSystem
from alliance_registry.domain.credit_code import with_check_character
from alliance_shared.contract import college as reports
from alliance_shared.contract.topics import EVALUATION_EVENTS

Narrate = Callable[[str], None]

LAST_YEAR = date.today().year - 1
H1 = (date(LAST_YEAR, 1, 1), date(LAST_YEAR, 6, 30))
H2 = (date(LAST_YEAR, 7, 1), date(LAST_YEAR, 12, 31))
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

ADMIN = Actor("registry_admin", "admin-chen", label="陈 (registry admin)")
OFFICER = Actor("funding_officer", "officer-zhang", label="张 (funding officer)")
APPROVER = Actor("funding_approver", "approver-li", label="李 (funding approver)")
SUPERVISOR = Actor("supervisor", "supervisor-zhao", label="赵 (alliance supervisor)")
APPEALS_SUPERVISOR = Actor("supervisor", "supervisor-qian", label="钱 (supervisor, not on the panel)")
AUDITOR = Actor("auditor", "auditor-ma", label="马 (auditor)")
OPS = Actor("ops", "ops-wu", label="吴 (ops)")
PANEL = [
    Actor("evaluator", "expert-sun", label="孙 (industry expert)"),
    Actor("evaluator", "expert-zhou", label="周 (industry expert)"),
]


class StoryFailed(RuntimeError):
    """The platform did not do what the story expects (the message says what and where)."""


@dataclass
class Facts:
    """What the story observed, for the system tests to assert on."""

    partners: dict[str, str] = field(default_factory=dict)
    agreements: dict[str, str] = field(default_factory=dict)
    programme_id: str = ""
    awards: dict[str, str] = field(default_factory=dict)
    ineligible_rules: list[str] = field(default_factory=list)
    rejected_report_reason: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    rectification_order_id: str = ""
    tranche_history: list[tuple[str, str]] = field(default_factory=list)
    tranche_statuses: dict[str, list[str]] = field(default_factory=dict)
    ledger: dict[str, Any] = field(default_factory=dict)
    budget_execution: dict[str, Any] = field(default_factory=dict)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    mail_subjects: list[str] = field(default_factory=list)
    webhook_types: list[str] = field(default_factory=list)
    webhook_signatures_valid: bool = False


def credit_code() -> str:
    body = "".join(random.choice(CREDIT_ALPHABET) for _ in range(9))
    return with_check_character("91" + "440300" + body)


def etag(response: httpx.Response) -> dict[str, str]:
    return {"If-Match": response.headers["etag"]}


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise StoryFailed(f"waited {timeout_s:.0f}s for {what}")
        await asyncio.sleep(0.3)


#: Called between the story's steps with the name of the step just told (the fault tests
#: crash and restart things there while the platform is still busy with that step).
Interlude = Callable[[str], Awaitable[None]]


async def no_interlude(step: str) -> None:
    return None


class Story:
    def __init__(self, access: PlatformAccess, narrate: Narrate, interlude: Interlude = no_interlude) -> None:
        self.api = access
        self.say = narrate
        self.interlude = interlude
        self.facts = Facts()
        self.run = uuid.uuid4().hex[:6]
        self.college_system = CollegeSystem()

    # --- small helpers -------------------------------------------------------------

    def partner_actor(self, key: str) -> Actor:
        partner_id = self.facts.partners[key]
        role = "college" if key.startswith("college") else "enterprise"
        return Actor(role, f"{key}-staff", partner_id, label=f"{key} staff")

    async def get(self, service: str, path: str, actor: Actor, **params: Any) -> Any:
        return (await self.api.call(service, "GET", path, actor, params=params or None)).json()

    async def post(
        self, service: str, path: str, actor: Actor, body: Any = None, *, match: httpx.Response | None = None
    ) -> httpx.Response:
        headers = etag(match) if match is not None else None
        return await self.api.call(service, "POST", path, actor, json_body=body, headers=headers)

    async def fresh(self, service: str, path: str, actor: Actor) -> httpx.Response:
        return await self.api.call(service, "GET", path, actor)

    # --- the story -----------------------------------------------------------------

    async def tell(self) -> Facts:
        steps = (
            self.alliance,
            self.agreements,
            self.college_integration,
            self.programme_and_applications,
            self.first_tranches,
            self.college_reports,
            self.mid_term_evaluation,
            self.annual_evaluation_fails,
            self.rectification_and_appeal,
            self.notifications_seen,
            self.final_report,
        )
        async with self.college_system.serving():
            for step in steps:
                await step()
                await self.interlude(step.__name__)
        return self.facts

    async def alliance(self) -> None:
        self.say("1. The alliance: colleges, enterprises, an industry association and a government agency")
        organisations: list[tuple[str, dict[str, Any]]] = [
            ("college-szpu", {"kind": "college", "name_zh": "深圳职业技术大学",
                              "name_en": "Shenzhen Polytechnic University",
                              "college": {"level": "vocational_undergraduate", "majors": ["460103", "510201"]}}),
            ("college-gdlg", {"kind": "college", "name_zh": "广东轻工职业技术大学",
                              "college": {"level": "higher_vocational", "majors": ["460103", "460301"]}}),
            ("enterprise-pengcheng", {"kind": "enterprise", "name_zh": "深圳市鹏城精密制造有限公司",
                                      "enterprise": {"size": "medium", "headcount": 860}, "sector_code": "C34"}),
            ("enterprise-huanan", {"kind": "enterprise", "name_zh": "华南智能装备股份有限公司",
                                   "enterprise": {"size": "large", "headcount": 4200}, "sector_code": "C34"}),
            ("enterprise-xiaowei", {"kind": "enterprise", "name_zh": "小微数控科技有限公司",
                                    "enterprise": {"size": "micro", "headcount": 18}, "sector_code": "C34"}),
            ("association", {"kind": "industry_association", "name_zh": "深圳市智能制造行业协会"}),
            ("agency", {"kind": "government_agency", "name_zh": "深圳市教育局"}),
        ]  # fmt: skip
        for key, profile in organisations:
            body = {
                "credit_code": credit_code(),
                "region_code": "440305",
                "sector_code": "P83" if profile["kind"] == "college" else "S92",
                "address": "深圳市南山区",
                "contacts": [
                    {
                        "name": f"{profile['name_zh'][:2]}联络人",
                        "email": f"{key}.{self.run}@demo.coopalliance.local",
                        "phone": "+86 755 2601 8899",
                        "position": "cooperation office",
                        **({"locale": "en"} if key == "enterprise-huanan" else {}),
                    }
                ],
                **profile,
            }
            created = await self.post("registry", "/partners", ADMIN, body)
            self.facts.partners[key] = created.json()["partner_id"]
            self.say(f"   registered {profile['name_zh']} ({profile['kind']}) → {self.facts.partners[key]}")
            applied = await self.post(
                "registry", "/memberships", ADMIN, {"partner_id": self.facts.partners[key], "reason": "application"}
            )
            await self.post(
                "registry",
                f"/memberships/{self.facts.partners[key]}/admit",
                ADMIN,
                {"reason": "admitted by the general assembly"},
                match=applied,
            )
        duplicate = await self.api.call(
            "registry", "POST", "/partners", ADMIN, json_body={**body, "name_zh": "重复登记"}, expect=(409,)
        )
        self.say(f"   a second registration with the same credit code is refused: {duplicate.json()['title']}")
        for key in ("enterprise-pengcheng", "enterprise-huanan"):
            applied = await self.post("registry", "/certifications", ADMIN, {"partner_id": self.facts.partners[key]})
            certification_id = applied.json()["certification_id"]
            now = datetime.now(UTC)
            await self.post(
                "registry",
                f"/certifications/{certification_id}/grant",
                ADMIN,
                {
                    "certificate_number": f"粤产教融合〔{now.year}〕{random.randint(100, 999)}号",
                    "valid_from": (now - timedelta(days=400)).isoformat(),
                    "valid_to": (now + timedelta(days=3 * 365)).isoformat(),
                },
                match=applied,
            )
            self.say(f"   certified {key} as an industry-education integration enterprise")

    async def agreements(self) -> None:
        self.say("2. Cooperation agreements with measurable obligations, signed by every party")
        plans = {
            "A1": ("college-szpu", "enterprise-pengcheng", "数控技术订单班与实训基地共建协议",
                   ["order_class", "internship_base"]),
            "A2": ("college-gdlg", "enterprise-huanan", "智能装备现代学徒制协议",
                   ["modern_apprenticeship", "internship_base"]),
            "A3": ("college-szpu", "enterprise-xiaowei", "小微企业实习合作协议", ["internship_base"]),
        }  # fmt: skip
        for name, (college_key, enterprise_key, title, modes) in plans.items():
            college_id, enterprise_id = self.facts.partners[college_key], self.facts.partners[enterprise_key]
            parties = [{"partner_id": college_id, "role": "lead"}, {"partner_id": enterprise_id, "role": "participant"}]
            if name == "A1":
                parties.append({"partner_id": self.facts.partners["agency"], "role": "sponsor"})
            drafted = await self.post(
                "registry",
                "/agreements",
                ADMIN,
                {
                    "title": title,
                    "parties": parties,
                    "modes": modes,
                    "majors": ["460103"],
                    "start_date": date(LAST_YEAR, 1, 1).isoformat(),
                    "end_date": date(LAST_YEAR + 3, 12, 31).isoformat(),
                    "declared_depth": "deep" if name != "A3" else "shallow",
                    "obligations": [
                        {"party_id": enterprise_id, "metric": "internship_posts", "quantity": 4, "period": "per_year"}
                    ],
                },
            )
            agreement_id = drafted.json()["agreement_id"]
            self.facts.agreements[name] = agreement_id
            for key in (college_key, enterprise_key):
                await self.post("registry", f"/agreements/{agreement_id}/sign", self.partner_actor(key), {})
            if name == "A1":
                await self.post(
                    "registry", f"/agreements/{agreement_id}/sign", ADMIN, {"party_id": self.facts.partners["agency"]}
                )
            current = await self.get("registry", f"/agreements/{agreement_id}", AUDITOR)
            self.say(f"   {name} {title}: signed by every party → {current['status']} ({agreement_id})")

    async def college_integration(self) -> None:
        self.say("3. The college's information system registers a webhook and passes the signed handshake")
        college = self.partner_actor("college-szpu")
        partner_id = self.facts.partners["college-szpu"]
        created = await self.post(
            "notifications", f"/partners/{partner_id}/webhooks", college, {"url": self.college_system.url}
        )
        self.college_system.secret = created.json()["secret"]
        endpoint_id = created.json()["endpoint_id"]
        verified = await self.post("notifications", f"/partners/{partner_id}/webhooks/{endpoint_id}/verify", college)
        self.say(f"   endpoint {endpoint_id} → {verified.json()['status']}")
        gdlg = self.partner_actor("college-gdlg")
        recipient = f"partner:{self.facts.partners['college-gdlg']}"
        current = await self.fresh("notifications", f"/recipients/{recipient}/preferences", gdlg)
        await self.api.call(
            "notifications",
            "PUT",
            f"/recipients/{recipient}/preferences",
            gdlg,
            json_body={"muted": {"digest_only": ["email"]}, "quiet_hours": None},
            headers=etag(current),
        )
        self.say("   college-gdlg switches e-mail quiet hours off (the others keep 22:00–07:00, China time)")
        for group, members in {
            "funding_approvers": [("approver-li", "李审批", "li.approver")],
            "supervisors": [("supervisor-zhao", "赵督导", "zhao.supervisor")],
        }.items():
            current = await self.fresh("notifications", f"/role-groups/{group}", OPS)
            await self.api.call(
                "notifications",
                "PUT",
                f"/role-groups/{group}",
                OPS,
                json_body={
                    "members": [
                        {"member_id": m, "name": n, "email": f"{e}.{self.run}@demo.coopalliance.local"}
                        for m, n, e in members
                    ]
                },
                headers=etag(current),
            )

    async def programme_and_applications(self) -> None:
        self.say("4. A fund programme with a tranche template; applications, one of them ineligible")
        now = datetime.now(UTC)
        created = await self.post(
            "funding",
            "/programmes",
            OFFICER,
            {
                "name": f"{now.year}年深圳市产教融合专项资金 ({self.run})",
                "fiscal_year": now.year,
                "appropriated_minor": 5_000_000_00,
                "opens_at": (now - timedelta(days=1)).isoformat(),
                "closes_at": (now + timedelta(days=60)).isoformat(),
                "eligibility": {
                    "lead_partner_kinds": ["college", "enterprise"],
                    "require_certified_enterprise": True,
                    "require_active_agreement": True,
                    "region_prefix": "44",
                },
                "award_cap_minor": 2_000_000_00,
                "min_cofunding_bp": 2000,
                "tranche_template": [
                    {"name": "启动资金", "share_bp": 3000, "release": {"kind": "on_award"}},
                    {
                        "name": "中期拨付",
                        "share_bp": 4000,
                        "release": {"kind": "evaluation", "cycle_kind": "mid_term", "min_grade": "pass"},
                    },
                    {"name": "结项拨付", "share_bp": 3000, "release": {"kind": "manual"}},
                ],
            },
        )
        programme_id = created.json()["programme_id"]
        self.facts.programme_id = programme_id
        await self.post("funding", f"/programmes/{programme_id}/open", OFFICER, match=created)
        self.say(f"   programme {programme_id} opened with ¥5,000,000.00 appropriated")
        for name, college_key, amount in (("A1", "college-szpu", 1_200_000_00), ("A2", "college-gdlg", 800_000_00)):
            award_id = await self.apply_and_award(name, college_key, amount)
            self.facts.awards[name] = award_id
            self.say(f"   {name}: applied for ¥{amount / 100:,.2f}, approved → award {award_id}")
        draft = await self.post(
            "funding",
            "/applications",
            self.partner_actor("college-szpu"),
            self.application_body("A3", 300_000_00),
        )
        refused = await self.api.call(
            "funding",
            "POST",
            f"/applications/{draft.json()['application_id']}/submit",
            self.partner_actor("college-szpu"),
            headers=etag(draft),
            expect=(422,),
        )
        problem = refused.json()
        self.facts.ineligible_rules = [str(r.get("rule", r)) for r in problem.get("failed_rules", [])]
        self.say(f"   A3 refused at submission: {problem['detail']}")

    def application_body(self, agreement: str, amount: int) -> dict[str, Any]:
        return {
            "programme_id": self.facts.programme_id,
            "agreement_id": self.facts.agreements[agreement],
            "requested_minor": amount,
            "cofunding_minor": amount // 2,
            "budget_lines": [
                {"category": "equipment", "amount_minor": amount * 6 // 10},
                {"category": "teacher_training", "amount_minor": amount - amount * 6 // 10},
            ],
        }

    async def apply_and_award(self, agreement: str, college_key: str, amount: int) -> str:
        applicant = self.partner_actor(college_key)
        draft = await self.post("funding", "/applications", applicant, self.application_body(agreement, amount))
        application_id = draft.json()["application_id"]
        submitted: httpx.Response | None = None

        async def submit() -> bool:
            # The registry's events may still be on their way to funding's read models.
            nonlocal submitted
            current = await self.fresh("funding", f"/applications/{application_id}", applicant)
            try:
                submitted = await self.post(
                    "funding", f"/applications/{application_id}/submit", applicant, match=current
                )
            except UnexpectedAnswer as exc:
                if exc.status == 422:
                    return False
                raise
            return True

        await wait_until(submit, f"application for {agreement} to pass eligibility")
        assert submitted is not None
        review = await self.post("funding", f"/applications/{application_id}/review", OFFICER, match=submitted)
        await self.post(
            "funding",
            f"/applications/{application_id}/decision",
            OFFICER,
            {"decision": "approve", "reason": "合作基础扎实，预算合理", "approved_minor": amount},
            match=review,
        )
        # maker-checker: the approver, not the officer who approved, grants the award (commits the money)
        await self.post("funding", f"/applications/{application_id}/award", APPROVER)
        awards = await self.get("funding", "/awards", AUDITOR, programme_id=self.facts.programme_id)
        items = awards["items"] if isinstance(awards, dict) else awards
        return next(str(a["award_id"]) for a in items if a["application_id"] == application_id)

    async def tranche(self, award: str, sequence: int) -> dict[str, Any]:
        found = await self.get("funding", f"/awards/{self.facts.awards[award]}", AUDITOR)
        return dict(found["tranches"][sequence - 1])

    async def wait_tranche(self, award: str, sequence: int, status: str) -> None:
        async def reached() -> bool:
            return bool((await self.tranche(award, sequence))["status"] == status)

        await wait_until(reached, f"{award} tranche {sequence} to become {status}")
        self.facts.tranche_history.append((f"{award}/{sequence}", status))

    async def disburse(self, award: str, sequence: int, bank_reference: str) -> None:
        award_id = self.facts.awards[award]
        tranche_id = (await self.tranche(award, sequence))["tranche_id"]
        path = f"/awards/{award_id}/tranches/{tranche_id}"
        current = await self.fresh("funding", f"/awards/{award_id}", OFFICER)
        requested = await self.post("funding", f"{path}/request", OFFICER, match=current)
        self_approval = await self.api.call(
            "funding",
            "POST",
            f"{path}/approve",
            Actor("funding_approver", OFFICER.sub),
            json_body={},
            headers=etag(requested),
            expect=(403,),
        )
        approved = await self.post("funding", f"{path}/approve", APPROVER, {}, match=requested)
        await self.post("funding", f"{path}/payment", OFFICER, {"bank_reference": bank_reference}, match=approved)
        self.say(
            f"   {award} tranche {sequence}: requested by {OFFICER}, approval by the preparer refused "
            f"({self_approval.json()['code']}), approved by {APPROVER}, paid ({bank_reference})"
        )
        await self.wait_tranche(award, sequence, "paid")

    async def first_tranches(self) -> None:
        self.say("5. Start-up tranches: eligible on award, prepared, approved by a second person, paid")
        for award, reference in (("A1", "ICBC-0402-0091"), ("A2", "BOC-0402-0117")):
            await self.wait_tranche(award, 1, "eligible")
            await self.disburse(award, 1, reference)

    def reports_for(self, agreement: str, college_key: str, enterprise_key: str, half: tuple[date, date]) -> list[Any]:
        agreement_id = self.facts.agreements[agreement]
        college_id, enterprise_id = self.facts.partners[college_key], self.facts.partners[enterprise_key]
        start = half[0]
        out: list[Any] = []
        for m in range(6):
            day = date(start.year, start.month + m, 10)
            base = {"agreement_id": agreement_id, "college_id": college_id, "occurred_on": day}
            out.append(
                reports.InternshipPlaced(
                    **base,
                    report_id=f"{agreement}-{start.month}-PL-{m}-{self.run}",
                    student_ref=f"S{start.month}{m}",
                    enterprise_id=enterprise_id,
                    post="数控车工",
                    start_date=day,
                    planned_months=6,
                )
            )
        for m in range(4):
            day = date(start.year, start.month + m + 2, 20)
            base = {"agreement_id": agreement_id, "college_id": college_id, "occurred_on": day}
            out.append(
                reports.InternshipCompleted(
                    **base,
                    report_id=f"{agreement}-{start.month}-PC-{m}-{self.run}",
                    student_ref=f"S{start.month}{m}",
                    enterprise_id=enterprise_id,
                    months_completed=6,
                    outcome=reports.InternshipOutcome.COMPLETED,
                )
            )
        base = {
            "agreement_id": agreement_id,
            "college_id": college_id,
            "occurred_on": date(start.year, start.month + 4, 5),
        }
        out.append(
            reports.TeacherPracticeCompleted(
                **base, report_id=f"{agreement}-{start.month}-TP-{self.run}", teacher_ref="T1",
                enterprise_id=enterprise_id, days=30,
            )
        )  # fmt: skip
        out.append(
            reports.EngineerTeachingReported(
                **{**base, "occurred_on": date(start.year, start.month + 5, 5)},
                report_id=f"{agreement}-{start.month}-ET-{self.run}", engineer_ref="E7",
                enterprise_id=enterprise_id, course="PLC编程", hours=48,
            )
        )  # fmt: skip
        return out

    async def evidence_count(self, agreement: str, window: tuple[date, date]) -> int:
        """Reports evaluation holds for the agreement in the window; 0 while it has not yet
        learned of the agreement from the registry's events."""
        response = await self.api.call(
            "evaluation",
            "GET",
            f"/agreements/{self.facts.agreements[agreement]}/evidence",
            SUPERVISOR,
            params={"window_start": window[0].isoformat(), "window_end": window[1].isoformat()},
            expect=(200, 404),
        )
        return int(response.json()["reports_in_window"]) if response.status_code == 200 else 0

    async def college_reports(self) -> None:
        self.say(
            "6. Colleges publish reports, each on its own topic alliance.college.<id>.reports "
            "as its own Kafka principal (SASL/SCRAM), as their systems do"
        )
        for agreement in ("A1", "A2"):
            # Evaluation learns of agreements from the registry's events; a report for an
            # agreement it does not know yet would be refused, so the colleges wait for it.
            async def known(agreement: str = agreement) -> bool:
                response = await self.api.call(
                    "evaluation", "GET", f"/agreements/{self.facts.agreements[agreement]}", SUPERVISOR,
                    expect=(200, 404),
                )  # fmt: skip
                return response.status_code == 200 and response.json().get("status") == "active"

            await wait_until(known, f"evaluation to know {agreement} as active")
        a1 = self.reports_for("A1", "college-szpu", "enterprise-pengcheng", H1)
        a2 = self.reports_for("A2", "college-gdlg", "enterprise-huanan", H1)
        await self.api.publish(self.facts.partners["college-szpu"], a1, source="college-sis")
        await self.api.publish(self.facts.partners["college-gdlg"], a2, source="college-sis")
        malformed = a1[0].model_dump(mode="json") | {"planned_months": "six", "report_id": f"BAD-{self.run}"}
        event_id = str(uuid.uuid4())
        await self.api.publish_raw(
            self.facts.partners["college-szpu"],
            [
                (
                    self.facts.agreements["A1"].encode(),
                    httpx.Request("POST", "/", json=malformed).content,
                    [
                        ("ce_id", event_id.encode()),
                        ("ce_source", b"college-sis"),
                        ("ce_type", b"org.coopalliance.college.internship.placed.v1"),
                        ("ce_specversion", b"1.0"),
                        ("ce_subject", self.facts.agreements["A1"].encode()),
                        ("content-type", b"application/json"),
                    ],
                )
            ],
        )
        self.say(f"   {len(a1)} reports for A1, {len(a2)} for A2, and one malformed report (planned_months='six')")
        for agreement, expected in (("A1", len(a1)), ("A2", len(a2))):

            async def ingested(agreement: str = agreement, expected: int = expected) -> bool:
                return await self.evidence_count(agreement, H1) >= expected

            await wait_until(ingested, f"the reports of {agreement} to become evidence")
        self.say("   evaluation holds them as evidence, each counted once")

        college_id = self.facts.partners["college-szpu"]
        rejection = await self.api.find_event(
            EVALUATION_EVENTS,
            "org.coopalliance.evaluation.college_report.rejected.v1",
            lambda data: data.get("college_id") == college_id and data.get("original_event_id") == event_id,
        )
        self.facts.rejected_report_reason = f"{rejection.get('reason_code')}: {rejection.get('detail', '')}"
        self.say(
            "   evaluation publishes the rejection on alliance.evaluation.events, naming the college the "
            "broker authenticated — "
            f"{self.facts.rejected_report_reason[:100]}"
        )

        async def told_by_webhook() -> bool:
            return any(n.event_type.endswith("college_report.rejected.v1") for n in self.college_system.notices)

        await wait_until(told_by_webhook, "the signed webhook about the rejected report")
        self.say("   … and gets a signed webhook about it")

    async def open_cycle(self, kind: str, name: str, agreements: list[str], window: tuple[date, date]) -> str:
        opened = await self.post(
            "evaluation",
            "/cycles",
            SUPERVISOR,
            {
                "kind": kind,
                "name": name,
                "agreement_ids": [self.facts.agreements[a] for a in agreements],
                "window_start": window[0].isoformat(),
                "window_end": window[1].isoformat(),
                "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            },
        )
        cycle_id: str = opened.json()["cycle_id"]
        return cycle_id

    async def complete_cycle(self, cycle_id: str) -> None:
        current = await self.fresh("evaluation", f"/cycles/{cycle_id}", SUPERVISOR)
        scoring = await self.post("evaluation", f"/cycles/{cycle_id}/start-scoring", SUPERVISOR, match=current)
        await self.post("evaluation", f"/cycles/{cycle_id}/complete", SUPERVISOR, match=scoring)

    async def latest_result(self, agreement: str) -> dict[str, Any]:
        found = await self.get("evaluation", f"/agreements/{self.facts.agreements[agreement]}/results", SUPERVISOR)
        newest = found["trend"][-1]["result_id"]  # current results, oldest first
        return dict(await self.get("evaluation", f"/results/{newest}", SUPERVISOR))

    async def mid_term_evaluation(self) -> None:
        self.say("7. A mid-term evaluation with a panel")
        cycle_id = await self.open_cycle("mid_term", f"{LAST_YEAR} 中期评估", ["A1", "A2"], H1)
        panel = f"/cycles/{cycle_id}/panels/{self.facts.agreements['A1']}"
        await self.post(
            "evaluation", f"{panel}/members", SUPERVISOR,
            {"evaluator_id": SUPERVISOR.sub, "role": "supervisor", "affiliation_partner_ids": []},
        )  # fmt: skip
        for expert in PANEL:
            await self.post(
                "evaluation", f"{panel}/members", SUPERVISOR,
                {"evaluator_id": expert.sub, "role": "industry_expert", "affiliation_partner_ids": []},
            )  # fmt: skip
        conflicted = await self.api.call(
            "evaluation", "POST", f"{panel}/members", SUPERVISOR,
            json_body={"evaluator_id": "expert-wang", "role": "industry_expert",
                       "affiliation_partner_ids": [self.facts.partners["enterprise-pengcheng"]]},
            expect=(422,),
        )  # fmt: skip
        self.say(f"   panel seated for A1; an expert employed by the enterprise refused: {conflicted.json()['code']}")
        # The default framework's panel indicators: quality, on-site check, students' gain.
        panel_scores = [(SUPERVISOR, (85, 80, 88)), (PANEL[0], (90, 86, 92)), (PANEL[1], (82, 78, 84))]
        for member, scores in panel_scores:
            for code, score in zip(("PR-01", "PR-02", "PR-03"), scores, strict=True):
                await self.api.call("evaluation", "PUT", f"{panel}/scores/{code}", member, json_body={"score": score})
        self.say("   the panel scored A1's quality, on-site check and students' gain")
        await self.complete_cycle(cycle_id)
        for agreement in ("A1", "A2"):
            result = await self.latest_result(agreement)
            self.facts.results[f"mid_term/{agreement}"] = result
            self.say(
                f"   {agreement}: {result['score_hundredths'] / 100:.2f} points, grade {result['grade']}, "
                f"depth {result['actual_depth']} (declared {result.get('declared_depth', '?')})"
            )
        for award in ("A1", "A2"):
            await self.wait_tranche(award, 2, "eligible")
        self.say("   result.completed reached funding: both mid-term tranches are eligible")
        await self.disburse("A1", 2, "ICBC-0915-0233")

    async def annual_evaluation_fails(self) -> None:
        self.say("8. The annual evaluation of A2 covers a half-year without any report: it fails")
        cycle_id = await self.open_cycle("annual", f"{LAST_YEAR} 年度评估", ["A2"], H2)
        await self.complete_cycle(cycle_id)
        result = await self.latest_result("A2")
        self.facts.results["annual/A2"] = result
        self.say(
            f"   A2: grade {result['grade']}, formality risk {result['formality_risk']} — "
            "its mid-term tranche, eligible but not yet approved, is withheld"
        )
        await self.wait_tranche("A2", 2, "withheld")
        agreement_id = self.facts.agreements["A2"]

        async def ordered() -> bool:
            found = await self.get("evaluation", "/rectifications", SUPERVISOR, agreement_id=agreement_id)
            items = found["items"]
            if items:
                self.facts.rectification_order_id = items[0]["order_id"]
            return bool(items)

        await wait_until(ordered, "a rectification order for A2")
        self.say(f"   rectification order {self.facts.rectification_order_id} opened")

    async def rectification_and_appeal(self) -> None:
        self.say("9. The party responds, the supervisor closes the order; an appeal brings the late reports in")
        order_path = f"/rectifications/{self.facts.rectification_order_id}"
        order = await self.fresh("evaluation", order_path, SUPERVISOR)
        responsible = order.json()["responsible_party_id"]
        key = next(k for k, v in self.facts.partners.items() if v == responsible)
        late = self.reports_for("A2", "college-gdlg", "enterprise-huanan", H2)
        await self.api.publish(self.facts.partners["college-gdlg"], late, source="college-sis")

        async def ingested() -> bool:
            return await self.evidence_count("A2", H2) >= len(late)

        await wait_until(ingested, "the late reports of A2 to become evidence")
        responded = await self.post(
            "evaluation", f"{order_path}/response", self.partner_actor(key),
            {"evidence_refs": ["att://rect/A2/整改报告.pdf", "att://rect/A2/实习台账.xlsx"]}, match=order,
        )  # fmt: skip
        await self.post(
            "evaluation", f"{order_path}/close", SUPERVISOR, {"reason": "整改材料核实无误"}, match=responded
        )
        self.say(f"   {key} responded with evidence; {SUPERVISOR} closed the order")
        annual = self.facts.results["annual/A2"]
        appellant = self.partner_actor("college-gdlg")
        lodged = await self.post(
            "evaluation", f"/results/{annual['result_id']}/appeals", appellant,
            {"grounds": "下半年的实习报告因系统故障延迟报送，现已补报"},
        )  # fmt: skip
        decided = await self.post(
            "evaluation", f"/appeals/{lodged.json()['appeal_id']}/decision", APPEALS_SUPERVISOR,
            {"decision": "upheld", "reason": "补报材料真实，重新评分"}, match=lodged,
        )  # fmt: skip
        new = decided.json()["new_result"]
        self.facts.results["rescored/A2"] = new
        self.say(
            f"   appeal upheld by {APPEALS_SUPERVISOR}: "
            f"re-scored {new['score_hundredths'] / 100:.2f}, grade {new['grade']}"
        )
        await self.wait_tranche("A2", 2, "eligible")
        self.say("   the hold is lifted: A2's mid-term tranche is eligible again")
        await self.disburse("A2", 2, "BOC-1020-0338")

    async def notifications_seen(self) -> None:
        self.say("10. Who heard about it: inbox, e-mail, webhooks")
        college = self.partner_actor("college-gdlg")

        async def inbox_filled() -> bool:
            self.facts.inbox = (await self.get("notifications", "/inbox", college))["items"]
            return len(self.facts.inbox) >= 3

        await wait_until(inbox_filled, "notices in the inbox of college-gdlg")
        unread = await self.get("notifications", "/inbox/unread-count", college)
        self.say(f"   college-gdlg's inbox: {len(self.facts.inbox)} notices, {unread['unread']} unread; newest:")
        for entry in self.facts.inbox[:3]:
            self.say(f"     · {entry['subject']}")
        mails = [m for m in self.api.mail() if any(self.run in r for r in m.recipients)]
        self.facts.mail_subjects = [m.subject for m in mails]
        self.say(
            f"   the SMTP sink holds {len(mails)} messages of this run, e.g. “{mails[0].subject if mails else '—'}”"
        )
        self.facts.webhook_types = [n.event_type.split(".", 2)[-1] for n in self.college_system.notices]
        self.facts.webhook_signatures_valid = bool(self.college_system.notices) and all(
            n.signature_valid for n in self.college_system.notices
        )
        self.say(
            f"   the college system received {len(self.college_system.notices)} signed webhooks "
            f"(all signatures valid: {self.facts.webhook_signatures_valid})"
        )

    async def final_report(self) -> None:
        self.say("11. Budget execution, and the ledger checked to the fen")
        programme_id = self.facts.programme_id
        ledger = await self.get("funding", f"/programmes/{programme_id}/ledger/verify", AUDITOR)
        self.facts.ledger = ledger
        report = await self.get("funding", "/reports/budget-execution", AUDITOR, by="programme")
        rows = report["rows"] if isinstance(report, dict) and "rows" in report else report
        mine = next((r for r in rows if r.get("programme_id") == programme_id), rows)
        self.facts.budget_execution = mine if isinstance(mine, dict) else {"rows": mine}
        for key in ("appropriated_minor", "committed_minor", "disbursed_minor", "paid_minor", "recovered_minor"):
            if key in self.facts.budget_execution:
                self.say(f"   {key.removesuffix('_minor'):<13} ¥{self.facts.budget_execution[key] / 100:>14,.2f}")
        if "execution_rate" in self.facts.budget_execution:
            self.say(f"   execution rate {self.facts.budget_execution['execution_rate']}")
        self.say(
            f"   ledger verify: consistent={ledger.get('consistent')}, trial balance {ledger.get('trial_balance')}"
        )
        for award in ("A1", "A2"):
            found = await self.get("funding", f"/awards/{self.facts.awards[award]}", AUDITOR)
            self.facts.tranche_statuses[award] = [t["status"] for t in found["tranches"]]


async def tell(access: PlatformAccess, narrate: Narrate = print, interlude: Interlude = no_interlude) -> Facts:
    try:
        return await Story(access, narrate, interlude).tell()
    finally:
        await access.close()
