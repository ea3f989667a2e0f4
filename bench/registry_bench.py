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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import ASCENDING

from alliance_devstack.components import free_port
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import start_at_topic_ends
from alliance_registry.domain.credit_code import with_check_character
from alliance_registry.domain.partner import Partner, PartnerDetails
from alliance_registry.service.repositories import CERTIFICATIONS, PARTNERS, partner_query_fields
from alliance_shared.auth.devtokens import ensure_keys, mint
from alliance_shared.contract.registry import CollegeProfileView, EnterpriseProfileView
from alliance_shared.contract.topics import SERVICE_TOPICS
from alliance_shared.contract.vocabulary import PartnerKind
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
from bench.stats import Table, percentile

TITLE = "registry API: reads and writes at fixed rates vs a bare FastAPI endpoint; list/search on seeded partners"

READ_RATES = (50, 100, 200)
WRITE_RATES = (10, 25, 50)
SECONDS_PER_RATE = 4.0
SEED_SIZES = (1_000, 10_000)
SEED_BUDGET_S = 60.0
LIST_REPEATS = 4
BURST_WRITERS = 8
BURST_S = 4.0

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


async def closed_loop(write: Callable[[int], Awaitable[bool]]) -> dict[str, float]:
    """``BURST_WRITERS`` writers, each sending its next write as soon as the last is answered,
    for ``BURST_S``: the write rate the path sustains and its latency at that rate."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + BURST_S
    started = time.perf_counter()

    async def writer(first: int) -> None:
        nonlocal failures
        n = first
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            if not await write(n):
                failures += 1
            latencies.append((time.perf_counter() - sent) * 1000)
            n += BURST_WRITERS

    await asyncio.gather(*(writer(i) for i in range(BURST_WRITERS)))
    return {
        "writes": len(latencies),
        "per_s": len(latencies) / (time.perf_counter() - started),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "failures": failures,
    }


async def write_burst(base: str, headers: dict[str, str], rng: random.Random) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:

        async def register(n: int) -> bool:
            try:
                return (await client.post("/partners", json=partner_body(rng, n))).status_code == 201
            except httpx.HTTPError:
                return False

        return await closed_loop(register)


async def engine_write_burst(mongo_url: str, database: str) -> dict[str, float]:
    """The engine's ceiling for a registration: the three inserts it makes (credit-code claim,
    journal version, current document) of the same documents, through pymongo, nothing else."""
    client = create_client(mongo_url, app_name="registry-bench-engine")
    db = client[database]
    rng = random.Random(5)
    now = datetime.now(UTC)

    async def register(n: int) -> bool:
        body = partner_body(rng, n)
        pid = f"ent-raw{n:06d}"
        journal = {**body, "_id": version_id(pid, 1), AGGREGATE_ID: pid, VERSION: 1,
                   DEDUPE_KEY: version_id(pid, 1), WRITTEN_AT: now, OUTBOX: []}  # fmt: skip
        await db["raw_credit_codes"].insert_one({"_id": body["credit_code"] + str(n), "partner_id": pid})
        await db["raw_journal"].insert_one(journal)
        await db["raw_current"].insert_one(current_document(journal))
        return True

    try:
        return await closed_loop(register)
    finally:
        await client.close()


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
                    DEDUPE_KEY: version_id(pid, 1),
                    WRITTEN_AT: now,
                    OUTBOX: [],
                }
                journal.append(doc)
                current.append(current_document(doc))
            await db[journal_of(PARTNERS)].insert_many(journal, ordered=False)
            # Seeded as published: the relay has nothing to send for them.
            await db[settled_of(PARTNERS)].insert_many([{"_id": doc["_id"], SETTLED_AT: now} for doc in journal])
            await db[PARTNERS].insert_many(current, ordered=False)
            inserted += len(current)
    finally:
        await client.close()
    return {"target": target, "seeded": inserted, "seconds": time.perf_counter() - started}


#: (name, registry path, the engine's query for the same page: collection and filter). The
#: registry asks for ``limit + 1`` documents ordered by ``_id`` (cursor pagination); the engine
#: rows make exactly that request through pymongo, so the difference is the service's cost.
#: ``certified=true`` reads the certifications (nobody is certified here, so no partner query).
LIST_QUERIES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("first page, no filter", "/partners?limit=50", PARTNERS, {}),
    ("kind=enterprise", "/partners?kind=enterprise&limit=50", PARTNERS, {"kind": "enterprise"}),
    ("region=4403 & sector=C39", "/partners?region=4403&sector=C39&limit=50", PARTNERS,
     {"q_region_prefixes": "4403", "sector_code": {"$regex": "^C39"}}),
    ("name text q=精密电子", "/partners?q=精密电子&limit=50", PARTNERS,
     {"$or": [{name: {"$regex": "精密电子", "$options": "i"}} for name in ("name_zh", "name_en")]}),
    ("certified=true", "/partners?certified=true&limit=50", CERTIFICATIONS, {"status": "certified"}),
    ("point read /partners/{id}", "/partners/ent-seed000001", PARTNERS, {"_id": "ent-seed000001"}),
)  # fmt: skip
PAGE_REQUEST = 51


def latency_row(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99), "max_ms": max(samples)}


async def list_latency(base: str, headers: dict[str, str], repeats: int) -> list[dict[str, Any]]:
    rows = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for name, path, _collection, _filter in LIST_QUERIES:
            latencies: list[float] = []
            items = failures = 0
            for _ in range(repeats):
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code == 200:
                    items = len(response.json().get("items", [1]))
                else:  # a timeout in the service (503): counted, and the run goes on
                    failures += 1
            rows.append({"query": name, "items": items, "failures": failures, **latency_row(latencies)})
    return rows


async def engine_latency(mongo_url: str, database: str, repeats: int) -> list[dict[str, Any]]:
    """The engine's own figure for each list: the same filter, ``_id`` order and page size
    through pymongo; and the same filter unsorted, which the local engine streams and stops
    at the page (its in-memory sort of every matching document is what the sorted one adds)."""
    # Longer than the service's 30 s: on an overloaded machine the engine's figure is the point.
    client = create_client(mongo_url, app_name="registry-bench-engine", operation_timeout_ms=180_000)
    db = client[database]
    rows = []

    async def fetch(collection: str, query: dict[str, Any], sort: list[tuple[str, int]] | None) -> float:
        started = time.perf_counter()
        cursor = db[collection].find(query, sort=sort).limit(PAGE_REQUEST)
        _ = [doc async for doc in cursor]
        return (time.perf_counter() - started) * 1000

    try:
        for name, _path, collection, query in LIST_QUERIES:
            by_id = [await fetch(collection, query, [("_id", ASCENDING)]) for _ in range(repeats)]
            unsorted = [await fetch(collection, query, None) for _ in range(repeats)]
            rows.append(
                {
                    "query": name,
                    "sorted": latency_row(by_id),
                    "unsorted": latency_row(unsorted),
                }
            )
    finally:
        await client.close()
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
        group = f"alliance-registry-bench-{run_id}"  # its principal may use alliance-registry* groups only
        env = {
            **os.environ,
            **infra.kafka_services["registry"].settings_env("REGISTRY_"),
            "REGISTRY_MONGO_URL": infra.mongo_url,
            "REGISTRY_MONGO_DATABASE": database,
            "REGISTRY_HTTP_PORT": str(reg_port),
            "REGISTRY_OPS_PORT": str(free_port()),
            "REGISTRY_JWKS_FILE": str(keys / "jwks.json"),
            "REGISTRY_LOG_LEVEL": "WARNING",
            # A group of its own, from the topics' ends: what earlier runs left on the shared
            # topics (another benchmark's story) is not consumed during the measurement.
            "REGISTRY_KAFKA_CONSUMER_GROUP": group,
        }
        await start_at_topic_ends(infra.kafka_admin, group, SERVICE_TOPICS["registry"].consumes)
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
            burst = {
                "engine": await engine_write_burst(infra.mongo_url, database),
                "registry": await write_burst(reg_url, headers, rng),
            }
            seeded: list[dict[str, Any]] = []
            lists: list[dict[str, Any]] = []
            done = 0
            for size in SEED_SIZES:
                step = await seed(infra.mongo_url, database, done, size, SEED_BUDGET_S)
                done = step["seeded"]
                seeded.append(step)
                service_rows = await list_latency(reg_url, headers, LIST_REPEATS)
                engine_rows = await engine_latency(infra.mongo_url, database, LIST_REPEATS)
                lists += [
                    {**row, "partners": done, "engine": engine}
                    for row, engine in zip(service_rows, engine_rows, strict=True)
                ]
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
        "write_burst": burst,
        "burst_writers": BURST_WRITERS,
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
    engine, registry = result["write_burst"]["engine"], result["write_burst"]["registry"]
    rows.append(
        [
            f"write burst, {result['burst_writers']} writers (baseline: the engine's own inserts)",
            f"{engine['per_s']:.0f} / {registry['per_s']:.0f}",
            f"{engine['p50_ms']:.1f} / {registry['p50_ms']:.1f}",
            f"{engine['p99_ms']:.1f} / {registry['p99_ms']:.1f}",
            f"{engine['failures']} / {registry['failures']}",
        ]
    )
    seeded = result["seed"]
    for row in result["lists"]:
        by_id, unsorted = row["engine"]["sorted"], row["engine"]["unsorted"]
        rows.append(
            [
                f"list {row['query']} ({row['partners']} partners; baseline: the engine's same find)",
                f"{row['items']} items",
                f"{by_id['p50_ms']:.1f} / {row['p50_ms']:.1f}",
                f"{by_id['p99_ms']:.1f} / {row['p99_ms']:.1f}",
                f"engine unsorted p50 {unsorted['p50_ms']:.1f}; {row['failures']} failed",
            ]
        )
    return Table(
        ["request", "achieved/s (baseline / registry)", "p50 ms (baseline / registry)", "p99 ms (baseline / registry)",
         "failures / note"],
        rows,
        "baselines: reads and writes at fixed rates, a bare FastAPI endpoint; the write burst, the engine's three "
        "inserts of a registration through pymongo; each list, the engine's find with the same filter, _id order and "
        f"page size ({PAGE_REQUEST}) through pymongo (unsorted: the same filter in the engine's natural order). "
        f"{LIST_REPEATS} samples per list (p99 is their maximum). "
        "seeded " + ", ".join(f"{s['seeded']} of {s['target']} partners ({s['seconds']:.1f} s)" for s in seeded) + "; "
        f"bare 50-item page p50 {result['baseline_list_p50_ms']:.1f} ms; "
        f"machine load average at the end {result['load_average_1m_at_end']:.1f} (cores: {os.cpu_count()})",
    )  # fmt: skip
