"""A minimal service built on the shared runtime, for testing the runtime itself.

Its one aggregate is a "widget" with a counter. It runs in-process (tests import
``build_probe``) or as its own process (``python -m tests.support.probe ...``) so a
test can SIGKILL it at a chosen moment.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Annotated, ClassVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict
from pymongo.errors import AutoReconnect

from alliance_shared.auth.dependencies import require_roles
from alliance_shared.auth.principal import Principal
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.contract.vocabulary import Role
from alliance_shared.errors import NotFound, PreconditionFailed
from alliance_shared.messaging.handlers import ConsumedEvent
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.runtime import ServiceRuntime, Subscription
from alliance_shared.settings import ServiceSettings
from alliance_shared.web.app import create_app
from alliance_shared.web.conditional import IfMatch, set_etag

WIDGETS = "widgets"
TALLIES = "tallies"


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore", frozen=True)

    service_name: str = "registry"  # publishes to alliance.registry.events like a real service
    probe_topic: str = REGISTRY_EVENTS
    probe_handle_delay_s: float = 0.0
    #: Times the consumer's handler meets a transient database failure before it succeeds.
    probe_transient_failures: int = 0
    #: Seconds a widget creation takes (to overlap retries with a running first request).
    probe_request_delay_s: float = 0.0


class WidgetCreated(EventPayload):
    event_type: ClassVar[str] = "org.coopalliance.testing.widget.created.v1"
    aggregate_field: ClassVar[str] = "widget_id"
    widget_id: str
    label: str = Field(max_length=50)
    bumps: int = Field(default=1, ge=1, le=100)


class WidgetRenamed(EventPayload):
    event_type: ClassVar[str] = "org.coopalliance.testing.widget.renamed.v1"
    aggregate_field: ClassVar[str] = "widget_id"
    widget_id: str
    label: str


PROBE_CATALOG = EventCatalog([WidgetCreated, WidgetRenamed])


Writer = Annotated[Principal, Depends(require_roles(Role.REGISTRY_ADMIN))]
Reader = Annotated[Principal, Depends(require_roles(*Role))]


class CreateWidget(BaseModel):
    widget_id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=50)


def build_runtime(settings: ProbeSettings) -> ServiceRuntime:
    runtime: ServiceRuntime
    failures_left = settings.probe_transient_failures

    async def on_created(event: ConsumedEvent) -> None:
        """Counts each created event once per widget in a tally aggregate (idempotent)."""
        nonlocal failures_left
        payload = event.payload
        assert isinstance(payload, WidgetCreated)
        if failures_left > 0:
            failures_left -= 1
            raise AutoReconnect("the probe plays a database that went away")
        if settings.probe_handle_delay_s:
            await asyncio.sleep(settings.probe_handle_delay_s)
        store = runtime.store(TALLIES)
        tally_id = f"tally-{payload.widget_id}"
        while True:
            current = await store.load(tally_id)
            count = (current.state["count"] if current else 0) + payload.bumps
            try:
                await store.save(
                    tally_id, current.version if current else 0, {"count": count}, caused_by=event.envelope.id
                )
                return
            except PreconditionFailed:
                continue  # another writer got there first: decide again on the new state

    runtime = ServiceRuntime(
        settings=settings,
        catalog=PROBE_CATALOG,
        stores=[WIDGETS, TALLIES],
        subscriptions=[Subscription(topics=[settings.probe_topic], handlers={WidgetCreated: on_created})],
    )
    return runtime


def build_probe(settings: ProbeSettings) -> FastAPI:
    runtime = build_runtime(settings)
    router = APIRouter(prefix="/widgets", tags=["widgets"])

    @router.post("", status_code=201)
    async def create(body: CreateWidget, request: Request, response: Response, _: Writer) -> dict[str, object]:
        if body.label == "explode":
            raise RuntimeError("the probe was asked to fail")
        await asyncio.sleep(settings.probe_request_delay_s)
        await runtime.store(WIDGETS).create(
            body.widget_id,
            {"label": body.label},
            [WidgetCreated(widget_id=body.widget_id, label=body.label)],
            AuditNote("widget.create", "widget", body.widget_id, None, {"label": body.label}),
        )
        set_etag(response, 1)
        return {"widget_id": body.widget_id, "label": body.label, "version": 1}

    @router.put("/{widget_id}/label")
    async def rename(
        widget_id: str, body: CreateWidget, version: IfMatch, response: Response, _: Writer
    ) -> dict[str, object]:
        new_version = await runtime.store(WIDGETS).save(
            widget_id,
            version,
            {"label": body.label},
            [WidgetRenamed(widget_id=widget_id, label=body.label)],
            AuditNote("widget.rename", "widget", widget_id, None, {"label": body.label}),
        )
        assert new_version is not None
        set_etag(response, new_version)
        return {"widget_id": widget_id, "label": body.label, "version": new_version}

    @router.get("/{widget_id}")
    async def read(widget_id: str, response: Response, _: Reader) -> dict[str, object]:
        snapshot = await runtime.store(WIDGETS).load(widget_id)
        if snapshot is None:
            raise NotFound("widget.not_found", f"no widget {widget_id}")
        set_etag(response, snapshot.version)
        return {"widget_id": widget_id, "label": snapshot.state["label"], "version": snapshot.version}

    return create_app(runtime, title="probe", description="runtime probe", routers=[router])


async def _write_then_die(settings: ProbeSettings, widget_id: str) -> None:
    """State write with its event, then SIGKILL before the relay could publish."""
    runtime = build_runtime(settings)
    await runtime.store(WIDGETS).create(
        widget_id, {"label": "crash"}, [WidgetCreated(widget_id=widget_id, label="crash")]
    )
    os.kill(os.getpid(), signal.SIGKILL)


async def _serve(settings: ProbeSettings) -> None:
    runtime = build_runtime(settings)
    await runtime.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("probe ready", flush=True)
    await stop.wait()
    await runtime.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["write-then-die", "serve"])
    parser.add_argument("--widget-id", default="w-crash")
    args = parser.parse_args()
    settings = ProbeSettings()
    if args.mode == "write-then-die":
        asyncio.run(_write_then_die(settings, args.widget_id))
    else:
        asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
