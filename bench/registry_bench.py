"""Registry API throughput and latency at fixed request rates, vs a bare FastAPI endpoint;
list/search latency on a seeded set of partners.

Both servers run the same way: their own ``python -m`` process under uvicorn on
loopback, driven over real HTTP by one open-loop load generator (requests are sent on a
fixed schedule whatever the answers do; latency runs from the scheduled send to the
answer, so queueing counts). The registry answers with JWT verification, MongoDB
(FerretDB here) and the outbox; the baseline answers from memory with no auth — the
difference is the cost of the service.

Reads: ``GET /partners/{id}`` (a point lookup). Writes: ``POST /partners`` (credit-code
claim, journal insert with the event, current-document refresh, then the relay
publishes). Lists: ``GET /partners`` with filters on a seeded set. The seed goes straight
into the store's collections (the same documents ``VersionedStore`` writes, already
marked published) because registering 10,000 partners over HTTP would take minutes; the
list queries read exactly what they would read after real registrations.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from alliance_devstack.components import free_port
from alliance_devstack.provision import Infrastructure
from alliance_registry.domain.credit_code import with_check_character
from alliance_registry.domain.partner import Partner, PartnerDetails
from alliance_registry.service.repositories import PARTNERS, partner_query_fields
from alliance_shared.auth.devtokens import ensure_keys, mint
from alliance_shared.contract.registry import CollegeProfileView, EnterpriseProfileView
from alliance_shared.contract.vocabulary import PartnerKind
from alliance_shared.persistence.mongo import create_client
from alliance_shared.persistence.versioned_store import (
    AGGREGATE_ID,
    DEDUPE_KEY,
    OUTBOX,
    PENDING,
    VERSION,
    WRITTEN_AT,
    current_document,
    journal_of,
    version_id,
)
from bench.stats import Table, percentile

TITLE = "registry API: reads and writes at fixed rates vs a bare FastAPI endpoint; list/search on seeded partners"

READ_RATES = (50, 100, 200)
WRITE_RATES = (10, 25, 50)
SECONDS_PER_RATE = 4.0
SEED_SIZES = (1_000, 10_000)
SEED_BUDGET_S = 60.0
LIST_REPEATS = 4

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
REGIONS = ("440305", "440306", "440106", "110108", "310115", "330106", "320505", "510107")
SECTORS = ("C39", "C34", "I65", "C26", "G54", "F51", "E47", "A01")
WORDS = ("精密", "电子", "机床", "软件", "物流", "化工", "建工", "农业", "智能", "新能源")

BASELINE_APP = """
import uvicorn, sys
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()
ITEM = {"partner_id": "ent-0", "kind": "enterprise", "name_zh": "深圳市鹏城精密制造有限公司", "credit_code":
        "91440300MA5G4WNN43", "region_code": "440305", "sector_code": "C39", "address": "深圳市南山区",
        "status": "active", "enterprise": {"size": "medium", "headcount": 860}, "version": 1}
PAGE = {"items": [dict(ITEM, partner_id=f"ent-{i}") for i in range(50)], "next_cursor": "eyJhZnRlciI6ICJlbnQtNDkifQ"}

class In(BaseModel):
    kind: str
    name_zh: str

@app.get("/readyz")
async def ready(): return {"status": "ready"}

@app.get("/partners/{pid}")
async def read(pid: str): return dict(ITEM, partner_id=pid)

@app.get("/partners")
async def page(): return PAGE

@app.post("/partners", status_code=201)
async def write(body: In): return dict(ITEM, name_zh=body.name_zh)

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def credit_code(rng: random.Random) -> str:
    return with_check_character("91440300" + "".join(rng.choice(_ALPHABET) for _ in range(9)))


def partner_body(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "kind": "enterprise",
        "name_zh": f"{rng.choice(WORDS)}{rng.choice(WORDS)}有限公司{n}",
        "credit_code": credit_code(rng),
        "region_code": rng.choice(REGIONS),
        "sector_code": rng.choice(SECTORS),
        "address": "深圳市南山区高新南七道 18 号",
        "enterprise": {"size": "medium", "headcount": 100 + n % 900},
        "contacts": [],
    }


async def wait_ready(url: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url + "/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


async def at_rate(client: httpx.AsyncClient, rate: int, seconds: float, request: Any, ok: set[int]) -> dict[str, float]:
    """Open loop: ``rate`` requests per second for ``seconds``; latency from the scheduled send."""
    count = int(rate * seconds)
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        nonlocal failures
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        try:
            response = await request(client, i)
            if response.status_code not in ok:
                failures += 1
        except httpx.HTTPError:
            failures += 1
        latencies.append((loop.time() - scheduled) * 1000)

    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = loop.time() - start
    return {
        "offered_per_s": rate,
        "achieved_per_s": count / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "failures": failures,
    }


async def drive(base: str, headers: dict[str, str], read_id: str, rng: random.Random) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    out: dict[str, Any] = {"reads": [], "writes": []}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:

        async def read(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get(f"/partners/{read_id}")

        async def write(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.post("/partners", json=partner_body(rng, i))

        await at_rate(client, 20, 1.0, read, {200})  # warm-up
        for rate in READ_RATES:
            out["reads"].append(await at_rate(client, rate, SECONDS_PER_RATE, read, {200}))
        for rate in WRITE_RATES:
            out["writes"].append(await at_rate(client, rate, SECONDS_PER_RATE, write, {201}))
    return out


async def seed(mongo_url: str, database: str, start: int, target: int, budget_s: float) -> dict[str, Any]:
    """Insert partners ``start`` … ``target - 1`` as VersionedStore would have (journal + current, published)."""
    client = create_client(mongo_url, app_name="registry-bench")
    db = client[database]
    rng = random.Random(start)
    now = datetime.now(UTC)
    started = time.perf_counter()
    inserted = start
    batch = 500
    try:
        while inserted < target and time.perf_counter() - started < budget_s:
            journal, current = [], []
            for n in range(inserted, min(target, inserted + batch)):
                body = partner_body(rng, n)
                kind = PartnerKind.ENTERPRISE if n % 5 else PartnerKind.COLLEGE
                profile: dict[str, Any] = {"kind": kind}
                if kind is PartnerKind.COLLEGE:
                    profile.update(
                        enterprise=None, college=CollegeProfileView(level="higher_vocational", majors=("460103",))
                    )
                else:
                    profile.update(enterprise=EnterpriseProfileView(size="medium", headcount=500))
                details = PartnerDetails(**{**{k: v for k, v in body.items() if k != "contacts"}, **profile})
                pid = f"{'col' if kind is PartnerKind.COLLEGE else 'ent'}-seed{n:06d}"
                partner = Partner.register(partner_id=pid, details=details, contacts=(), now=now, actor_id="bench")
                state = partner.to_document()
                state.pop("version")
                state.update(partner_query_fields(state))
                doc = {
                    **state,
                    "_id": version_id(pid, 1),
                    AGGREGATE_ID: pid,
                    VERSION: 1,
                    PENDING: False,
                    DEDUPE_KEY: version_id(pid, 1),
                    WRITTEN_AT: now,
                    OUTBOX: [],
                }
                journal.append(doc)
                current.append(current_document(doc))
            await db[journal_of(PARTNERS)].insert_many(journal, ordered=False)
            await db[PARTNERS].insert_many(current, ordered=False)
            inserted += len(current)
    finally:
        await client.close()
    return {"target": target, "seeded": inserted, "seconds": time.perf_counter() - started}


LIST_QUERIES = (
    ("first page, no filter", "/partners?limit=50"),
    ("kind=enterprise", "/partners?kind=enterprise&limit=50"),
    ("region=4403 & sector=C39", "/partners?region=4403&sector=C39&limit=50"),
    ("name text q=精密电子", "/partners?q=精密电子&limit=50"),
    ("certified=true", "/partners?certified=true&limit=50"),
    ("point read /partners/{id}", "/partners/ent-seed000001"),
)


async def list_latency(base: str, headers: dict[str, str], repeats: int) -> list[dict[str, Any]]:
    rows = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for name, path in LIST_QUERIES:
            latencies: list[float] = []
            items = 0
            for _ in range(repeats):
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                items = len(response.json().get("items", [1]))
            rows.append({"query": name, "items": items, "p50_ms": percentile(latencies, 0.5), "max_ms": max(latencies)})
    return rows


async def run(infra: Infrastructure) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as work:
        keys = Path(work) / "keys"
        ensure_keys(keys)
        token = mint(keys, "bench-admin", ["registry_admin"], ttl_s=3600)
        headers = {"Authorization": f"Bearer {token}"}
        base_port, reg_port = free_port(), free_port()
        database = f"registry_bench_{run_id}"
        env = {
            **os.environ,
            **infra.kafka_services["registry"].settings_env("REGISTRY_"),
            "REGISTRY_MONGO_URL": infra.mongo_url,
            "REGISTRY_MONGO_DATABASE": database,
            "REGISTRY_HTTP_PORT": str(reg_port),
            "REGISTRY_JWKS_FILE": str(keys / "jwks.json"),
            "REGISTRY_LOG_LEVEL": "WARNING",
        }
        baseline = await asyncio.create_subprocess_exec(sys.executable, "-c", BASELINE_APP, str(base_port))
        registry = await asyncio.create_subprocess_exec(sys.executable, "-m", "alliance_registry", env=env)
        try:
            base_url, reg_url = f"http://127.0.0.1:{base_port}", f"http://127.0.0.1:{reg_port}"
            await wait_ready(base_url)
            await wait_ready(reg_url)
            async with httpx.AsyncClient(base_url=reg_url, headers=headers) as client:
                first = await client.post("/partners", json=partner_body(rng, 0))
                first.raise_for_status()
                read_id = first.json()["partner_id"]
            baseline_figures = await drive(base_url, headers, "ent-0", rng)
            registry_figures = await drive(reg_url, headers, read_id, rng)
            seeded: list[dict[str, Any]] = []
            lists: list[dict[str, Any]] = []
            done = 0
            for size in SEED_SIZES:
                step = await seed(infra.mongo_url, database, done, size, SEED_BUDGET_S)
                done = step["seeded"]
                seeded.append(step)
                lists += [{**row, "partners": done} for row in await list_latency(reg_url, headers, LIST_REPEATS)]
                if done < size:
                    break  # the seed budget ran out: measure no larger size
            baseline_list = await list_latency(base_url, headers, LIST_REPEATS)
        finally:
            for process in (baseline, registry):
                process.terminate()
            for process in (baseline, registry):
                await asyncio.wait_for(process.wait(), 30)
    return {
        "load_average_1m_at_end": os.getloadavg()[0],
        "seconds_per_rate": SECONDS_PER_RATE,
        "baseline": baseline_figures,
        "registry": registry_figures,
        "seed": seeded,
        "lists": lists,
        "baseline_list_p50_ms": baseline_list[0]["p50_ms"],
    }


def table(result: dict[str, Any]) -> Table:
    rows: list[list[Any]] = []
    for kind in ("reads", "writes"):
        for base, reg in zip(result["baseline"][kind], result["registry"][kind], strict=True):
            rows.append(
                [
                    f"{kind[:-1]} @ {reg['offered_per_s']}/s",
                    f"{base['achieved_per_s']:.0f} / {reg['achieved_per_s']:.0f}",
                    f"{base['p50_ms']:.1f} / {reg['p50_ms']:.1f}",
                    f"{base['p99_ms']:.1f} / {reg['p99_ms']:.1f}",
                    f"{base['failures']} / {reg['failures']}",
                ]
            )
    seeded = result["seed"]
    for row in result["lists"]:
        rows.append(
            [
                f"list {row['query']} ({row['partners']} partners)",
                f"{row['items']} items",
                f"— / {row['p50_ms']:.1f}",
                f"max {row['max_ms']:.1f}",
                "",
            ]
        )
    return Table(
        ["request", "achieved/s (bare / registry)", "p50 ms (bare / registry)", "p99 ms", "failures"],
        rows,
        "seeded " + ", ".join(f"{s['seeded']} of {s['target']} partners ({s['seconds']:.1f} s)" for s in seeded) + "; "
        f"bare 50-item page p50 {result['baseline_list_p50_ms']:.1f} ms; "
        f"machine load average at the end {result['load_average_1m_at_end']:.1f} (cores: {os.cpu_count()})",
    )
