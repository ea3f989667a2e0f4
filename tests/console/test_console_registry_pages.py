"""The console's third set of pages in a real browser against the real stack: an agreement
amended (the parties sign it on their own pages), suspended, resumed and terminated by the
registry admin; a partner's profile and contacts edited (the admin, and staff their own
contacts); the delivery log for an auditor; agency staff recording and reading the
incentive register, downloading it through the console; and each of these pages
keeping one partner's data from another's staff. Every page visited is screenshotted
(1280×800, some at phone width) and checked with axe-core."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from alliance_devstack.demo.access import Actor
from alliance_devstack.demo.story import credit_code
from tests.console.conftest import ConsoleStack, Visitor, api_call, api_get, wait_for

# The first test also starts the module's stack and waits for the services to settle through Kafka.
pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]

ADMIN = Actor("registry_admin", "admin-chen")
OFFICER = Actor("funding_officer", "officer-wang")
OPS = Actor("ops", "ops-liu")
PHONE = {"width": 390, "height": 844}


def api_json(stack: ConsoleStack, service: str, method: str, path: str, actor: Actor, body: Any = None) -> Any:
    answer = api_call(stack, service, method, path, actor, body)
    assert answer.status_code < 300, answer.text
    return answer.json()


def agency(stack: ConsoleStack, name: str) -> str:
    """A government agency registered in the registry (the incentive register names it)."""
    body = {
        "kind": "government_agency", "name_zh": f"{name}{stack.run}", "credit_code": credit_code(),
        "region_code": "440305", "sector_code": "S92", "address": "深圳市福田区",
    }  # fmt: skip
    return str(api_json(stack, "registry", "POST", "/partners", ADMIN, body)["partner_id"])


def submitted_application(stack: ConsoleStack, agreement_id: str) -> tuple[str, str]:
    """An open programme and college-a's application under it, submitted: (programme id, application id)."""
    now = datetime.now(UTC)
    created = api_call(stack, "funding", "POST", "/programmes", OFFICER, {
        "name": f"协议状态专项 {stack.run}", "fiscal_year": now.year, "appropriated_minor": 10_000_000_00,
        "opens_at": (now - timedelta(days=1)).isoformat(), "closes_at": (now + timedelta(days=60)).isoformat(),
        "eligibility": {"lead_partner_kinds": ["college"], "require_certified_enterprise": False,
                        "require_active_agreement": True, "region_prefix": None},
        "award_cap_minor": 2_000_000_00, "min_cofunding_bp": 0,
        "tranche_template": [{"name": "启动资金", "share_bp": 10000, "release": {"kind": "on_award"}}],
    })  # fmt: skip
    assert created.status_code == 201, created.text
    programme_id = created.json()["programme_id"]
    path = f"/programmes/{programme_id}/open"
    opened = api_call(stack, "funding", "POST", path, OFFICER, {}, created.headers["etag"])
    assert opened.status_code == 200, opened.text
    college = Actor("college", "college-a-staff", stack.alliance.partners["college-a"])
    draft = api_call(stack, "funding", "POST", "/applications", college, {
        "programme_id": programme_id, "agreement_id": agreement_id, "requested_minor": 500_000_00,
        "cofunding_minor": 0, "budget_lines": [{"category": "equipment", "amount_minor": 500_000_00}],
    })  # fmt: skip
    assert draft.status_code == 201, draft.text
    application_id = draft.json()["application_id"]

    def submitted() -> bool:
        # Refused until funding has learned of the agreement through the registry's events.
        path = f"/applications/{application_id}/submit"
        return api_call(stack, "funding", "POST", path, college, {}, draft.headers["etag"]).status_code == 200

    wait_for(submitted, "the application to pass eligibility")
    return programme_id, application_id


def at_phone_width(me: Visitor, name: str) -> None:
    me.page.set_viewport_size(PHONE)
    me.look(name + "-phone")
    me.page.set_viewport_size({"width": 1280, "height": 800})


def submit_unchecked(me: Visitor, form: str) -> None:
    """Send the form as typed, past the browser's own checks, so the service's answer shows."""
    me.page.locator(form).evaluate("f => { f.noValidate = true; }")
    me.page.locator(f"{form} button[type=submit]").click()


def refused_at(me: Visitor, field_id: str, name: str) -> None:
    """The service's refusal shown next to the field that caused it."""
    expect(me.page.locator(f"#{field_id}-error")).to_be_visible()
    me.look(name)


def test_amend_suspend_resume_and_terminate_an_agreement(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    alliance = stack.alliance
    agreement_id = alliance.agreements["zh-CN"]
    me = visitor_for("zh-CN")
    page = me.page

    programme_id, application_id = submitted_application(stack, agreement_id)
    me.sign_in("registry_admin", ADMIN.sub)
    me.go(f"/registry/agreements/{agreement_id}", "agreement-admin")
    # No summary of what changes: the registry refuses; its error sits at the field, the rest kept.
    amend = page.locator("form#amend")
    amend.locator("#amendment-ob1_quantity").fill("6")
    submit_unchecked(me, "form#amend")
    refused_at(me, "amendment-summary", "amendment-refused")
    expect(page.locator("#amendment-summary-error")).to_have_text("请填写此项。")
    expect(page.locator("#amendment-ob1_quantity")).to_have_value("6")
    page.fill("#amendment-summary", "实习岗位由每年4个增至6个")
    page.locator("form#amend button[type=submit]").click()
    me.done()
    expect(page.locator("#pending-amendment")).to_contain_text("实习岗位由每年4个增至6个")
    me.look("amendment-proposed")

    # Each party signs the amendment for itself on its own agreement page; the last signature puts it in force.
    for key, role in (("college-a", "college"), ("enterprise", "enterprise")):
        me.sign_in(role, f"{key}-staff", alliance.partners[key])
        me.go(f"/partner/agreements/{agreement_id}", f"amendment-to-sign-{key}")
        page.click("form#sign-amendment button")
        me.done()
    expect(page.locator("#pending-amendment")).to_have_count(0)
    expect(page.locator("#obligations td.num").first).to_have_text("6")
    # The amendment history on the party's page: the draft, and the amendment in force with what it changed.
    history = page.locator("#amendment-history")
    expect(history.locator("tr[data-version='2']")).to_contain_text("实习岗位由每年4个增至6个")
    expect(history.locator("tr[data-version='2'] .s-current")).to_be_visible()
    expect(history.locator("tr[data-version='1']")).to_contain_text("起草")
    expect(history.locator("tr[data-version='1']")).to_contain_text("× 4")
    me.look("amendment-in-force")

    # Suspension with its reason, then resumption; termination is final.
    me.sign_in("registry_admin", ADMIN.sub)
    me.go(f"/registry/agreements/{agreement_id}", "agreement-active")
    expect(page.locator("#amendment-history tr[data-version]")).to_have_count(2)
    submit_unchecked(me, "form#move-suspend")
    refused_at(me, "agreement-suspend-reason", "suspend-refused")
    page.fill("#agreement-suspend-reason", "企业停产整顿")
    page.locator("form#move-suspend button").click()
    me.done()
    expect(page.locator("#agreement-status .s-suspended")).to_be_visible()
    expect(page.locator("#suspension")).to_contain_text("企业停产整顿")
    expect(page.locator("form#move-suspend")).to_have_count(0)
    me.look("agreement-suspended")
    at_phone_width(me, "agreement-suspended")
    # The officer's queue names the rule the suspended agreement fails, as funding judges it now.
    queue = f"/funding/applications?programme_id={programme_id}"
    me.sign_in("funding_officer", OFFICER.sub)
    me.until(queue, "td.eligibility[data-eligible=no]", "queue-ineligible")
    expect(page.locator("td.eligibility")).to_contain_text("协议未生效")
    me.sign_in("registry_admin", ADMIN.sub)
    me.go(f"/registry/agreements/{agreement_id}", "agreement-to-resume")
    page.fill("#agreement-resume-reason", "整改完成")
    page.locator("form#move-resume button").click()
    me.done()
    expect(page.locator("#agreement-status .s-active")).to_be_visible()
    me.sign_in("funding_officer", OFFICER.sub)
    me.until(queue, "td.eligibility[data-eligible=yes]", "queue-eligible")
    expect(page.locator("tr", has_text=application_id).locator("td.eligibility .s-active")).to_be_visible()
    me.sign_in("registry_admin", ADMIN.sub)

    other = alliance.agreements["en"]
    me.go(f"/registry/agreements/{other}", "agreement-to-terminate")
    page.fill("#agreement-terminate-reason", "合作方退出")
    page.locator("form#move-terminate button").click()
    me.done()
    expect(page.locator("#agreement-status .s-terminated")).to_be_visible()
    expect(page.locator("form#amend")).to_have_count(0)
    expect(page.locator("form[id^=move-]")).to_have_count(0)
    me.look("agreement-terminated")

    # The auditor's delivery log: the suspension notified the parties (status, attempts, last error per row).
    me.sign_in("auditor", "auditor-ma")
    me.open_menu("/notifications/deliveries", "deliveries")
    me.until(
        f"/notifications/deliveries?partner_id={alliance.partners['college-a']}",
        "#deliveries tr[data-delivery]",
        "deliveries-college-a",
    )
    rows = page.locator("#deliveries tr[data-delivery]")
    assert all(alliance.partners["college-a"] in text for text in rows.all_inner_texts())
    # Newest first, as an operator reads a log.
    created = [datetime.fromisoformat(at) for at in rows.evaluate_all("rows => rows.map(r => r.dataset.created)")]
    assert created == sorted(created, reverse=True), created
    at_phone_width(me, "deliveries")
    csv_answer = page.request.get(stack.url + f"/downloads/deliveries.csv?partner_id={alliance.partners['college-a']}")
    assert csv_answer.ok, csv_answer.status
    assert "text/csv" in csv_answer.headers["content-type"]
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def test_profiles_and_contacts_are_edited_by_whom_the_registry_allows(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    alliance = stack.alliance
    college_b = alliance.partners["college-b"]
    me = visitor_for("zh-CN")
    page = me.page

    me.sign_in("registry_admin", ADMIN.sub)
    me.open_menu("/registry/partners", "partners-admin")
    me.go(f"/registry/partners/{college_b}", "partner-profile-admin")
    page.fill("#profile-name_en", "Guangdong Industry Polytechnic")
    page.fill("#profile-website", "https://www.gdip.edu.cn")
    page.locator("form#edit-profile button[type=submit]").click()
    me.done()
    expect(page.locator("#profile")).to_contain_text("https://www.gdip.edu.cn")
    # A contact's e-mail the registry refuses: shown at that row's field.
    page.fill("#contacts-c1_email", "not-an-address")
    submit_unchecked(me, "form#edit-contacts")
    refused_at(me, "contacts-c1_email", "contacts-refused")
    expect(page.locator("#contacts-c1_email-error")).to_contain_text("电子邮件")
    expect(page.locator("#contacts-c1_email")).to_have_value("not-an-address")

    # College staff keep their own contacts; another partner's profile is not their page.
    me.sign_in("college", "college-a-staff", alliance.partners["college-a"])
    me.open_menu("/partner/profile", "own-profile")
    expect(page.locator("form#edit-profile")).to_have_count(0)
    page.fill("#contacts-c2_name", "王老师")
    page.fill("#contacts-c2_email", f"wang.{stack.run}@console.test")
    page.fill("#contacts-c2_phone", "+86 755 1234 5678")
    page.fill("#contacts-c2_position", "校企合作处")
    page.locator("form#edit-contacts button[type=submit]").click()
    me.done()
    expect(page.locator("#contacts-c2_name")).to_have_value("王老师")
    at_phone_width(me, "own-profile")
    assert college_b not in page.content()
    page.goto(stack.url + f"/registry/partners/{college_b}")
    assert "Guangdong Industry Polytechnic" not in page.content()
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def test_agency_staff_record_and_read_their_incentive_register(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    enterprise = stack.alliance.partners["enterprise"]
    recorder, bystander = agency(stack, "深圳市发展和改革委员会"), agency(stack, "深圳市税务局")
    reference = f"深发改〔{stack.run}〕1号"
    for language, enterprise_header in (("zh-CN", "企业名称"), ("en", "Enterprise name")):
        me = visitor_for(language)
        page = me.page
        me.sign_in("agency_staff", f"agency-staff-{language}", recorder)
        me.open_menu("/incentives", f"incentives-{language}")
        if language == "zh-CN":
            # A financial incentive without its amount: the registry's rule, at the amount field.
            page.fill("#incentive-partner_id", enterprise)
            page.select_option("#incentive-kind", "financial")
            page.fill("#incentive-reference", reference)
            page.locator("form#record-incentive button[type=submit]").click()
            refused_at(me, "incentive-amount", "incentive-refused")
            expect(page.locator("#incentive-reference")).to_have_value(reference)
            page.fill("#incentive-amount", "120000.00")
            page.locator("form#record-incentive button[type=submit]").click()
            me.done()
            at_phone_width(me, "incentives")
        row = page.locator("#incentives tr[data-entry]", has_text=reference)
        expect(row).to_contain_text("120,000.00")
        me.look(f"incentive-recorded-{language}")
        csv_answer = page.request.get(stack.url + "/downloads/incentives.csv")
        assert csv_answer.ok, csv_answer.status
        lines = csv_answer.body().decode("utf-8-sig").splitlines()
        assert enterprise_header in lines[0].split(","), lines[0]
        assert any(reference in line for line in lines[1:]), lines
        xlsx_answer = page.request.get(stack.url + "/downloads/incentives.xlsx")
        assert xlsx_answer.ok, xlsx_answer.status
        sheet = load_workbook(io.BytesIO(xlsx_answer.body())).active
        assert sheet is not None
        assert enterprise_header in [cell.value for cell in sheet[1]]
        assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)

    # Another agency sees none of it, in the page or the download; the enterprise sees its own entry.
    me = visitor_for("zh-CN")
    me.sign_in("agency_staff", "agency-staff-tax", bystander)
    me.open_menu("/incentives", "incentives-other-agency")
    assert reference not in me.page.content()
    assert reference not in me.page.request.get(stack.url + "/downloads/incentives.csv").body().decode("utf-8-sig")
    me.sign_in("enterprise", "enterprise-staff", enterprise)
    me.open_menu("/incentives", "incentives-enterprise")
    expect(me.page.locator("#incentives")).to_contain_text(reference)
    expect(me.page.locator("form#record-incentive")).to_have_count(0)
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def partner_heard_at_once(stack: ConsoleStack) -> tuple[str, str]:
    """A new enterprise whose staff switched quiet hours off (the default 22:00–07:00 China
    time holds e-mail back), then recorded applying to join: the registry's notice is
    e-mailed to it at once and the SMTP sink takes it. Its id and name."""
    name = f"深圳市即时通知科技有限公司{stack.run}"
    body = {
        "kind": "enterprise", "name_zh": name, "credit_code": credit_code(), "region_code": "440305",
        "sector_code": "C34", "address": "深圳市南山区", "enterprise": {"size": "small", "headcount": 40},
        "contacts": [{"name": "联络人", "email": f"notice.{stack.run}@console.test", "phone": "+86 755 0000 0001",
                      "position": "office"}],
    }  # fmt: skip
    partner_id = str(api_json(stack, "registry", "POST", "/partners", ADMIN, body)["partner_id"])
    staff = Actor("enterprise", "notice-staff", partner_id)
    path = f"/recipients/partner:{partner_id}/preferences"
    chosen = api_call(stack, "notifications", "PUT", path, staff, {"muted": {}, "quiet_hours": None}, '"0"')
    assert chosen.status_code == 200, chosen.text
    api_json(stack, "registry", "POST", "/memberships", ADMIN, {"partner_id": partner_id, "reason": "join"})
    return partner_id, name


def test_operations_resend_a_final_delivery_and_auditors_only_read_the_log(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    partner_id, name = partner_heard_at_once(stack)
    sent = {"partner_id": partner_id, "channel": "email", "status": "sent"}
    wait_for(lambda: api_get(stack, "notifications", "/deliveries", OPS, **sent)["items"], "a sent e-mail")
    log = f"/notifications/deliveries?partner_id={partner_id}&channel=email&status=sent"
    me = visitor_for("zh-CN")
    page = me.page

    # An auditor reads the log and is offered no resend: the notifications service lets only operations resend.
    me.sign_in("auditor", "auditor-ma")
    me.go(log, "deliveries-auditor")
    expect(page.locator("#deliveries tr[data-delivery]").first).to_be_visible()
    expect(page.locator("form.resend")).to_have_count(0)

    me.sign_in("ops", OPS.sub)
    me.open_menu("/notifications/deliveries", "deliveries-ops")
    me.go(log, "deliveries-to-resend")
    expect(page.locator("#deliveries tr[data-delivery]").first).to_contain_text(name)
    page.locator("#deliveries form.resend button").first.click()
    me.done()
    resent = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", page.locator(".flash").inner_text())
    assert resent, page.locator(".flash").inner_text()
    me.look("delivery-resent-number")
    # The new delivery is in the log, sent again to the same address.
    me.until(f"/notifications/deliveries?partner_id={partner_id}&channel=email", f"tr[data-delivery='{resent[0]}']",
             "delivery-resent")  # fmt: skip
    at_phone_width(me, "delivery-resent")

    # A refusal is the service's, shown above the log: a delivery it does not know.
    me.go(log, "deliveries-to-resend-again")
    page.locator("#deliveries form.resend").first.evaluate(
        "f => { f.action = '/notifications/deliveries/no-such-delivery/resend'; }"
    )
    page.locator("#deliveries form.resend button").first.click()
    expect(page.locator("#resend-refused .refusal")).to_contain_text("通知服务中没有该投递记录")
    expect(page.locator("#resend-refused")).to_contain_text("no-such-delivery")
    me.look("resend-refused")
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def test_notification_preferences_are_each_persons_own(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    stack = console_stack
    college_a, college_b = stack.alliance.partners["college-a"], stack.alliance.partners["college-b"]
    me = visitor_for("zh-CN")
    page = me.page

    # College staff: one click from home, their partner's preferences (everything on, quiet hours 22:00–07:00).
    me.sign_in("college", "college-a-staff", college_a)
    me.open_menu("/notifications/preferences", "preferences")
    expect(page.locator("#recipient")).to_have_text(f"partner:{college_a}")
    expect(page.locator("#preferences input[type=checkbox]:not(:checked)")).to_have_count(0)
    expect(page.locator("#pref-quiet_start")).to_have_value("22:00")
    expect(page.locator("#quiet-hours")).to_contain_text("消息和 Webhook 从不暂缓")  # a partner has webhooks

    # Muting decisions with legal effect is the service's refusal, shown with what was ticked kept.
    page.uncheck("#pref-regulatory-email")
    page.uncheck("#pref-operational-email")
    page.locator("#preferences button[type=submit]").click()
    expect(page.locator("#preferences .refusal")).to_contain_text("不能关闭")
    expect(page.locator("#pref-regulatory-email")).not_to_be_checked()
    expect(page.locator("#pref-operational-email")).not_to_be_checked()
    me.look("preferences-refused")

    # A quiet-hours window that starts when it ends: refused next to its end time.
    page.check("#pref-regulatory-email")
    page.fill("#pref-quiet_start", "08:00")
    page.fill("#pref-quiet_end", "08:00")
    page.locator("#preferences button[type=submit]").click()
    expect(page.locator("#pref-quiet_end-error")).to_be_visible()
    expect(page.locator("#pref-operational-email")).not_to_be_checked()
    me.look("preferences-quiet-refused")

    # Announcements only in the inbox, quiet hours off: saved, and shown so when the page is opened again.
    page.uncheck("#pref-digest_only-email")
    page.uncheck("#pref-digest_only-webhook")
    page.uncheck("#pref-quiet_on")
    page.locator("#preferences button[type=submit]").click()
    me.done()
    me.go("/notifications/preferences", "preferences-saved")
    unticked = page.locator("#preferences input[type=checkbox]:not(:checked)")
    names = sorted(unticked.evaluate_all("boxes => boxes.map(b => b.name)"))
    assert names == ["digest_only-email", "digest_only-webhook", "operational-email", "quiet_on"], names
    at_phone_width(me, "preferences")
    # The inbox leads there too.
    me.go("/partner/inbox", "inbox-with-preferences")
    expect(page.locator("a[href='/notifications/preferences']").first).to_be_visible()

    # Another college's staff see their own partner's (untouched) preferences, and sending
    # college-a's recipient from their page is refused by the notifications service.
    me.sign_in("college", "college-b-staff", college_b)
    me.open_menu("/notifications/preferences", "preferences-other-college")
    expect(page.locator("#recipient")).to_have_text(f"partner:{college_b}")
    expect(page.locator("#preferences input[type=checkbox]:not(:checked)")).to_have_count(0)
    assert college_a not in page.content()
    page.locator("#preferences input[name=recipient_id]").evaluate(f"i => {{ i.value = 'partner:{college_a}'; }}")
    page.uncheck("#pref-operational-email")
    page.locator("#preferences button[type=submit]").click()
    expect(page.locator("#preferences .refusal")).to_contain_text("您无权执行此操作")
    me.look("preferences-other-refused")
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)

    # In English, a funding officer's own (a person's, not a partner's) preferences.
    english = visitor_for("en")
    english.sign_in("funding_officer", OFFICER.sub)
    english.open_menu("/notifications/preferences", "preferences-officer")
    expect(english.page.locator("h1")).to_have_text("Notification preferences")
    expect(english.page.locator("#recipient")).to_have_text(f"member:{OFFICER.sub}")
    # Webhooks reach a partner's registered endpoints: a person is offered e-mail and inbox only.
    offered = english.page.locator("#preferences thead th[scope=col]").all_inner_texts()[1:]
    assert offered == ["E-mail", "Inbox"], offered
    expect(english.page.locator("#preferences input[name$='-webhook']")).to_have_count(0)
    expect(english.page.locator("#quiet-hours")).to_contain_text("the inbox is never held")
    assert not english.violations, json.dumps(english.violations, ensure_ascii=False, indent=1)
