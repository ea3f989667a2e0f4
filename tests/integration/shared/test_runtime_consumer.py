"""The idempotent consumer runner on the real servers: redelivery, crash, poison records."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_shared.contract.envelope import CloudEvent, to_kafka
from alliance_shared.contract.topics import dlq_of
from alliance_shared.messaging.kafka import KafkaAccess, ensure_topics
from alliance_shared.persistence.versioned_store import MongoVersionedStore
from tests.conftest import service_env
from tests.integration.shared.test_runtime_outbox import probe_settings, wait_for
from tests.support.kafka_io import header, produce, read_topic
from tests.support.probe import WidgetCreated, build_runtime

pytestmark = pytest.mark.infra


def created_record(widget_id: str, *, event_id: str | None = None, bumps: int = 1) -> tuple[bytes, bytes, list[Any]]:
    event = CloudEvent.wrap(WidgetCreated(widget_id=widget_id, label="x", bumps=bumps), "test", event_id=event_id)
    return to_kafka(event)


async def tally(client: AsyncMongoClient[dict[str, Any]], database: str, widget_id: str) -> int | None:
    snapshot = await MongoVersionedStore(client[database], "tallies", "test").load(f"tally-{widget_id}")
    return None if snapshot is None else int(snapshot.state["count"])


@pytest.fixture
async def topic(infra: Infrastructure, unique: str, dev_keys_dir: Path) -> str:
    name = f"test.probe.{unique}"
    await ensure_topics(probe_settings(infra, "unused", dev_keys_dir), [name], partitions=2)
    return name


async def test_same_event_three_times_is_applied_once(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    topic: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    database = f"probe_{unique}"
    event_id = str(uuid.uuid4())
    record = created_record("w1", event_id=event_id, bumps=5)
    await produce(infra.kafka_admin, topic, [record, record, record, created_record("w2")])
    runtime = build_runtime(
        probe_settings(infra, database, dev_keys_dir, probe_topic=topic, kafka_consumer_group=f"g-{unique}")
    )
    await runtime.start()
    try:

        async def both_applied() -> bool:
            return (
                await tally(mongo_client, database, "w2") == 1 and await tally(mongo_client, database, "w1") is not None
            )

        await wait_for(both_applied)
        await asyncio.sleep(1.0)  # give any wrongful re-application the chance to show
        assert await tally(mongo_client, database, "w1") == 5
    finally:
        await runtime.stop()


async def test_consumer_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    topic: str,
    subprocess_env: dict[str, str],
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    database = f"probe_{unique}"
    # More keys than the consumer applies at once (128), each handled slowly: the kill
    # comes after the first keys of the poll are applied and before the poll is committed.
    widgets = [f"k{i}" for i in range(300)]
    await produce(infra.kafka_admin, topic, [created_record(w) for w in widgets])
    env = {
        **subprocess_env,
        **{f"PROBE_{k}": v for k, v in service_env(infra, "", database, dev_keys_dir).items()},
        "PROBE_PROBE_TOPIC": topic,
        "PROBE_KAFKA_CONSUMER_GROUP": f"g-{unique}",
        "PROBE_PROBE_HANDLE_DELAY_S": "0.5",
    }

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.probe", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def applied() -> int:
        return await mongo_client[database]["tallies"].count_documents({})

    first = start()
    try:

        async def some_applied() -> bool:
            return await applied() >= 10

        await wait_for(some_applied, timeout_s=60)
        first.send_signal(signal.SIGKILL)  # mid-batch: part applied, nothing committed
        first.wait(timeout=10)
        assert await applied() < len(widgets)
    finally:
        if first.poll() is None:
            first.kill()
    second = start()
    try:

        async def all_applied() -> bool:
            return await applied() == len(widgets)

        await wait_for(all_applied, timeout_s=90)
        await asyncio.sleep(1.0)
        counts = [await tally(mongo_client, database, w) for w in widgets]
        assert counts == [1] * len(widgets)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)


async def test_poison_records_go_to_the_dlq_with_a_reason_and_the_consumer_goes_on(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    topic: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    database = f"probe_{unique}"
    good_key, good_value, good_headers = created_record("after-poison")
    _, _, valid_headers = created_record("poison")
    unknown_type = [
        (k, b"org.coopalliance.testing.widget.exploded.v1" if k == "ce_type" else v) for k, v in valid_headers
    ]
    poison: list[tuple[bytes | None, bytes | None, list[Any]]] = [
        (b"p1", b"{not json", valid_headers),
        (b"p2", json.dumps({"widget_id": "p2", "label": "x"}).encode(), unknown_type),
        (b"p3", json.dumps({"widget_id": "p3", "label": "x", "bumps": -4}).encode(), valid_headers),
        (b"p4", json.dumps({"widget_id": "p4", "label": "x" * 300_000}).encode(), valid_headers),
        (b"p5", b"{}", [("content-type", b"application/json")]),
    ]
    await produce(infra.kafka_admin, topic, [*poison, (good_key, good_value, good_headers)])
    runtime = build_runtime(
        probe_settings(infra, database, dev_keys_dir, probe_topic=topic, kafka_consumer_group=f"g-{unique}")
    )
    await runtime.start()
    try:

        async def good_applied() -> bool:
            return await tally(mongo_client, database, "after-poison") == 1

        await wait_for(good_applied, timeout_s=30)
        dead = await read_topic(infra.kafka_admin, dlq_of(topic), until=lambda rs: len(rs) >= 5)
        reasons = {r.key: header(r, "dlq_reason") for r in dead}
        assert reasons == {
            b"p1": "envelope.malformed_json",
            b"p2": "event.unknown_type",
            b"p3": "event.invalid_payload",
            b"p4": "record.oversized",
            b"p5": "envelope.missing_attributes",
        }
        by_key = {r.key: r for r in dead}
        assert by_key[b"p1"].value == b"{not json"  # the original bytes, untouched
        assert header(by_key[b"p3"], "dlq_source_topic") == topic
        assert header(by_key[b"p3"], "ce_type") == WidgetCreated.event_type  # original headers kept
        assert "bumps" in (header(by_key[b"p3"], "dlq_detail") or "")
        assert await tally(mongo_client, database, "p3") is None  # nothing applied
        metrics = runtime.metrics.dlq_records.collect()[0].samples
        assert sum(s.value for s in metrics if s.name.endswith("_total")) == 5
    finally:
        await runtime.stop()


async def limit_topic(kafka: KafkaAccess, topic: str, max_message_bytes: int) -> None:
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": str(max_message_bytes)})]
        )
    finally:
        await admin.close()


def deep_json(depth: int) -> bytes:
    return b'{"widget_id": "deep", "label": ' + b"[" * depth + b"]" * depth + b"}"


async def test_hostile_records_are_each_dead_lettered_with_a_reason_and_good_ones_applied_once(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    topic: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    """Whatever a college system writes, the consumer survives it: every record is applied
    or dead-lettered with its reason, a copy too large for the dead-letter topic is shrunk
    to its digest, and the consumer stays ready."""
    database = f"probe_{unique}"
    _, _, headers = created_record("hostile")
    near_broker_limit = b'{"widget_id": "big", "label": "' + b"x" * 500_000 + b'"}'
    hostile: list[tuple[bytes | None, bytes | None, list[Any]]] = [
        (b"h-deep", deep_json(100_000), headers),
        (b"h-huge-int", b'{"widget_id": "n", "label": "x", "bumps": 1' + b"0" * 5000 + b"}", headers),
        (b"h-utf8", b'{"widget_id": "\xff\xfe", "label": "x"}', headers),
        (b"h-array", b"[1, 2, 3]", headers),
        (b"h-string", b'"just a string"', headers),
        (b"h-null", None, headers),
        (b"h-bad-header", b"{}", [(k, b"\xff\xfe" if k == "ce_type" else v) for k, v in headers]),
        (b"h-dup-headers", b'{"widget_id": "d", "label": "x"}', [*headers, ("ce_type", b"org.example.other.v1")]),
        (b"h-long-header", b'{"widget_id": "l", "label": "x"}', [*headers, ("x-junk", b"j" * 50_000)]),
        (b"h-near-limit", near_broker_limit, headers),
    ]
    good = [created_record(f"good-{i}") for i in range(3)]
    await limit_topic(infra.kafka_admin, dlq_of(topic), 300_000)  # the copy cannot go as it is
    await produce(infra.kafka_admin, topic, [good[0], *hostile, good[1], good[0], good[2]])
    runtime = build_runtime(
        probe_settings(infra, database, dev_keys_dir, probe_topic=topic, kafka_consumer_group=f"g-{unique}")
    )
    await runtime.start()
    try:

        async def all_good_applied() -> bool:
            return [await tally(mongo_client, database, f"good-{i}") for i in range(3)] == [1, 1, 1]

        await wait_for(all_good_applied, timeout_s=60)
        dead = await read_topic(infra.kafka_admin, dlq_of(topic), until=lambda rs: len(rs) >= 9, timeout_s=30)
        reasons = {r.key: header(r, "dlq_reason") for r in dead}
        assert reasons[b"h-deep"] == "envelope.unreadable_json"
        assert reasons[b"h-huge-int"] == "envelope.unreadable_json"
        assert reasons[b"h-utf8"] == "envelope.malformed_json"
        assert reasons[b"h-array"] == reasons[b"h-string"] == "envelope.malformed_json"
        assert reasons[b"h-null"] == "envelope.no_data"
        assert reasons[b"h-bad-header"] == "envelope.bad_header"
        assert reasons[b"h-near-limit"] == "record.oversized"
        shrunk = json.loads(next(r for r in dead if r.key == b"h-near-limit").value or b"{}")
        assert shrunk["dlq_shrunk"] is True
        assert shrunk["size"] == len(near_broker_limit)
        assert "MessageSizeTooLarge" in shrunk["refused_by_broker"]
        assert reasons[b"h-dup-headers"] == "envelope.duplicate_header"
        assert set(reasons) == {k for k, _, _ in hostile} - {b"h-long-header"}
        assert await tally(mongo_client, database, "l") == 1  # a long unrelated header is no reason to refuse
        readiness = await runtime.readiness()
        assert all(v == "ok" for v in readiness.values()), readiness
    finally:
        await runtime.stop()


async def test_a_consumer_that_fails_is_reported_restarted_and_applies_its_batch_once(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    topic: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    database = f"probe_{unique}"
    await produce(infra.kafka_admin, topic, [created_record("flaky", bumps=3)])
    settings = probe_settings(
        infra,
        database,
        dev_keys_dir,
        probe_topic=topic,
        kafka_consumer_group=f"g-{unique}",
        kafka_transient_retry_seconds=0.5,
        probe_transient_failures=12,
    )
    runtime = build_runtime(settings)
    await runtime.start()
    try:
        seen_down = False

        async def applied() -> bool:
            nonlocal seen_down
            seen_down = seen_down or "restarting" in (await runtime.readiness()).values()
            return await tally(mongo_client, database, "flaky") == 3

        await wait_for(applied, timeout_s=60)
        assert seen_down
        restarts = runtime.metrics.consumer_restarts.collect()[0].samples
        assert sum(s.value for s in restarts if s.name.endswith("_total")) >= 1
        assert all(v == "ok" for v in (await runtime.readiness()).values())
    finally:
        await runtime.stop()


async def test_a_shutdown_that_cannot_finish_a_step_ends_at_its_deadline_and_loses_nothing(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    topic: str,
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    """A batch that never ends is given up after half the shutdown (its consumer still leaves
    the group), a task slow to stop is abandoned at the deadline; the batch's record, never
    committed, is applied once by the next start."""
    database = f"probe_{unique}"
    settings = dict(kafka_consumer_group=f"g-{unique}", probe_topic=topic, shutdown_seconds=2)
    await produce(infra.kafka_admin, topic, [created_record("stuck")])
    stuck = build_runtime(probe_settings(infra, database, dev_keys_dir, probe_handle_delay_s=3600, **settings))
    await stuck.start()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(60)  # a clean-up that outlasts the deadline (a second cancel ends it)

    stuck.add_task(slow_to_stop(), "slow-to-stop")
    # The handler holds the record (white box: nothing outside the runner shows a batch in hand).
    await wait_for(lambda: asyncio.sleep(0.1, result=stuck.consumers[0]._batch_lock.locked()), timeout_s=30)
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(stuck.stop(), timeout=20)
    abandoned = {entry["step"] for entry in logs if entry["event"].startswith("shutdown step overran")}
    assert abandoned == {"slow-to-stop"}
    assert await tally(mongo_client, database, "stuck") is None

    again = build_runtime(probe_settings(infra, database, dev_keys_dir, **settings))
    await again.start()
    try:
        await wait_for(lambda: _is(tally(mongo_client, database, "stuck"), 1))
        await asyncio.sleep(1.0)  # give any wrongful re-application the chance to show
        assert await tally(mongo_client, database, "stuck") == 1
    finally:
        await again.stop()


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
