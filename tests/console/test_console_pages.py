"""The console's second set of pages in a real browser against the real stack: funding's
maker-checker on grants, partial tranche approvals, recoveries (approve, settle, write
off) and terminations, each second step refused to the person who did the first (the funding
service's refusal, shown in the page); agreement drafting and signing; membership,
council and certification moves; evidence against targets. Every page visited is
screenshotted and checked with axe-core, in zh-CN and in English."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from alliance_devstack.demo.access import Actor
from alliance_devstack.demo.story import credit_code
from tests.console.conftest import WAIT_S, ConsoleStack, Visitor, api_call, api_get, wait_for

pytestmark = pytest.mark.infra

OFFICER = Actor("funding_officer", "officer-wang")
APPROVER = "approver-zhou"
ADMIN = Actor("registry_admin", "admin-chen")
MAKER_CHECKER = {"zh-CN": "经办与审批分离", "en": "maker-checker"}


def approved_application(stack: ConsoleStack) -> tuple[str, str]:
    """A programme (half the award on award, half released by hand) and college-b's
    application to it, approved by the officer: (programme id, application id)."""
    now = datetime.now(UTC)
    created = api_call(stack, "funding", "POST", "/programmes", OFFICER, {
        "name": f"审批分离专项 {stack.run}", "fiscal_year": now.year, "appropriated_minor": 10_000_000_00,
        "opens_at": (now - timedelta(days=1)).isoformat(), "closes_at": (now + timedelta(days=60)).isoformat(),
        "eligibility": {"lead_partner_kinds": ["college"], "require_certified_enterprise": False,
                        "require_active_agreement": True, "region_prefix": None},
        "award_cap_minor": 2_000_000_00, "min_cofunding_bp": 0,
        "tranche_template": [{"name": "启动资金", "share_bp": 5000, "release": {"kind": "on_award"}},
                             {"name": "结项拨付", "share_bp": 5000, "release": {"kind": "manual"}}],
    })  # fmt: skip
    assert created.status_code == 201, created.text
    programme_id = created.json()["programme_id"]
    opened = api_call(stack, "funding", "POST", f"/programmes/{programme_id}/open", OFFICER, {},
                      created.headers["etag"])  # fmt: skip
    assert opened.status_code == 200, opened.text
    college = Actor("college", "college-b-staff", stack.alliance.partners["college-b"])
    draft = api_call(stack, "funding", "POST", "/applications", college, {
        "programme_id": programme_id, "agreement_id": stack.alliance.agreements["other"],
        "requested_minor": 1_000_000_00, "cofunding_minor": 0,
        "budget_lines": [{"category": "equipment", "amount_minor": 1_000_000_00}],
    })  # fmt: skip
    assert draft.status_code == 201, draft.text
    application_id = draft.json()["application_id"]

    def submitted() -> httpx.Response | None:
        # Refused until funding has learned of the agreement through the registry's events.
        answer = api_call(stack, "funding", "POST", f"/applications/{application_id}/submit", college, {},
                          draft.headers["etag"])  # fmt: skip
        return answer if answer.status_code == 200 else None

    sent = wait_for(submitted, "the application to pass eligibility")
    reviewing = api_call(stack, "funding", "POST", f"/applications/{application_id}/review", OFFICER, {},
                         sent.headers["etag"])  # fmt: skip
    decision = {"decision": "approve", "reason": "材料齐全", "approved_minor": 1_000_000_00}
    decided = api_call(stack, "funding", "POST", f"/applications/{application_id}/decision", OFFICER, decision,
                       reviewing.headers["etag"])  # fmt: skip
    assert decided.status_code == 200, decided.text
    return programme_id, application_id


def refused_with(me: Visitor, text: str, name: str) -> None:
    expect(me.page.locator(".refusal").first).to_contain_text(text)
    me.look(name)


def test_maker_checker_on_grants_tranches_recoveries_and_terminations(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    programme_id, application_id = approved_application(stack)
    me = visitor_for("zh-CN")
    page = me.page

    # The officer who approved the application, as approver, may not grant its award.
    me.sign_in("funding_approver", OFFICER.sub)
    me.open_menu("/funding/approvals", "mc-grant-own")
    own = page.locator("#grants tr.own", has_text=application_id)
    expect(own).to_have_count(1)
    own.locator("button").click()
    refused_with(me, MAKER_CHECKER["zh-CN"], "mc-grant-refused")
    # A second person grants it.
    me.sign_in("funding_approver", APPROVER)
    me.open_menu("/funding/approvals", "mc-grants")
    page.locator(f"form[action='/funding/applications/{application_id}/award'] button").click()
    me.done()
    auditor = Actor("auditor", "auditor-ma")
    awards = wait_for(
        lambda: api_get(stack, "funding", "/awards", auditor, programme_id=programme_id)["items"], "the award"
    )
    award_path = f"/funding/awards/{awards[0]['award_id']}"

    # The officer prepares the start-up tranche (¥500,000.00); the approver approves less.
    me.sign_in("funding_officer", OFFICER.sub)
    me.until(award_path, "li.tranche[data-status=eligible]", "mc-award-eligible")
    # The award names its programme (a link to it), not its id.
    expect(page.locator(f"dl.facts a[href='/funding/programmes/{programme_id}']")).to_have_text(
        f"审批分离专项 {stack.run}"
    )
    page.click("form[action$='/request'] button")
    expect(page.locator("li.tranche[data-status=requested]")).to_be_visible()
    me.sign_in("funding_approver", APPROVER)
    me.go(award_path, "mc-award-to-approve")
    tranche = page.locator("li.tranche[data-status=requested]")
    tranche.locator("input[name=approved]").fill("300000")
    tranche.locator("button.primary").click()
    # Less than scheduled without a reason: the funding service's refusal, at the field.
    expect(page.locator("li.tranche .error").first).to_contain_text("理由")
    me.look("mc-partial-refused")
    tranche = page.locator("li.tranche[data-status=requested]")
    expect(tranche.locator("input[name=approved]")).to_have_value("300000")
    tranche.locator("input[name=reason]").fill("设备采购低于预算")
    tranche.locator("button.primary").click()
    me.done()
    kept = page.locator("p.remainder[data-released=no]")
    expect(kept).to_contain_text("200,000.00")
    me.look("mc-partial-approved")
    page.click("form[action$='/release-remainder'] button")
    me.done()
    expect(page.locator("p.remainder[data-released=yes]")).to_contain_text("200,000.00")
    me.look("mc-remainder-released")

    # Paid; a recovery proposed by the officer, refused to them as approver, approved by another.
    me.sign_in("funding_officer", OFFICER.sub)
    me.go(award_path, "mc-award-approved")
    page.fill("input[name=bank_reference]", "ICBC-MC-0001")
    page.click("form[action$='/payment'] button")
    expect(page.locator("li.tranche[data-status=paid]")).to_be_visible()
    page.fill("#recovery-amount", "50000")
    page.fill("#recovery-reason", "违规列支")
    page.click("form[action$='/recoveries'] button[type=submit]")
    me.done()
    me.sign_in("funding_approver", OFFICER.sub)
    me.open_menu("/funding/approvals", "mc-recovery-own")
    page.locator("#recoveries-to-approve tr.own button").click()
    refused_with(me, MAKER_CHECKER["zh-CN"], "mc-recovery-refused")
    me.sign_in("funding_approver", APPROVER)
    me.open_menu("/funding/approvals", "mc-recovery")
    page.locator(f"#recoveries-to-approve form[action^='{award_path}/recoveries/'] button").click()
    me.done()

    # The officer records a partial repayment: the outstanding amount is the service's.
    me.sign_in("funding_officer", OFFICER.sub)
    me.go(award_path, "mc-recovery-ordered")
    settle = page.locator("form.settle").first
    settle.locator("input[name=amount]").fill("20000")
    settle.locator("input[name=bank_reference]").fill("BOC-REPAY-01")
    settle.locator("button").click()
    me.done()
    expect(page.locator("#recoveries td.outstanding").first).to_contain_text("30,000.00")
    expect(page.locator("#recoveries tr.settlement")).to_contain_text("BOC-REPAY-01")
    me.look("mc-recovery-settled")

    # The rest written off: proposed by the officer, refused to them as approver, approved by another.
    page.locator("form.write-off input[name=reason]").fill("追回无望，报批核销")
    page.locator("form.write-off button").click()
    me.done()
    expect(page.locator("#recoveries tr.write-off")).to_be_visible()
    me.sign_in("funding_approver", OFFICER.sub)
    me.open_menu("/funding/approvals", "mc-write-off-own")
    page.locator("#write-offs-to-approve tr.own button").click()
    refused_with(me, MAKER_CHECKER["zh-CN"], "mc-write-off-refused")
    me.sign_in("funding_approver", APPROVER)
    me.open_menu("/funding/approvals", "mc-write-offs")
    page.locator(f"#write-offs-to-approve form[action^='{award_path}/recoveries/'] button").click()
    me.done()
    me.sign_in("funding_officer", OFFICER.sub)
    me.go(award_path, "mc-written-off")
    expect(page.locator("#recoveries td.status").first).to_contain_text("已核销")

    # Termination: proposed by the officer, refused to them as approver, approved by another.
    page.fill("#terminate-reason", "协议合作方退出")
    page.click("#terminate button[type=submit]")
    me.done()
    expect(page.locator("#proposed-termination")).to_be_visible()
    me.look("mc-termination-proposed")
    me.sign_in("funding_approver", OFFICER.sub)
    me.open_menu("/funding/approvals", "mc-termination-own")
    page.locator("#terminations-to-approve tr.own button").click()
    refused_with(me, MAKER_CHECKER["zh-CN"], "mc-termination-refused")
    me.sign_in("funding_approver", APPROVER)
    me.open_menu("/funding/approvals", "mc-terminations")
    page.locator(f"#terminations-to-approve form[action='{award_path}/terminate/approve'] button").click()
    me.done()
    me.go(award_path, "mc-terminated")
    expect(page.locator("dl.facts .s-terminated")).to_be_visible()

    # The same pages in English.
    english = visitor_for("en")
    english.sign_in("funding_officer", OFFICER.sub)
    english.go(award_path, "mc-terminated")
    expect(english.page.locator("#recoveries")).to_contain_text("BOC-REPAY-01")
    english.sign_in("funding_approver", APPROVER)
    english.open_menu("/funding/approvals", "mc-approvals")
    expect(english.page.locator("#terminations-to-approve")).to_contain_text("No termination awaits approval.")
    violations = {**me.violations, **english.violations}
    assert not violations, json.dumps(violations, ensure_ascii=False, indent=1)


AGREEMENT_TEXTS = {
    "zh-CN": {"awaiting": "待签署", "active": "生效", "target": "实习岗位数"},
    "en": {"awaiting": "Awaiting signature", "active": "Active", "target": "Internship posts"},
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_an_agreement_is_drafted_signed_by_its_parties_and_brought_into_force(
    language: str, console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    texts = AGREEMENT_TEXTS[language]
    partners = stack.alliance.partners
    me = visitor_for(language)
    page = me.page
    me.sign_in("registry_admin", ADMIN.sub)
    me.open_menu("/registry/agreements", "agreements-admin")
    title = f"实训基地共建协议 {language} {stack.run}"
    page.fill("#agreement-title", title)
    # The same partner twice: the registry's refusal, the title typed kept.
    page.fill("#agreement-party1_id", partners["enterprise"])
    page.select_option("#agreement-party1_role", "lead")
    page.fill("#agreement-party2_id", partners["enterprise"])
    page.click("#draft-agreement button[type=submit]")
    expect(page.locator("#draft-agreement .refusal")).to_be_visible()
    expect(page.locator("#agreement-title")).to_have_value(title)
    me.look("agreement-refused")
    page.fill("#agreement-party1_id", partners["college-b"])
    page.fill("#agreement-party2_id", partners["enterprise"])
    page.fill("#agreement-ob1_party", partners["enterprise"])
    page.select_option("#agreement-ob1_metric", "internship_posts")
    page.fill("#agreement-ob1_quantity", "6")
    page.click("#draft-agreement button[type=submit]")
    me.done()
    page.click("#drafted")
    agreement_path = page.url.removeprefix(stack.url)
    agreement_id = agreement_path.rsplit("/", 1)[-1]
    expect(page.locator("#parties")).to_contain_text(texts["awaiting"])
    me.look("agreement-drafted")

    # Each party's staff sign for their own organisation.
    for key, role in (("college-b", "college"), ("enterprise", "enterprise")):
        me.sign_in(role, f"{key}-signer", partners[key])
        me.go(f"/partner/agreements/{agreement_id}", f"agreement-to-sign-{key}")
        page.click("#sign button")
        me.done()
        expect(page.locator(f"#parties tr[data-party='{partners[key]}'] .s-signed")).to_be_visible()
    me.look("agreement-signed")
    # Its start date has come: the registry brings it into force with the last signature.
    me.sign_in("registry_admin", ADMIN.sub)
    me.go(agreement_path, "agreement-active")
    expect(page.locator("#agreement-status")).to_contain_text(texts["active"])

    # Enterprise staff see each obligation's target against the evidence so far (ECharts).
    me.sign_in("enterprise", "enterprise-staff", partners["enterprise"])
    me.open_menu("/partner/agreements", "my-agreements")
    page.click(f"a:text-is('{title}')")
    expect(page.locator("#evidence-chart svg")).to_be_visible()
    expect(page.locator("#evidence")).to_contain_text(texts["target"])
    me.look("evidence-against-targets")
    # Another college's staff may not open it.
    me.sign_in("college", "college-a-staff", partners["college-a"])
    answer = page.goto(f"{stack.url}/partner/agreements/{agreement_id}")
    assert answer is not None
    assert answer.status == 403
    assert title not in page.content()
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


ALLIANCE_TEXTS = {
    "zh-CN": {"admitted": "已入会", "certified": "已认定", "revoked": "已撤销"},
    "en": {"admitted": "Admitted", "certified": "Certified", "revoked": "Revoked"},
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_registry_admin_moves_membership_certification_and_council_seats(
    language: str, console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    texts = ALLIANCE_TEXTS[language]
    registered = api_call(stack, "registry", "POST", "/partners", ADMIN, {
        "kind": "enterprise", "name_zh": f"深圳市新入会企业{language}{stack.run}", "credit_code": credit_code(),
        "region_code": "440305", "sector_code": "C34", "address": "深圳市宝安区",
        "contacts": [{"name": "李经理", "email": f"li.{language}.{stack.run}@console.test",
                      "phone": "+86 755 8888 0000", "position": "人力资源部"}],
        "enterprise": {"size": "small", "headcount": 80},
    })  # fmt: skip
    assert registered.status_code == 201, registered.text
    partner_id = registered.json()["partner_id"]
    me = visitor_for(language)
    page = me.page
    me.sign_in("registry_admin", ADMIN.sub)
    me.open_menu("/registry/alliance", "alliance-admin")

    # Membership: the application recorded, then admitted.
    page.fill("#membership-partner_id", partner_id)
    page.fill("#membership-reason", "入会申请书")
    page.click("#membership-form button")
    me.done()
    row = page.locator(f"tr[data-member='{partner_id}']")
    row.locator("select").select_option("admit")
    row.locator("input[name=reason]").fill("理事会审议通过")
    row.locator("button").click()
    me.done()
    expect(page.locator(f"tr[data-member='{partner_id}']")).to_contain_text(texts["admitted"])

    # Certification: applied, certified with its number, then revoked.
    page.fill("#certification-partner_id", partner_id)
    page.click("#certification-form button")
    me.done()
    certification = page.locator("#certifications tr", has_text=partner_id)
    number = f"粤产教融合〔{datetime.now(UTC).year}〕{language}{stack.run}号"
    certification.locator("input[name=certificate_number]").fill(number)
    certification.locator("form.grant button").click()
    me.done()
    certification = page.locator("#certifications tr", has_text=partner_id)
    expect(certification).to_contain_text(number)
    expect(certification).to_contain_text(texts["certified"])
    me.look("alliance-certified")
    certification.locator("input[name=reason]").fill("年度复核不合格")
    certification.locator("button").click()
    me.done()
    expect(page.locator("#certifications tr", has_text=partner_id)).to_contain_text(texts["revoked"])

    # Council: a lone seat cannot constitute it (the registry's composition rule, shown).
    council_exists = page.locator("#seats").count() > 0
    page.fill("#seat-partner_id", partner_id)
    page.fill("#seat-representative", "李明")
    page.fill("#seat-reason", "会员大会选举")
    page.click("#seat-form button")
    page.locator(".flash, .refusal").first.wait_for(timeout=WAIT_S * 1000)
    if not council_exists:
        expect(page.locator("#seat-form .refusal")).to_be_visible()
        expect(page.locator("#seat-representative")).to_have_value("李明")
    me.look("alliance-seat")
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)
