"""The outbox relay killed by SIGKILL between its Kafka send and its settle insert: nothing
is lost, the consumers apply every event once, the scan's horizon moves on, and the
restarted relay republishes only the versions that were not settled."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from alliance_devstack.provision import Infrastructure
from alliance_shared.audit import AUDIT_COLLECTION, AuditTrail
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.messaging.relay import HORIZON, RELAY_STATE
from alliance_shared.persistence.versioned_store import journal_of, settled_of
from tests.conftest import service_env
from tests.integration.shared.test_runtime_outbox import probe_settings, wait_for
from tests.support.kafka_io import read_topic, skip_history
from tests.support.probe import TALLIES, WIDGETS, build_runtime
from tests.system.relay_crash_probe import widget_ids

pytestmark = [pytest.mark.infra, pytest.mark.timeout(600)]

SETTLED = 20
UNSETTLED = 30


async def test_relay_killed_between_send_and_settle_republishes_only_the_unsettled(
    infra: Infrastructure,
    dev_keys_dir: Path,
    unique: str,
    subprocess_env: dict[str, str],
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    database = f"probe_{unique}"
    group = f"g-{unique}"
    settled_ids, unsettled_ids = widget_ids(f"{unique}-settled", SETTLED), widget_ids(f"{unique}-unsettled", UNSETTLED)
    await skip_history(infra.kafka_admin, group)
    settings = service_env(infra, "", database, dev_keys_dir, kafka_consumer_group=group)
    env = {
        **subprocess_env,
        **{f"PROBE_{k}": v for k, v in settings.items()},
        "PROBE_RUN_RELAY": "false",
        "PROBE_RUN_CONSUMERS": "false",
    }
    counts = ["--settled", str(SETTLED), "--unsettled", str(UNSETTLED)]
    died = subprocess.run(
        [sys.executable, "-m", "tests.system.relay_crash_probe", "--prefix", unique, *counts],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert died.returncode == -9, died.stderr.decode()[-2000:]

    db = mongo_client[database]
    journal, settled = db[journal_of(WIDGETS)], db[settled_of(WIDGETS)]
    assert await journal.count_documents({}) == SETTLED + UNSETTLED
    assert sorted(doc["_id"].split("#")[0] for doc in await settled.find({}).to_list()) == settled_ids
    left = await db[RELAY_STATE].find_one({"_id": WIDGETS})
    assert left is not None  # the dead relay's scan moved the horizon past the settled widgets
    first_unsettled = await journal.find_one({"_aggregate_id": unsettled_ids[0]})
    assert first_unsettled is not None
    assert left[HORIZON] <= first_unsettled["_written_at"]
    audit = db[AUDIT_COLLECTION]
    assert await audit.count_documents({"action": "widget.create"}) == SETTLED + UNSETTLED  # appended before death

    restarted = build_runtime(probe_settings(infra, database, dev_keys_dir, kafka_consumer_group=group))
    await restarted.start()
    try:

        async def all_settled_and_tallied() -> bool:
            counts = [await settled.count_documents({}), await db[TALLIES].count_documents({})]
            return counts == [SETTLED + UNSETTLED, SETTLED + UNSETTLED]

        await wait_for(all_settled_and_tallied, timeout_s=120)
        mine = {*settled_ids, *unsettled_ids}
        records = await read_topic(
            infra.kafka_admin,
            REGISTRY_EVENTS,
            until=lambda rs: sum(r.key is not None and r.key.decode() in mine for r in rs) >= SETTLED + 2 * UNSETTLED,
            timeout_s=60,
        )
        sent = Counter(r.key.decode() for r in records if r.key is not None and r.key.decode() in mine)
        assert {widget_id: sent[widget_id] for widget_id in settled_ids} == dict.fromkeys(settled_ids, 1)
        assert {widget_id: sent[widget_id] for widget_id in unsettled_ids} == dict.fromkeys(unsettled_ids, 2)
        await asyncio.sleep(2.0)  # give any wrongful second application the chance to show
        tallies = await db[TALLIES].find({}, {"count": 1}).to_list()
        assert sorted(doc["_id"] for doc in tallies) == sorted(f"tally-{widget_id}" for widget_id in mine)
        assert {doc["count"] for doc in tallies} == {1}
        assert await db[journal_of(TALLIES)].count_documents({}) == SETTLED + UNSETTLED
        assert await audit.count_documents({"action": "widget.create"}) == SETTLED + UNSETTLED
        assert await AuditTrail(audit, "registry").verify() == []
        assert await restarted.relay.backlog() == 0
        moved = await db[RELAY_STATE].find_one({"_id": WIDGETS})
        newest = await journal.find_one({"_aggregate_id": unsettled_ids[-1]})
        assert moved is not None
        assert newest is not None
        assert moved[HORIZON] > newest["_written_at"] > left[HORIZON]
    finally:
        await restarted.stop()
