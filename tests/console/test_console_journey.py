"""The console in a real browser (Debian's chromium, headless, driven by Playwright) against
the real stack: the main journey of the issue through the pages, in zh-CN and in English,
with screenshots and an axe-core check of every page visited; and a college never seeing
another college's data through the pages."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from alliance_devstack.demo.access import Actor
from alliance_devstack.demo.story import credit_code
from tests.console.conftest import LAST_YEAR, ConsoleStack, Visitor, api_get, wait_for

# Each journey walks a dozen people through the pages while the services settle through
# Kafka; on the shared two-core machine (load 27 seen) that outlasts the default 300 s.
pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]

OFFICER = "officer-zhang"
APPROVER = "approver-li"
SUPERVISOR = Actor("supervisor", "supervisor-zhao")
AUDITOR = Actor("auditor", "auditor-ma")


TEXTS = {
    "zh-CN": {"programmes": "资金专项", "maker_checker": "经办与审批分离", "closed": "已关闭", "paid": "已支付",
              "appropriated": "¥5,000,000.00", "day": r"\d{4}年\d{1,2}月\d{1,2}日"},
    "en": {"programmes": "Programmes", "maker_checker": "maker-checker", "closed": "Closed", "paid": "Paid",
           "appropriated": "CN¥5,000,000.00", "day": r"[A-Z][a-z]{2} \d{1,2}, \d{4}"},
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_main_journey(language: str, console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]) -> None:
    texts = TEXTS[language]
    me = visitor_for(language)
    page = me.page
    alliance = console_stack.alliance
    college_id = alliance.partners["college-a"]
    agreement_id = alliance.agreements[language]
    agreement_title = f"数控技术订单班协议 {language} {console_stack.run}"
    name = f"产教融合专项 {language} {console_stack.run}"

    # 1. The funding officer drafts a programme with a tranche template and opens it.
    me.sign_in("funding_officer", OFFICER)
    me.look("home-officer")
    me.open_menu("/funding/programmes", "programmes")
    expect(page.locator("h1")).to_have_text(texts["programmes"])
    page.fill("#programme-name", name)
    page.fill("#programme-appropriated", "5,000,000.00")
    page.fill("#programme-award_cap", "2000000")
    page.click("form[action='/funding/programmes'] button[type=submit]")
    me.done()
    page.click(f"a:text-is('{name}')")
    programme_id = page.url.rsplit("/", 1)[-1]
    page.click("form[action$='/open'] button")
    expect(page.locator("dl.facts .s-open")).to_be_visible()
    # Amounts and dates follow the language the person chose in the console (the English
    # journey's browser is en-GB, its pages are the console's English).
    expect(page.locator("dl.facts")).to_contain_text(texts["appropriated"])
    expect(page.locator("dl.facts")).to_contain_text(re.compile(texts["day"]))
    me.look("programme-open")

    # 2. College staff apply (the funding service learns of the agreement through events:
    #    until then it refuses the submission and the page names the failed rule).
    me.sign_in("college", "college-a-staff", college_id)
    me.open_menu("/partner/applications", "applications-college")
    page.select_option("#programme_id", programme_id)
    page.select_option("#agreement_id", agreement_id)
    page.fill("#application-requested", "1000000")
    page.fill("#application-cofunding", "500000")
    page.fill("#application-line1_amount", "600000")
    page.fill("#application-line2_amount", "400000")
    page.click("form[action='/partner/applications'] button[type=submit]")
    me.done()

    def submitted() -> bool:
        page.goto(console_stack.url + "/partner/applications")
        button = page.locator("form[action$='/submit'] button")
        if button.count() == 0:
            return True
        button.first.click()
        page.wait_for_load_state()
        return page.locator(".refusal").count() == 0

    wait_for(submitted, "the application to pass eligibility")
    me.look("application-submitted")

    # 3. The officer reviews and approves it.
    me.sign_in("funding_officer", OFFICER)
    me.go(f"/funding/applications?programme_id={programme_id}", "queue")
    # The applicant by its registry name (and the agreement by its title), not by ids alone.
    expect(page.locator("td.applicant").first).to_contain_text(alliance.names["college-a"])
    expect(page.locator("table.queue tbody")).to_contain_text(agreement_title)
    page.click("form[action$='/review'] button")
    page.fill("input[name=reason]", "合作基础扎实，预算合理")
    page.click("form.decision button[type=submit]")
    me.done()
    expect(page.locator("td .s-approved")).to_have_count(1)
    me.look("queue-approved")
    # A second person grants the award (committing the money) from the approval queue.
    application_id = api_get(console_stack, "funding", "/applications", AUDITOR, programme_id=programme_id)["items"][0][
        "application_id"
    ]
    me.sign_in("funding_approver", APPROVER)
    me.open_menu("/funding/approvals", "approvals-grant")
    page.locator(f"form[action='/funding/applications/{application_id}/award'] button").click()
    me.done()
    me.sign_in("funding_officer", OFFICER)

    # 4. The start-up tranche becomes eligible on award; the officer prepares it.
    awards = wait_for(
        lambda: api_get(console_stack, "funding", "/awards", AUDITOR, programme_id=programme_id)["items"],
        "the award",
    )
    award_path = f"/funding/awards/{awards[0]['award_id']}"
    me.until(award_path, "li.tranche[data-status=eligible]", "award-eligible")
    page.click("form[action$='/request'] button")
    expect(page.locator("li.tranche[data-status=requested]")).to_be_visible()

    # 5. The same person, as approver, is refused by the funding service (maker-checker).
    me.sign_in("funding_approver", OFFICER)
    me.open_menu("/funding/approvals", "approvals-own")
    row = page.locator("tr.mine")
    expect(row).to_have_count(1)
    row.locator("button").click()
    expect(page.locator(".refusal")).to_contain_text(texts["maker_checker"])
    me.look("approvals-refused")

    # 6. A second person approves; the officer records the payment.
    me.sign_in("funding_approver", APPROVER)
    me.open_menu("/funding/approvals", "approvals")
    page.locator(f"form[action^='{award_path}/tranches/'] button").first.click()
    me.done()
    me.sign_in("funding_officer", OFFICER)
    me.go(award_path, "award-approved")
    page.fill("input[name=bank_reference]", "ICBC-0402-0091")
    page.click("form[action$='/payment'] button")
    expect(page.locator("li.tranche[data-status=paid]")).to_be_visible()
    me.look("award-paid")
    me.open_menu("/funding/budget", "budget")
    expect(page.locator("#budget-chart svg")).to_be_visible()

    # 7. The supervisor opens a mid-term cycle for the agreement and seats an evaluator.
    wait_for(
        lambda: (
            api_get(console_stack, "evaluation", f"/agreements/{agreement_id}", SUPERVISOR).get("status") == "active"
        ),
        "evaluation to know the agreement",
    )
    me.sign_in("supervisor", SUPERVISOR.sub)
    me.open_menu("/evaluation/cycles", "cycles")
    cycle_name = f"中期评估 {language} {console_stack.run}"
    page.fill("#cycle-name", cycle_name)
    page.check(f"input[name=agreement_ids][value='{agreement_id}']")
    page.select_option("#framework", console_stack.alliance.framework)
    page.click("form[action='/evaluation/cycles'] button[type=submit]")
    me.done()
    page.click(f"a:text-is('{cycle_name}')")
    cycle_path = page.url.removeprefix(console_stack.url)
    page.fill(f"#seat-{agreement_id}-evaluator_id", "expert-sun")
    page.click(f"form[action$='/panels/{agreement_id}/members'] button")
    expect(page.locator(".panel li")).to_contain_text("expert-sun")
    me.look("cycle-panel")

    # 8. The evaluator scores every panel indicator.
    me.sign_in("evaluator", "expert-sun")
    me.open_menu("/evaluation/panels", "panels")
    page.click(f"a[href$='/{agreement_id}']")
    # What is scored, by name: the agreement's title and its parties.
    expect(page.locator("#scored-agreement")).to_contain_text(agreement_title)
    expect(page.locator("#scored-agreement ul.parties")).to_contain_text(alliance.names["enterprise"])
    inputs = page.locator("input[name^=score_]")
    assert inputs.count() > 0
    for index in range(inputs.count()):
        inputs.nth(index).fill("35")
    me.look("scoring")
    page.click("form[action^='/evaluation/panels/'] button[type=submit]")
    me.done()

    # 9. The supervisor closes the window and completes the cycle: results and chart.
    me.sign_in("supervisor", SUPERVISOR.sub)
    me.go(cycle_path, "cycle-open")
    page.click("form[action$='/start-scoring'] button")
    page.click("form[action$='/complete'] button")
    expect(page.locator("#grades-chart svg")).to_be_visible()
    expect(page.locator("#formality-risk")).to_be_visible()
    me.look("cycle-results")
    # The agreement's score across cycles, one click from the ranking.
    page.locator(f"a[href='/evaluation/trend/{agreement_id}']").first.click()
    expect(page.locator("#trend-chart svg")).to_be_visible()
    expect(page.locator("tbody .badge").first).to_be_visible()
    me.look("trend")

    # 10. The result shows to the college; the responsible party answers the order.
    me.sign_in("college", "college-a-staff", college_id)
    me.until("/partner/results", "td .badge", "results-college")
    orders = wait_for(
        lambda: api_get(console_stack, "evaluation", "/rectifications", SUPERVISOR, agreement_id=agreement_id),
        "a rectification order",
    )
    order = (orders["items"] if isinstance(orders, dict) else orders)[0]
    responsible = order["responsible_party_id"]
    role = "college" if responsible == college_id else "enterprise"
    me.sign_in(role, f"{role}-staff", responsible)
    me.open_menu("/partner/rectifications", "rectifications-party")
    section = page.locator(f"section[data-order='{order['order_id']}']")
    # What the order asks for, item by item: a failing grade is named, each indicator with its risk band.
    items = section.locator("ul.order-items li")
    expect(items).to_have_count(len(order["items"]))
    if any(item["indicator_code"] == "COMPOSITE" for item in order["items"]):
        expect(items.first).to_contain_text("综合得分" if language == "zh-CN" else "Composite score")
    # A generated requirement is rendered in the reader's language, never the service's English.
    assert not order["by_hand"]
    published = api_get(console_stack, "evaluation", "/frameworks", SUPERVISOR, status="published")["items"]
    indicator_names = {
        i["code"]: i
        for f in published
        for i in api_get(
            console_stack, "evaluation", f"/frameworks/{f['framework_id']}/versions/{f['version']}", SUPERVISOR
        )["indicators"]
    }
    zh = language == "zh-CN"
    for shown, item in zip(items.all(), order["items"], strict=True):
        if item["indicator_code"] == "COMPOSITE":
            expect(shown).to_contain_text("将综合得分提高到合格" if zh else "Raise the composite score to a pass")
        else:
            expect(shown).to_contain_text("使该指标脱离" if zh else "Bring this indicator out of the at-risk band")
            expect(shown).to_contain_text(indicator_names[item["indicator_code"]]["name_zh" if zh else "name_en"])
        expect(shown).not_to_contain_text(item["requirement"])
    section.locator("textarea").fill("att://rect/整改报告.pdf\natt://rect/实习台账.xlsx")
    section.locator("button[type=submit]").click()
    expect(page.locator(f"section[data-order='{order['order_id']}'] .s-responded")).to_be_visible()

    # 11. The supervisor verifies and closes it.
    me.sign_in("supervisor", SUPERVISOR.sub)
    me.open_menu("/evaluation/rectifications", "rectifications")
    section = page.locator(f"section[data-order='{order['order_id']}']")
    responsible_key = "college-a" if responsible == college_id else "enterprise"
    expect(section.locator("dl.facts")).to_contain_text(alliance.names[responsible_key])
    # The supervisor reads what was asked, item by item, as the party did.
    expect(section.locator("ul.order-items li")).to_have_count(len(order["items"]))
    first_indicator = next((i for i in order["items"] if i["indicator_code"] != "COMPOSITE"), None)
    if first_indicator is not None:
        expect(section.locator("ul.order-items")).to_contain_text(
            indicator_names[first_indicator["indicator_code"]]["name_zh" if zh else "name_en"]
        )
    section.locator("input[name=reason]").fill("整改材料核实无误")
    section.locator("button.primary").click()
    expect(page.locator(f"section[data-order='{order['order_id']}'] .s-closed")).to_have_text(texts["closed"])
    me.look("rectification-closed")

    # 12. The officer orders recovery of part of the paid money, and computes the certified
    #     enterprise's education-surcharge credit statement (both are the funding service's).
    me.sign_in("funding_officer", OFFICER)
    me.go(award_path, "award-before-recovery")
    page.fill("#recovery-amount", "100")
    page.fill("#recovery-reason", "违规列支设备采购")
    page.click("form[action$='/recoveries'] button[type=submit]")
    me.done()
    # Proposed by the officer, ordered when a second person approves it.
    expect(page.locator("#proposed-recoveries")).to_be_visible()
    me.look("award-recovery-proposed")
    me.sign_in("funding_approver", APPROVER)
    me.open_menu("/funding/approvals", "approvals-recovery")
    page.locator(f"#recoveries-to-approve form[action^='{award_path}/recoveries/'] button").click()
    me.done()
    me.sign_in("funding_officer", OFFICER)
    me.go(award_path, "award-recovery-approved")
    expect(page.locator("#recoveries")).to_contain_text("100.00")
    me.look("award-recovery")
    me.open_menu("/funding/surcharge", "surcharge")
    year = str(LAST_YEAR if language == "zh-CN" else LAST_YEAR + 1)  # one statement per enterprise and year
    for field_name, value in {"enterprise_id": console_stack.alliance.partners["enterprise"], "year": year,
                              "education_due": "30000", "local_due": "20000", "inv0_reference": "INV-1",
                              "inv0_made_on": f"{year}-03-01", "inv0_amount": "100000"}.items():  # fmt: skip
        page.fill(f"#statement-{field_name}", value)
    page.click("form[action='/funding/surcharge'] button[type=submit]")
    me.done()
    expect(page.locator("#statement")).to_contain_text("INV-1")
    me.look("surcharge")

    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def test_a_college_never_sees_another_colleges_data(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    alliance = console_stack.alliance
    college_a = Actor("college", "college-a-staff", alliance.partners["college-a"])
    theirs = {alliance.partners["college-a"], alliance.agreements["zh-CN"], alliance.agreements["en"]}
    theirs |= {a["application_id"] for a in api_get(console_stack, "funding", "/applications", college_a)["items"]}
    awards = api_get(console_stack, "funding", "/awards", college_a)["items"]
    theirs |= {a["award_id"] for a in awards}

    me = visitor_for("zh-CN")
    me.sign_in("college", "college-b-staff", alliance.partners["college-b"])
    pages = ["/partner/agreements", "/partner/applications", "/partner/awards", "/partner/results",
             "/partner/rectifications", "/partner/inbox", "/partner/webhooks"]  # fmt: skip
    for path in pages:
        me.open_menu(path, "isolation" + path.replace("/", "-"))
        html = me.page.content()
        leaked = [value for value in theirs if value in html]
        assert not leaked, f"{path} shows another college's {leaked}"
    me.go("/partner/agreements", "isolation-own-agreement")
    assert alliance.agreements["other"] in me.page.content(), "the college's own agreement is shown"
    for award in awards:
        response = me.page.goto(f"{console_stack.url}/partner/awards/{award['award_id']}")
        assert response is not None
        assert response.status in (403, 404)
        assert 'class="tranche"' not in me.page.content()
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def test_every_page_of_every_role_opens_from_home(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    """Each role's menu entries open (no error page) and pass the accessibility check."""
    partners = console_stack.alliance.partners
    people = [
        ("registry_admin", None),
        ("auditor", None),
        ("funding_officer", None),
        ("funding_approver", None),
        ("supervisor", None),
        ("evaluator", None),
        ("enterprise", partners["enterprise"]),
    ]
    me = visitor_for("en")
    for role, partner_id in people:
        me.sign_in(role, partner_id=partner_id)
        paths = [str(a.get_attribute("href")) for a in me.page.locator("nav.menu a").all()]
        assert len(paths) > 1, f"{role} has no pages"
        for path in paths[1:]:
            me.open_menu(path, f"{role}{path.replace('/', '-')}")
            expect(me.page.locator("h1")).to_be_visible()
    # A phone-width screen: the last person's pages fit without scrolling sideways.
    me.page.set_viewport_size({"width": 390, "height": 844})
    for path in paths:
        me.go(path, f"phone{path.replace('/', '-')}")
        width = me.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px screen"
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def test_a_refusal_shows_next_to_its_field_and_keeps_what_was_typed(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    """The registry admin registers a partner: a wrong credit code is the registry's refusal,
    shown at the field in Chinese with the other fields as typed; a right one registers it."""
    me = visitor_for("zh-CN")
    page = me.page
    me.sign_in("registry_admin")
    me.open_menu("/registry/partners", "partners")
    name = f"深圳市新登记学院 {console_stack.run}"
    values = {"name_zh": name, "region_code": "440305", "sector_code": "P83", "address": "深圳市福田区",
              "contact_name": "王老师", "contact_email": f"wang.{console_stack.run}@console.test",
              "contact_phone": "+86 755 1234 5678", "contact_position": "校企合作处"}  # fmt: skip
    for field_name, value in {**values, "credit_code": "91440300MA5ABCDEF0"}.items():
        page.fill(f"#partner-{field_name}", value)
    page.click("form[action='/registry/partners'] button[type=submit]")
    expect(page.locator("#partner-credit_code-error")).to_contain_text("统一社会信用代码")
    expect(page.locator("#partner-name_zh")).to_have_value(name)
    me.look("partner-refused")
    page.fill("#partner-credit_code", credit_code())
    page.click("form[action='/registry/partners'] button[type=submit]")
    me.done()
    me.go(f"/registry/partners?q={name}", "partner-found")
    expect(page.locator("#rows")).to_contain_text(name)
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


MATCHING = {
    "zh-CN": {"certified": "经认定的产教融合型企业", "admitted": "已入会", "reasons": "理由"},
    "en": {"certified": "Certified industry-education integration enterprise", "admitted": "Admitted",
           "reasons": "Reasons"},
}  # fmt: skip


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_registry_admin_reads_the_alliance_and_matches_partners(
    language: str, console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    """Members, council and the certification catalogue as the registry keeps them; the
    registry's matching for a college, each suggestion with its reasons in the person's language."""
    texts = MATCHING[language]
    partners = console_stack.alliance.partners
    me = visitor_for(language)
    page = me.page
    me.sign_in("registry_admin")
    me.open_menu("/registry/alliance", "alliance")
    expect(page.locator("#rows")).to_contain_text(partners["college-a"])
    expect(page.locator("#rows")).to_contain_text(texts["admitted"])
    expect(page.locator("main")).to_contain_text(f"粤产教融合〔{time.gmtime().tm_year}〕{console_stack.run[:3]}号")
    me.open_menu("/registry/matching", "matching-form")
    page.fill("#college_id", partners["college-a"])
    page.click("form.filters button[type=submit]")
    suggestion = page.locator("tbody tr", has_text=partners["enterprise"])
    expect(suggestion).to_contain_text(texts["certified"])
    expect(page.locator("thead")).to_contain_text(texts["reasons"])
    me.look("matching")
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_an_auditor_reads_each_services_audit_trail_and_its_verification(
    language: str, console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    me = visitor_for(language)
    page = me.page
    me.sign_in("auditor")
    me.open_menu("/audit", "audit-registry")
    expect(page.locator("#chain .ok")).to_be_visible()  # the registry's chain verified intact
    expect(page.locator("#rows td.num").first).to_be_visible()
    for service in ("funding", "evaluation", "notifications"):
        page.select_option("#service", service)
        page.click("form.filters button[type=submit]")
        expect(page.locator("#chain .ok")).to_be_visible()
        me.look(f"audit-{service}")
    # One entity's records, one click from any of its rows.
    page.select_option("#service", "registry")
    page.click("form.filters button[type=submit]")
    page.locator("#rows td a").first.click()
    expect(page.locator("#entity_id")).not_to_have_value("")
    me.look("audit-entity")
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)


def test_budget_downloads_carry_headers_in_the_persons_language(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    """The funding service's export, its column names translated; amounts stay integer fen."""
    for language, appropriated in (("zh-CN", "下达额度（分）"), ("en", "Appropriated (fen)")):
        me = visitor_for(language)
        me.sign_in("funding_officer", OFFICER)
        me.open_menu("/funding/budget", f"budget-{language}")
        csv_answer = me.page.request.get(console_stack.url + "/funding/budget.csv")
        assert csv_answer.ok, csv_answer.status
        header = csv_answer.body().decode("utf-8-sig").splitlines()[0].split(",")
        assert appropriated in header, header
        xlsx_answer = me.page.request.get(console_stack.url + "/funding/budget.xlsx")
        assert xlsx_answer.ok, xlsx_answer.status
        sheet = load_workbook(io.BytesIO(xlsx_answer.body())).active
        assert sheet is not None
        assert appropriated in [cell.value for cell in sheet[1]]


def test_a_filed_appeal_waits_in_the_supervisors_queue(
    console_stack: ConsoleStack, visitor_for: Callable[[str], Visitor]
) -> None:
    """The college appeals the result the main journey produced; the supervisor finds it in
    the appeals queue (the evaluation service's list, pending first) and opens it."""
    me = visitor_for("zh-CN")
    page = me.page
    me.sign_in("college", "college-a-staff", console_stack.alliance.partners["college-a"])
    me.open_menu("/partner/results", "results-to-appeal")
    form = page.locator("form[action$='/appeals']").first
    form.locator("textarea").fill("下半年的实习报告延迟报送，现已补报")
    form.locator("button").click()
    number = page.locator("p.flash.ok .mono")
    expect(number).to_be_visible()
    appeal_id = number.inner_text()
    me.sign_in("supervisor", SUPERVISOR.sub)
    me.open_menu("/evaluation/appeals", "appeals-queue")
    expect(page.locator("#appeals-queue")).to_contain_text(appeal_id)
    page.click(f"#appeals-queue a:text-is('{appeal_id}')")
    expect(page.locator("section.card h2")).to_contain_text(appeal_id)
    me.look("appeal-opened")
    assert not me.violations, json.dumps(me.violations, ensure_ascii=False, indent=1)
