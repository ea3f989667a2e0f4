"""The four services as processes: resident memory at rest and under load, and the
end-to-end latency from an evaluation cycle completing to the tranche it releases
becoming eligible (funding) and to the college system receiving the signed webhook.

Load is the whole demo story (`alliance demo`) told twice in a row. Latency is observed
by polling every 50 ms, so figures carry that resolution; both mid-term tranches are
watched, from the moment the completing request is sent and from its answer (the results
and their events are stored by then). Baseline: a single Kafka
record's produce→consume round trip on the same broker in the same run — the floor
any event-driven hop stands on.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from alliance_devstack.components import free_port
from alliance_devstack.demo.access import PlatformAccess
from alliance_devstack.demo.story import Story
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import (
    Platform,
    available_services,
    isolated_env,
    prefix_of,
    resident_memory_bytes,
    start_at_topic_ends,
)
from alliance_shared.auth.devtokens import ensure_keys
from alliance_shared.contract.topics import EVENT_TOPICS
from alliance_shared.messaging.kafka import KafkaAccess, ensure_topics, settings_for
from bench.stats import Table, percentile

TITLE = "platform: memory per service; evaluation completed → tranche eligible → webhook delivered"
STORIES = 2
MIB = 1024 * 1024


class MemorySampler:
    """Peak resident memory per service while load runs (sampled every 200 ms)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.peak: dict[str, int] = dict.fromkeys(platform.services, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> dict[str, int]:
        return {
            name: resident_memory_bytes(service.process.pid) if service.process else 0
            for name, service in self.platform.services.items()
        }

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name, value in self.rss().items():
                self.peak[name] = max(self.peak[name], value)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class TimedStory(Story):
    """The demo story, noting when each mid-term cycle completed and when its effects showed."""

    def __init__(self, access: PlatformAccess) -> None:
        super().__init__(access, lambda line: None)
        self.completed_at: float = 0.0
        self.answered_at: float = 0.0
        self.completed = asyncio.Event()
        self.answered = asyncio.Event()
        self.eligible_after: list[float] = []
        self.eligible_after_answer: list[float] = []
        self.webhook_after: list[float] = []

    async def complete_cycle(self, cycle_id: str) -> None:
        # The results (and their events) are written while the completing request runs:
        # one clock starts when it is sent, another when it is answered (the evaluation
        # is then completed: its results and their events are stored).
        first = not self.completed.is_set()
        if first:
            self.completed_at = time.perf_counter()
            self.completed.set()
        await super().complete_cycle(cycle_id)
        if first:
            self.answered_at = time.perf_counter()
            self.answered.set()

    async def mid_term_evaluation(self) -> None:
        # Watch both mid-term tranches and the college's webhook from the moment the cycle completes.
        watchers = [asyncio.create_task(self.watch(award, webhook=award == "A1")) for award in ("A1", "A2")]
        await super().mid_term_evaluation()
        await asyncio.gather(*watchers)

    async def watch(self, award: str, *, webhook: bool) -> None:
        await self.completed.wait()
        webhooks_before = len(self.college_system.notices)
        eligible_at = webhook_at = 0.0
        deadline = time.perf_counter() + 120
        while (not eligible_at or (webhook and not webhook_at)) and time.perf_counter() < deadline:
            now = time.perf_counter()
            if not eligible_at and (await self.tranche(award, 2))["status"] in {
                "eligible",
                "requested",
                "approved",
                "paid",
            }:
                eligible_at = now
            if (
                webhook
                and not webhook_at
                and any(
                    n.event_type.endswith("tranche.eligible.v1") for n in self.college_system.notices[webhooks_before:]
                )
            ):
                webhook_at = now
            await asyncio.sleep(0.05)
        await self.answered.wait()
        if eligible_at:
            self.eligible_after.append((eligible_at - self.completed_at) * 1000)
            self.eligible_after_answer.append(max(0.0, eligible_at - self.answered_at) * 1000)
        if webhook_at:
            self.webhook_after.append((webhook_at - self.completed_at) * 1000)


async def kafka_round_trip(kafka: KafkaAccess, samples: int = 50) -> list[float]:
    topic = f"bench.roundtrip.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings_for(kafka), [topic])
    producer = AIOKafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(topic, **kafka.options(), auto_offset_reset="earliest")
    await producer.start()
    await producer.send_and_wait(topic, b"warm-up")
    await consumer.start()
    await consumer.getone()
    latencies = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            await producer.send_and_wait(topic, b"ping")
            await consumer.getone()
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await producer.stop()
        await consumer.stop()
    return latencies


def start_platform(infra: Infrastructure, keys_dir: Path, logs: Path) -> Platform:
    env = isolated_env(
        infra.kafka_services,
        infra.mongo_url,
        infra.smtp.host,
        infra.smtp.port,
        ensure_keys(keys_dir),
        f"bench_{uuid.uuid4().hex[:8]}",
    )
    env.update({name.upper() + "_LOG_LEVEL": "WARNING" for name in available_services()})
    for name in available_services():  # what earlier benchmarks left on the topics is not this load
        asyncio.run(start_at_topic_ends(infra.kafka_admin, env[prefix_of(name) + "KAFKA_CONSUMER_GROUP"], EVENT_TOPICS))
    platform = Platform.create(env, logs, ports={name: free_port() for name in available_services()})
    platform.start(timeout_s=120)
    return platform


async def run(infra: Infrastructure) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-platform-") as work:
        platform = await asyncio.to_thread(start_platform, infra, Path(work) / "keys", Path(work) / "logs")
        try:
            await asyncio.sleep(5.0)  # settle: topics created, consumers joined
            sampler = MemorySampler(platform)
            at_rest = sampler.rss()
            eligible: list[float] = []
            eligible_after_answer: list[float] = []
            webhook: list[float] = []
            with sampler:
                for _ in range(STORIES):
                    access = PlatformAccess(
                        urls={n: s.url for n, s in platform.services.items()},
                        keys_dir=Path(work) / "keys",
                        kafka=infra.kafka_admin,
                        kafka_security=infra.kafka_security,
                        maildir=infra.smtp.maildir,
                    )
                    story = TimedStory(access)
                    try:
                        await story.tell()
                    finally:
                        await access.close()
                    eligible += story.eligible_after
                    eligible_after_answer += story.eligible_after_answer
                    webhook += story.webhook_after
        finally:
            await asyncio.to_thread(platform.stop)
    baseline = await kafka_round_trip(infra.kafka_admin)
    return {
        "memory_mib": {
            name: {"at_rest": round(at_rest[name] / MIB, 1), "under_load_peak": round(sampler.peak[name] / MIB, 1)}
            for name in at_rest
        },
        "latency_ms": {
            "kafka_round_trip_baseline": {"p50": percentile(baseline, 0.5), "p99": percentile(baseline, 0.99)},
            "evaluation_completed_to_tranche_eligible": {"samples": eligible, "p50": percentile(eligible, 0.5)},
            "evaluation_answered_to_tranche_eligible": {
                "samples": eligible_after_answer,
                "p50": percentile(eligible_after_answer, 0.5),
            },
            "evaluation_completed_to_webhook_delivered": {"samples": webhook, "p50": percentile(webhook, 0.5)},
        },
        "load": f"the demo story told {STORIES} times",
        "poll_resolution_ms": 50,
    }


def table(result: dict[str, Any]) -> Table:
    rows: list[list[Any]] = [
        [f"{name} RSS (MiB)", figures["at_rest"], figures["under_load_peak"]]
        for name, figures in result["memory_mib"].items()
    ]
    latency = result["latency_ms"]
    rows.append(
        [
            "Kafka round trip (ms, baseline)",
            f"p50 {latency['kafka_round_trip_baseline']['p50']:.1f}",
            f"p99 {latency['kafka_round_trip_baseline']['p99']:.1f}",
        ]
    )
    for key, label in (
        ("evaluation_completed_to_tranche_eligible", "cycle completion sent → tranche eligible (ms)"),
        ("evaluation_answered_to_tranche_eligible", "cycle completion answered → tranche eligible (ms)"),
        ("evaluation_completed_to_webhook_delivered", "cycle completion sent → webhook delivered (ms)"),
    ):
        samples = latency[key]["samples"]
        rows.append(
            [label, f"p50 {latency[key]['p50']:.0f}", f"n={len(samples)}: {', '.join(f'{s:.0f}' for s in samples)}"]
        )
    return Table(["measure", "at rest / p50", "under load / p99 or samples"], rows, result["load"])
