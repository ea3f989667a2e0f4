"""The outbox on the real servers: atomic state + events, crash before publish, relay."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_shared.contract.envelope import from_kafka
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.errors import PreconditionFailed
from alliance_shared.messaging.relay import HORIZON, RELAY_STATE
from alliance_shared.persistence.versioned_store import journal_document, journal_of, settled_of
from tests.conftest import service_env
from tests.support.kafka_io import header, read_topic
from tests.support.probe import WIDGETS, ProbeSettings, WidgetCreated, WidgetRenamed, build_runtime

pytestmark = pytest.mark.infra


def probe_settings(infra: Infrastructure, database: str, keys: Path, **extra: Any) -> ProbeSettings:
    env = service_env(infra, "", database, keys, **extra)
    return ProbeSettings(**{k.lower(): v for k, v in env.items()})


async def wait_for(predicate: Any, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_sigkill_after_state_write_loses_no_event(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    subprocess_env: dict[str, str],
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    database = f"probe_{unique}"
    widget_id = f"w-{unique}"
    env = {**subprocess_env, **{f"PROBE_{k}": v for k, v in service_env(infra, "", database, dev_keys_dir).items()}}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.probe", "write-then-die", "--widget-id", widget_id],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]

    db = mongo_client[database]
    stored = await db[journal_of(WIDGETS)].find({"_aggregate_id": widget_id}).to_list()
    assert len(stored) == 1
    assert stored[0]["label"] == "crash"
    assert await db[settled_of(WIDGETS)].find_one({"_id": stored[0]["_id"]}) is None  # not settled
    assert len(stored[0]["_outbox"]) == 1

    # A restarted process's relay publishes what the dead one could not.
    runtime = build_runtime(probe_settings(infra, database, dev_keys_dir, run_consumers=False))
    await runtime.start()
    try:

        def mine(records: list[Any]) -> list[Any]:
            return [r for r in records if r.key == widget_id.encode()]

        records = await read_topic(infra.kafka_admin, REGISTRY_EVENTS, until=lambda rs: bool(mine(rs)))
        published = mine(records)
        assert len(published) >= 1
        event = from_kafka(published[0].key, published[0].value, list(published[0].headers))
        assert event.type == WidgetCreated.event_type
        assert event.subject == widget_id
        assert header(published[0], "ce_source") == "registry"

        async def published_and_settled() -> bool:
            return await db[settled_of(WIDGETS)].find_one({"_id": stored[0]["_id"]}) is not None

        await wait_for(published_and_settled)
        assert await db[journal_of(WIDGETS)].count_documents({"_aggregate_id": widget_id}) == 1
        assert await runtime.relay.backlog() == 0
        state = await db[RELAY_STATE].find_one({"_id": WIDGETS})
        assert state is not None
        assert state[HORIZON] > stored[0]["_written_at"]  # the scan moved past it
    finally:
        await runtime.stop()


async def test_relay_publishes_in_order_and_only_unsent_entries(
    infra: Infrastructure, dev_keys_dir: Path, unique: str, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    database = f"probe_{unique}"
    widget_id = f"w-{unique}"
    runtime = build_runtime(probe_settings(infra, database, dev_keys_dir, run_consumers=False, run_relay=False))
    await runtime.start()
    try:
        store = runtime.store(WIDGETS)
        version = await store.create(widget_id, {"label": "a"}, [WidgetCreated(widget_id=widget_id, label="a")])
        for label in ("b", "c", "d"):
            assert version is not None
            new_version = await store.save(
                widget_id, version, {"label": label}, [WidgetRenamed(widget_id=widget_id, label=label)]
            )
            assert new_version == version + 1
            version = new_version
        with pytest.raises(PreconditionFailed):
            await store.save(widget_id, 2, {"label": "stale"})
        assert await store.save(widget_id, 4, {"label": "e"}, caused_by="op-1") == 5
        assert await store.save(widget_id, 5, {"label": "e"}, caused_by="op-1") is None  # applied once
        assert await runtime.relay.backlog() == 5
        assert runtime.relay.report_backlog() == 5  # what a scrape shows, from memory
        assert await runtime.relay.publish_written() == 5
        assert await runtime.relay.backlog() == 0
        assert runtime.relay.report_backlog() == 0
        assert await runtime.relay.scan() == 0  # nothing left: settled
        records = await read_topic(
            infra.kafka_admin,
            REGISTRY_EVENTS,
            until=lambda rs: len([r for r in rs if r.key == widget_id.encode()]) >= 4,
        )
        labels = [
            from_kafka(r.key, r.value, list(r.headers)).data["label"] for r in records if r.key == widget_id.encode()
        ]
        assert labels == ["a", "b", "c", "d"]
        latest = await store.find({"label": {"$in": ["d", "e"]}})
        assert [(s.aggregate_id, s.version, s.state["label"]) for s in latest] == [(widget_id, 5, "e")]
        assert [s.state["label"] for s in await store.history(widget_id)] == ["a", "b", "c", "d", "e"]
    finally:
        await runtime.stop()


async def test_an_event_the_broker_refuses_for_good_is_set_aside_and_the_rest_go_on(
    infra: Infrastructure, dev_keys_dir: Path, unique: str, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    database = f"probe_{unique}"
    big, small = f"big-{unique}", f"small-{unique}"
    runtime = build_runtime(probe_settings(infra, database, dev_keys_dir, run_consumers=False, run_relay=False))
    await runtime.start()
    try:
        store = runtime.store(WIDGETS)
        # Written as an older version of the platform could have (stores now refuse such an
        # event up front): the relay meets a record the producer cannot send.
        journal = mongo_client[database][journal_of(WIDGETS)]
        oversized = journal_document(
            "test", big, 1, {"label": "x"}, [WidgetRenamed(widget_id=big, label="x" * 1_100_000)], None, None
        )
        await journal.insert_one(oversized)
        runtime.relay.notify(WIDGETS, oversized["_id"])
        await store.create(small, {"label": "a"}, [WidgetCreated(widget_id=small, label="a")])
        assert await runtime.relay.publish_written() == 2  # neither blocks the pass
        assert await runtime.relay.scan() == 0
        settled = mongo_client[database][settled_of(WIDGETS)]
        set_aside = await settled.find({"set_aside": {"$exists": True}}).to_list()  # what ops list
        assert [record["_id"] for record in set_aside] == [oversized["_id"]]
        assert "MessageSizeTooLargeError" in set_aside[0]["set_aside"]["reason"]
        untouched = await journal.find_one({"_id": oversized["_id"]})
        assert untouched is not None
        assert set(untouched) == set(oversized)  # the journal is never updated
        records = await read_topic(
            infra.kafka_admin, REGISTRY_EVENTS, until=lambda rs: any(r.key == small.encode() for r in rs)
        )
        assert not any(r.key == big.encode() for r in records)
        sample = runtime.metrics.registry.get_sample_value(
            "alliance_outbox_set_aside_total", {"service": "registry", "reason": "refused_by_broker"}
        )
        assert sample == 1.0
        # The runbook's replay: remove its settled record, move the horizon back to it.
        await settled.delete_one({"_id": oversized["_id"]})
        relay_state = mongo_client[database][RELAY_STATE]
        await relay_state.update_one({"_id": WIDGETS}, {"$min": {HORIZON: untouched["_written_at"]}})
        state = await relay_state.find_one({"_id": WIDGETS})
        assert state is not None
        assert state[HORIZON] == untouched["_written_at"]
        assert await runtime.relay.scan() == 1  # sent again (and refused again: the cause is not fixed here)
        assert await settled.count_documents({"set_aside": {"$exists": True}}) == 1
    finally:
        await runtime.stop()
