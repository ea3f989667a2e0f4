"""The probe service killed by SIGKILL between the relay's Kafka send and its settle insert
(``python -m tests.system.relay_crash_probe``, settings from ``PROBE_*``), for
tests/system/test_relay_crash.py.

It writes ``--settled`` widgets and lets its relay publish and settle them and scan (the
horizon moves past them); then writes ``--unsettled`` more and dies once the relay has sent
their events, flushed the producer and appended their audit entries, before it records
them as settled.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Mapping, Sequence
from unittest import mock

from alliance_shared.messaging.relay import OutboxRelay
from alliance_shared.persistence.mongo import Document
from alliance_shared.persistence.versioned_store import AuditNote
from tests.support.probe import WIDGETS, ProbeSettings, WidgetCreated, build_runtime


def widget_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{n:03d}" for n in range(count)]


async def _die(relay: OutboxRelay, store: str, docs: Sequence[Document], refused: Mapping[str, str]) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def _publish_then_die(settings: ProbeSettings, prefix: str, settled: int, unsettled: int) -> None:
    runtime = build_runtime(settings)
    await runtime.start()
    store = runtime.store(WIDGETS)

    async def write(widget_id: str) -> None:
        audit = AuditNote("widget.create", "widget", widget_id, None, {"label": "x"})
        await store.create(widget_id, {"label": "x"}, [WidgetCreated(widget_id=widget_id, label="x")], audit)

    for widget_id in widget_ids(f"{prefix}-settled", settled):
        await write(widget_id)
    await runtime.relay.publish_written()
    await runtime.relay.scan()
    for widget_id in widget_ids(f"{prefix}-unsettled", unsettled):
        await write(widget_id)
    with mock.patch.object(OutboxRelay, "_settle", _die):
        await runtime.relay.publish_written()
    raise AssertionError("the relay settled instead of dying")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--settled", type=int, required=True)
    parser.add_argument("--unsettled", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(_publish_then_die(ProbeSettings(), args.prefix, args.settled, args.unsettled))


if __name__ == "__main__":
    main()
