"""The real stack for the console's browser tests: the session's Kafka and MongoDB-wire
server, the four services and the console as separate processes, Debian's chromium driven
by Playwright, and a small alliance seeded through the services' public APIs."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from alliance_devstack.components import free_port
from alliance_devstack.demo.access import Actor, PlatformAccess
from alliance_devstack.demo.story import credit_code
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import (
    SERVICES,
    Platform,
    ServiceProcess,
    available_services,
    console_process,
    isolated_env,
    prefix_of,
)
from alliance_shared.contract.topics import EVENT_TOPICS
from tests.support.kafka_io import group_assignment, skip_history

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_LOCALES = Path("/usr/lib/chromium/locales")
#: The browser's locale and time zone for each page language the journeys use.
BROWSER_LOCALES = {"zh-CN": ("zh-CN", "Asia/Shanghai"), "en": ("en-GB", "Asia/Shanghai")}
AXE = Path(__file__).parent / "vendor" / "axe-core-4.11.0" / "axe.min.js"
WAIT_S = 90.0
ARTIFACTS = Path(__file__).parent / "artifacts"
ADMIN = Actor("registry_admin", "admin-chen")
SUPERVISOR = Actor("supervisor", "supervisor-zhao")
LAST_YEAR = date.today().year - 1


@dataclass
class Alliance:
    """What the seed registered: partner ids and, per journey language, an active agreement."""

    partners: dict[str, str] = field(default_factory=dict)
    #: Each partner's registered (Chinese) name, by the same key.
    names: dict[str, str] = field(default_factory=dict)
    agreements: dict[str, str] = field(default_factory=dict)
    #: ``framework_id:version`` with panel-scored indicators.
    framework: str = ""


@dataclass
class ConsoleStack:
    url: str
    access: PlatformAccess
    alliance: Alliance
    run: str
    processes: list[ServiceProcess] = field(default_factory=list)


async def seed(access: PlatformAccess, run: str) -> Alliance:
    """Two colleges, a certified enterprise, and one active agreement per journey language
    (college-a with the enterprise) plus one of college-b's own."""
    alliance = Alliance()
    organisations = {
        "college-a": {"kind": "college", "name_zh": f"深圳职业技术大学{run}",
                      "college": {"level": "higher_vocational", "majors": ["460103"]}},
        "college-b": {"kind": "college", "name_zh": f"广东轻工职业技术大学{run}",
                      "college": {"level": "higher_vocational", "majors": ["460103"]}},
        "enterprise": {"kind": "enterprise", "name_zh": f"鹏城精密制造有限公司{run}",
                       "enterprise": {"size": "medium", "headcount": 300}, "sector_code": "C34"},
    }  # fmt: skip
    for key, profile in organisations.items():
        body = {
            "credit_code": credit_code(),
            "region_code": "440305",
            "sector_code": "P83" if profile["kind"] == "college" else "C34",
            "address": "深圳市南山区",
            "contacts": [
                {
                    "name": "联络人",
                    "email": f"{key}.{run}@console.test",
                    "phone": "+86 755 0000 0000",
                    "position": "cooperation office",
                }
            ],
            **profile,
        }
        created = await access.call("registry", "POST", "/partners", ADMIN, json_body=body)
        alliance.partners[key] = created.json()["partner_id"]
        alliance.names[key] = str(profile["name_zh"])
        applied = await access.call(
            "registry",
            "POST",
            "/memberships",
            ADMIN,
            json_body={"partner_id": alliance.partners[key], "reason": "join"},
        )
        await access.call(
            "registry", "POST", f"/memberships/{alliance.partners[key]}/admit", ADMIN,
            json_body={"reason": "admitted"}, headers={"If-Match": applied.headers["etag"]},
        )  # fmt: skip
    applied = await access.call(
        "registry", "POST", "/certifications", ADMIN, json_body={"partner_id": alliance.partners["enterprise"]}
    )
    now = datetime.now(UTC)
    await access.call(
        "registry", "POST", f"/certifications/{applied.json()['certification_id']}/grant", ADMIN,
        json_body={"certificate_number": f"粤产教融合〔{now.year}〕{run[:3]}号",
                   "valid_from": (now - timedelta(days=400)).isoformat(),
                   "valid_to": (now + timedelta(days=900)).isoformat()},
        headers={"If-Match": applied.headers["etag"]},
    )  # fmt: skip
    for name, college in (("zh-CN", "college-a"), ("en", "college-a"), ("other", "college-b")):
        college_id, enterprise_id = alliance.partners[college], alliance.partners["enterprise"]
        drafted = await access.call(
            "registry", "POST", "/agreements", ADMIN,
            json_body={
                "title": f"数控技术订单班协议 {name} {run}",
                "parties": [{"partner_id": college_id, "role": "lead"},
                            {"partner_id": enterprise_id, "role": "participant"}],
                "modes": ["order_class", "internship_base"], "majors": ["460103"],
                "start_date": date(LAST_YEAR, 1, 1).isoformat(), "end_date": date(LAST_YEAR + 3, 12, 31).isoformat(),
                "declared_depth": "deep",
                "obligations": [{"party_id": enterprise_id, "metric": "internship_posts", "quantity": 4,
                                 "period": "per_year"}],
            },
        )  # fmt: skip
        agreement_id = drafted.json()["agreement_id"]
        alliance.agreements[name] = agreement_id
        for key in (college, "enterprise"):
            role = "college" if key.startswith("college") else "enterprise"
            signer = Actor(role, f"{key}-staff", alliance.partners[key])
            await access.call("registry", "POST", f"/agreements/{agreement_id}/sign", signer, json_body={})
    alliance.framework = await panel_framework(access, run)
    return alliance


async def panel_framework(access: PlatformAccess, run: str) -> str:
    """A published framework version whose satisfaction indicators a panel scores (the
    default framework has none), as a supervisor would configure before a cycle."""
    listed = await access.call("evaluation", "GET", "/frameworks", SUPERVISOR, params={"status": "published"})
    base = max(listed.json()["items"], key=lambda f: f["version"])
    path = f"/frameworks/{base['framework_id']}/versions"
    framework = (await access.call("evaluation", "GET", f"{path}/{base['version']}", SUPERVISOR)).json()
    indicators = [
        {**i, "source": "panel", "measure": None, "computation": None} if i["source"] == "survey" else i
        for i in framework["indicators"]
    ]
    draft = await access.call(
        "evaluation", "POST", path, SUPERVISOR, json_body={"name": f"含评审组打分 {run}", "indicators": indicators}
    )
    version = draft.json()["version"]
    await access.call(
        "evaluation", "POST", f"{path}/{version}/publish", SUPERVISOR, headers={"If-Match": draft.headers["etag"]}
    )
    return f"{base['framework_id']}:{version}"


def consuming(infra: Infrastructure, group: str, service: str) -> None:
    """Wait until ``service``'s consumer group is stable with its partitions assigned."""
    deadline = time.monotonic() + WAIT_S
    while not any((group_assignment(infra.kafka_admin, group) or {}).values()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{service}'s consumer did not join its group {group} within {WAIT_S:.0f}s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def console_stack(
    infra: Infrastructure, dev_keys_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    run = uuid.uuid4().hex[:6]
    env = isolated_env(
        infra.kafka_services, infra.mongo_url, infra.smtp.host, infra.smtp.port, dev_keys_dir / "jwks.json",
        f"console_{run}",
    )  # fmt: skip

    async def start_at_topic_ends() -> None:
        for name in SERVICES:
            await skip_history(infra.kafka_admin, env[prefix_of(name) + "KAFKA_CONSUMER_GROUP"], EVENT_TOPICS)

    asyncio.run(start_at_topic_ends())
    logs = tmp_path_factory.mktemp(f"console-{run}")
    platform = Platform.create(env, logs, ports={name: free_port() for name in available_services()})
    urls = {name: service.url for name, service in platform.services.items()}
    console = console_process(urls, logs, dev_keys_dir, free_port())
    assert console is not None
    try:
        platform.start(timeout_s=120)
        console.start()
        console.wait_ready(60)
        for name in SERVICES:  # a consumer still joining its group would see the seed late
            consuming(infra, env[prefix_of(name) + "KAFKA_CONSUMER_GROUP"], name)
        access = PlatformAccess(
            urls=urls, keys_dir=dev_keys_dir, kafka=infra.kafka_admin, kafka_security=infra.kafka_security
        )

        async def seeded() -> Alliance:
            try:
                return await seed(access, run)
            finally:
                await access.close()

        yield ConsoleStack(console.url, access, asyncio.run(seeded()), run, [console, *platform.services.values()])
    finally:
        console.stop()
        platform.stop()


@pytest.fixture(scope="module")
def browsers() -> Iterator[Callable[[str], Browser]]:
    """One chromium per page language, started when first asked for."""
    started: dict[str, Browser] = {}
    with sync_playwright() as playwright:

        def browser_in(language: str) -> Browser:
            if language not in started:
                started[language] = launch(playwright, language)
            return started[language]

        yield browser_in
        for browser in started.values():
            browser.close()


def launch(playwright: Playwright, language: str) -> Browser:
    """Debian's chromium (Playwright's own builds cannot be fetched here) in the person's
    language: on Linux chromium takes its locale, which formats what ``<input type=date>``
    shows, from LANGUAGE (and its translations from chromium-l10n), not from the context's
    ``locale``."""
    if not (CHROMIUM_LOCALES / f"{language}.pak").exists():
        pytest.fail(f"chromium has no {language} locale: `make test` installs it (apt-get install chromium-l10n)")
    environment = {**os.environ, "LANGUAGE": language.replace("-", "_")}
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"], env=environment
    )


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def api_get(stack: ConsoleStack, service: str, path: str, actor: Actor, **params: Any) -> Any:
    """A direct API read for the test's own waiting (never for what the pages show); plain
    sync httpx, since Playwright's sync API keeps an event loop running in this thread."""
    response = httpx.get(
        stack.access.urls[service] + path, params=params or None, headers=stack.access.headers(actor), timeout=30
    )
    response.raise_for_status()
    return response.json()


def api_call(
    stack: ConsoleStack, service: str, method: str, path: str, actor: Actor, body: Any = None, etag: str | None = None
) -> httpx.Response:
    """Set-up through the services' APIs (plain sync httpx: Playwright's sync API holds this
    thread's event loop); what the test checks is always read from the pages."""
    headers = {**stack.access.headers(actor), "Idempotency-Key": f"t-{time.monotonic_ns()}"}
    if etag:
        headers["If-Match"] = etag
    return httpx.request(method, stack.access.urls[service] + path, json=body, headers=headers, timeout=30)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    stack = item.funcargs.get("console_stack") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(stack, ConsoleStack):
        for process in stack.processes:
            report.sections.append((f"{process.name} log (tail)", process.log_tail(30)))


class Visitor:
    """One browser tab going through the pages as different people, checking each page."""

    def __init__(self, page: Page, base: str, language: str, shots: Path) -> None:
        self.page = page
        self.base = base
        self.language = language
        self.shots = shots
        self.count = 0
        self.violations: dict[str, list[str]] = {}

    def sign_in(self, role: str, subject: str | None = None, partner_id: str | None = None) -> None:
        self.page.goto(self.base + "/auth/logout")
        self.page.goto(self.base + "/auth/dev")
        self.page.select_option("#role", role)
        if subject:
            self.page.fill("#subject", subject)
        if partner_id:
            self.page.fill("#partner_id", partner_id)
        self.page.click("form[action='/auth/dev'] button[type=submit]")
        expect(self.page.locator("nav.menu")).to_be_visible()

    def open_menu(self, path: str, name: str) -> None:
        """Every page is one click from home: go home, click the menu entry."""
        self.page.goto(self.base + "/")
        self.page.click(f"nav.menu a[href='{path}']")
        self.page.wait_for_load_state()
        self.look(name)

    def go(self, path: str, name: str) -> None:
        self.page.goto(self.base + path)
        self.look(name)

    def look(self, name: str) -> None:
        """Screenshot and axe-core: no serious or critical accessibility violation."""
        self.count += 1
        assert "Internal Server Error" not in self.page.content(), f"{name}: {self.page.url} failed"
        self.page.screenshot(path=self.shots / f"{self.language}-{self.count:02d}-{name}.png", full_page=True)
        self.page.add_script_tag(path=str(AXE))
        found = self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {runOnly: ["wcag2a", "wcag2aa", "best-practice"]});
                return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
                    .map(v => v.id + ": " + v.help + " @ "
                        + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
            }"""
        )
        if found:
            self.violations[name] = found

    def until(self, path: str, selector: str, name: str) -> None:
        """Reload ``path`` until ``selector`` shows (the services settle through Kafka events)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            self.page.goto(self.base + path)
            if self.page.locator(selector).count() > 0:
                self.look(name)
                return
            if time.monotonic() > deadline:
                self.look(name + "-timeout")
                raise AssertionError(f"{selector} did not show on {path} within {WAIT_S:.0f}s")
            time.sleep(1.0)

    def done(self) -> None:
        """The action's result: the page says it was done (or the test shows the refusal)."""
        self.page.locator(".flash, .refusal").first.wait_for()
        refused = self.page.locator(".refusal")
        assert refused.count() == 0, refused.first.inner_text()


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_S:.0f}s for {what}")
        time.sleep(1.0)


@pytest.fixture
def visitor_for(
    browsers: Callable[[str], Browser], console_stack: ConsoleStack, artifacts: Path
) -> Iterator[Callable[[str], Visitor]]:
    contexts = []

    def make(language: str) -> Visitor:
        """A tab whose browser speaks the page's language: zh-CN in China time, English as en-GB."""
        locale, time_zone = BROWSER_LOCALES[language]
        context = browsers(locale).new_context(
            viewport={"width": 1280, "height": 800}, locale=locale, timezone_id=time_zone
        )
        if language != "zh-CN":
            context.add_cookies([{"name": "console_lang", "value": language, "url": console_stack.url}])
        contexts.append(context)
        return Visitor(context.new_page(), console_stack.url, language, artifacts)

    yield make
    for context in contexts:
        context.close()
