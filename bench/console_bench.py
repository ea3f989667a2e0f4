"""Console pages: time to answer of the ten busiest pages, each against the same page's
API calls made directly with the same person's token, with 10,000 partners and 1,000
agreements seeded.

The four services and the console run as their own processes (as in `make run`) on the
bench's Kafka and MongoDB-wire server. Partners go straight into the registry's
collections (``bench.registry_bench.seed``: registering 10,000 over HTTP would take
minutes); agreements are drafted, signed by both parties and activated through the registry's own
domain and written the same way (through the API the seed alone outlasted the benchmark
on a shared two-core machine); funding and evaluation do not hear of them. Each page is
fetched one request at a time on loopback, signed in through the development sign-in;
the direct figure is the page's own service calls, made as the page makes them (a page's
independent calls together, its per-agreement lookups at most ``PARALLEL_CALLS`` at a
time). The difference is the console's cost: session, rendering, translation.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from alliance_console.api import PARALLEL_CALLS
from alliance_devstack.components import free_port
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import Platform, ServiceProcess, console_process, prefix_of
from alliance_registry.domain.agreement import Agreement, AgreementDraft, PartyInput
from alliance_registry.domain.partner import PartnerSummary
from alliance_registry.service.repositories import AGREEMENTS as AGREEMENTS_STORE
from alliance_registry.service.repositories import PARTNERS as PARTNERS_STORE
from alliance_registry.service.repositories import agreement_query_fields
from alliance_shared.auth.devtokens import mint
from alliance_shared.persistence.mongo import create_client
from alliance_shared.persistence.versioned_store import (
    AGGREGATE_ID,
    DEDUPE_KEY,
    OUTBOX,
    SETTLED_AT,
    VERSION,
    WRITTEN_AT,
    current_document,
    journal_of,
    settled_of,
    version_id,
)
from bench.platform_bench import start_platform
from bench.registry_bench import seed as seed_partners
from bench.stats import Table, percentile

TITLE = "console: the ten busiest pages vs their API calls made directly (10,000 partners, 1,000 agreements)"

PARTNERS = 10_000
AGREEMENTS = 1_000
PROGRAMMES = 30
SAMPLES = 20
WARM_UP = 2
TARGET_P95_MS = 300.0
PAGE_SIZE = 20  # the console's list page size
#: The college whose staff the partner pages are measured for; it is a party to every
#: tenth agreement, so its lists are not empty.
COLLEGE = "col-seed000000"
LAST_YEAR = date.today().year - 1


@dataclass(frozen=True)
class Person:
    role: str
    sub: str
    partner_id: str | None = None


ADMIN = Person("registry_admin", "bench-admin")
OFFICER = Person("funding_officer", "bench-officer")
SUPERVISOR = Person("supervisor", "bench-supervisor")
COLLEGE_STAFF = Person("college", "bench-college", COLLEGE)

Direct = Callable[["Services"], Awaitable[None]]


class Services:
    """The four services called directly, as the console calls them for one person."""

    def __init__(self, urls: dict[str, str], token: str) -> None:
        self.clients = {
            name: httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            for name, url in urls.items()
        }

    async def get(self, service: str, path: str, *, ok: tuple[int, ...] = (200,), **params: Any) -> Any:
        response = await self.clients[service].get(path, params={k: v for k, v in params.items() if v is not None})
        if response.status_code not in ok:
            raise RuntimeError(f"{service} GET {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def items(page: Any) -> list[dict[str, Any]]:
    return list(page["items"] if isinstance(page, dict) else page)


async def partner_results(api: Services) -> None:
    mine = items(await api.get("registry", "/agreements", party=COLLEGE, limit=200))
    in_flight = asyncio.Semaphore(PARALLEL_CALLS)

    async def results_of(agreement: dict[str, Any]) -> None:
        async with in_flight:
            await api.get("evaluation", f"/agreements/{agreement['agreement_id']}/results", ok=(200, 404))

    await asyncio.gather(*map(results_of, mine))


async def cycles_page(api: Services) -> None:
    await asyncio.gather(
        api.get("evaluation", "/cycles", limit=200),
        api.get("registry", "/agreements", status="active", limit=200),
        api.get("evaluation", "/frameworks", status="published", limit=200),
    )


async def partner_applications(api: Services) -> None:
    await asyncio.gather(
        api.get("funding", "/applications", limit=PAGE_SIZE),
        api.get("funding", "/programmes", limit=200),
        api.get("registry", "/agreements", party=COLLEGE, status="active", limit=200),
    )


def calls(service: str, path: str, **params: Any) -> Direct:
    async def direct(api: Services) -> None:
        await api.get(service, path, **params)

    return direct


#: (name, person, console path, the same page's API calls). The pages each person opens
#: most: their lists and queues.
PAGES: tuple[tuple[str, Person, str, Direct], ...] = (
    ("partners (admin)", ADMIN, "/registry/partners", calls("registry", "/partners", limit=PAGE_SIZE)),
    ("partners by name (admin)", ADMIN, "/registry/partners?q=精密",
     calls("registry", "/partners", q="精密", limit=PAGE_SIZE)),
    ("agreements (admin)", ADMIN, "/registry/agreements", calls("registry", "/agreements", limit=PAGE_SIZE)),
    ("programmes (officer)", OFFICER, "/funding/programmes", calls("funding", "/programmes", limit=PAGE_SIZE)),
    ("budget execution (officer)", OFFICER, "/funding/budget",
     calls("funding", "/reports/budget-execution", by="programme")),
    ("cycles (supervisor)", SUPERVISOR, "/evaluation/cycles", cycles_page),
    ("my agreements (college)", COLLEGE_STAFF, "/partner/agreements",
     calls("registry", "/agreements", party=COLLEGE, limit=PAGE_SIZE)),
    ("my applications (college)", COLLEGE_STAFF, "/partner/applications", partner_applications),
    ("my results (college)", COLLEGE_STAFF, "/partner/results", partner_results),
    ("inbox (college)", COLLEGE_STAFF, "/partner/inbox", calls("notifications", "/inbox", limit=PAGE_SIZE)),
)  # fmt: skip


async def seed_agreements(mongo_url: str, database: str) -> float:
    """``AGREEMENTS`` agreements between seeded colleges and enterprises, drafted and signed by
    both parties through the registry's own domain and written as ``VersionedStore`` writes
    them (published, like the partners): through the API the seed took longer than the
    benchmark itself on a shared two-core machine."""
    started = time.perf_counter()
    rng = random.Random(7)
    now = datetime.now(UTC)
    client = create_client(mongo_url, app_name="console-bench")
    db = client[database]
    try:
        summaries = {
            doc["partner_id"]: PartnerSummary(
                partner_id=doc["partner_id"], kind=doc["kind"], region_code=doc["region_code"],
                name=doc["name_zh"], active=True,
            )
            async for doc in db[PARTNERS_STORE].find({})
        }  # fmt: skip
        colleges = sorted(p for p, s in summaries.items() if s.kind == "college")
        enterprises = sorted(p for p, s in summaries.items() if s.kind == "enterprise")
        journal, current = [], []
        for n in range(AGREEMENTS):
            college = COLLEGE if n % 10 == 0 else rng.choice(colleges)
            enterprise = rng.choice(enterprises)
            draft = AgreementDraft(
                title=f"校企合作协议 {n}",
                parties=(
                    PartyInput(partner_id=college, role="lead"),
                    PartyInput(partner_id=enterprise, role="participant"),
                ),
                modes=frozenset({"internship_base"}),
                majors=("460103",),
                start_date=date(LAST_YEAR, 1, 1),
                end_date=date(LAST_YEAR + 3, 12, 31),
                declared_depth="shallow",
            )
            agreement_id = f"agr-seed{n:06d}"
            parties = {college: summaries[college], enterprise: summaries[enterprise]}
            agreement = Agreement.draft(
                agreement_id=agreement_id, draft=draft, partners=parties, now=now, actor_id="bench"
            )
            for party in (college, enterprise):
                agreement.sign(party, now=now, actor_id="bench")
            agreement.activate(now=now, actor_id="bench")
            state = agreement.to_document()
            state.pop("version")
            state.update(agreement_query_fields(state))
            doc = {
                **state,
                "_id": version_id(agreement_id, 1),
                AGGREGATE_ID: agreement_id,
                VERSION: 1,
                DEDUPE_KEY: version_id(agreement_id, 1),
                WRITTEN_AT: now,
                OUTBOX: [],
            }
            journal.append(doc)
            current.append(current_document(doc))
        await db[journal_of(AGREEMENTS_STORE)].insert_many(journal, ordered=False)
        # Seeded as published: the relay has nothing to send for them.
        await db[settled_of(AGREEMENTS_STORE)].insert_many([{"_id": doc["_id"], SETTLED_AT: now} for doc in journal])
        await db[AGREEMENTS_STORE].insert_many(current, ordered=False)
    finally:
        await client.close()
    return time.perf_counter() - started


async def seed_programmes(funding: str, keys: Path) -> None:
    token = mint(keys, OFFICER.sub, [OFFICER.role], ttl_s=3600)
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=funding, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for n in range(PROGRAMMES):
            created = await c.post(
                "/programmes",
                json={
                    "name": f"{now.year}年产教融合专项资金 第{n}批",
                    "fiscal_year": now.year,
                    "appropriated_minor": 5_000_000_00,
                    "opens_at": (now - timedelta(days=1)).isoformat(),
                    "closes_at": (now + timedelta(days=60)).isoformat(),
                    "eligibility": {"lead_partner_kinds": ["college"], "require_active_agreement": True},
                    "award_cap_minor": 2_000_000_00,
                    "min_cofunding_bp": 2000,
                    "tranche_template": [{"name": "启动资金", "share_bp": 10000, "release": {"kind": "on_award"}}],
                },
            )
            created.raise_for_status()


async def signed_in(console: str, person: Person) -> httpx.AsyncClient:
    """A browser-like client signed in to the console through its development sign-in."""
    client = httpx.AsyncClient(base_url=console, timeout=60)
    form = await client.get("/auth/dev")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if match is None:
        raise RuntimeError("the console's sign-in page has no CSRF token")
    data = {"csrf_token": match.group(1), "role": person.role, "subject": person.sub}
    if person.partner_id:
        data["partner_id"] = person.partner_id
    answer = await client.post("/auth/dev", data=data)
    if answer.status_code != 303:
        raise RuntimeError(f"the development sign-in answered {answer.status_code}")
    return client


async def timed(call: Callable[[], Awaitable[None]]) -> tuple[list[float], int]:
    """``SAMPLES`` answer times after ``WARM_UP`` calls, and how many calls failed (a service
    timing out on an overloaded machine): counted and shown, so the run still ends."""
    samples: list[float] = []
    failures = 0
    for n in range(WARM_UP + SAMPLES):
        started = time.perf_counter()
        try:
            await call()
        except (RuntimeError, httpx.HTTPError):
            failures += 1
        if n >= WARM_UP:
            samples.append((time.perf_counter() - started) * 1000)
    return samples, failures


async def measure(console: str, urls: dict[str, str], keys: Path) -> list[dict[str, Any]]:
    rows = []
    for name, person, path, direct in PAGES:
        browser = await signed_in(console, person)
        token = mint(keys, person.sub, [person.role], partner_id=person.partner_id, ttl_s=3600)
        api = Services(urls, token)
        try:

            async def page(browser: httpx.AsyncClient = browser, path: str = path) -> None:
                answer = await browser.get(path)
                if answer.status_code != 200:
                    raise RuntimeError(f"console {path} answered {answer.status_code}")

            async def direct_calls(api: Services = api, direct: Direct = direct) -> None:
                await direct(api)

            page_ms, page_failures = await timed(page)
            api_ms, api_failures = await timed(direct_calls)
        finally:
            await browser.aclose()
            await api.close()
        rows.append(
            {
                "page": name,
                "path": path,
                "page_p50_ms": percentile(page_ms, 0.5),
                "page_p95_ms": percentile(page_ms, 0.95),
                "api_p50_ms": percentile(api_ms, 0.5),
                "api_p95_ms": percentile(api_ms, 0.95),
                "failures": {"page": page_failures, "api": api_failures},
            }
        )
    return rows


async def run(infra: Infrastructure) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as work:
        keys, logs = Path(work) / "keys", Path(work) / "logs"
        platform: Platform = await asyncio.to_thread(start_platform, infra, keys, logs)
        console: ServiceProcess | None = None
        try:
            urls = {name: service.url for name, service in platform.services.items()}
            console = console_process(urls, logs, keys, free_port())
            if console is None:
                raise RuntimeError("this checkout has no console")
            await asyncio.to_thread(console.start)
            await asyncio.to_thread(console.wait_ready)
            database = platform.services["registry"].env[prefix_of("registry") + "MONGO_DATABASE"]
            partners = await seed_partners(infra.mongo_url, database, 0, PARTNERS, budget_s=600.0)
            print(f"  seeded {partners['seeded']} partners in {partners['seconds']:.0f} s", flush=True)
            agreements_s = await seed_agreements(infra.mongo_url, database)
            print(f"  seeded {AGREEMENTS} active agreements in {agreements_s:.0f} s", flush=True)
            await seed_programmes(urls["funding"], keys)
            rows = await measure(console.url, urls, keys)
        finally:
            if console is not None:
                await asyncio.to_thread(console.stop)
            await asyncio.to_thread(platform.stop)
    return {
        "partners": partners["seeded"],
        "partners_seed_s": partners["seconds"],
        "agreements": AGREEMENTS,
        "agreements_seed_s": agreements_s,
        "samples_per_page": SAMPLES,
        "target_p95_ms": TARGET_P95_MS,
        "pages": rows,
        "load_average_1m_at_end": os.getloadavg()[0],
    }


def table(result: dict[str, Any]) -> Table:
    rows: list[list[Any]] = []
    for row in result["pages"]:
        rows.append(
            [
                row["page"],
                f"{row['page_p50_ms']:.1f} / {row['page_p95_ms']:.1f}",
                f"{row['api_p50_ms']:.1f} / {row['api_p95_ms']:.1f}",
                f"{row['page_p95_ms'] - row['api_p95_ms']:+.1f} ({row['page_p95_ms'] / row['api_p95_ms']:.2f}×)",
                "yes" if row["page_p95_ms"] <= result["target_p95_ms"] else "NO",
                f"{row['failures']['page']} / {row['failures']['api']}",
            ]
        )
    return Table(
        [
            "page",
            "console p50 / p95 ms",
            "its API calls p50 / p95 ms",
            "p95 difference (ratio)",
            "p95 ≤ target",
            "failed (page / API)",
        ],
        rows,
        f"{result['partners']} partners (direct seed {result['partners_seed_s']:.0f} s), {result['agreements']} "
        f"active agreements (direct seed {result['agreements_seed_s']:.0f} s); "
        f"{result['samples_per_page']} requests per page, one at a time; "
        f"target p95 ≤ {result['target_p95_ms']:.0f} ms; "
        f"load average at the end {result['load_average_1m_at_end']:.1f} (cores: {os.cpu_count()})",
    )
