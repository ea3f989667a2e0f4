"""Kafka handlers: college reports become evidence, registry agreement events feed the
agreement read model, and dead-lettered college reports are told back to the college.

The registry's agreement event models live in ``alliance_shared.contract.registry``
(written by the registry team). Until that module exists, tolerant stand-ins for the
agreement event types are used so the read model can be fed; handlers read the
envelope's JSON data either way, taking only the fields they know.
"""

from __future__ import annotations

import importlib
from typing import ClassVar

from pydantic import ConfigDict

from alliance_evaluation.adapters.repositories import Repositories
from alliance_evaluation.service.agreements import AGREEMENT_EVENT_MARKER, apply_agreement_event
from alliance_evaluation.service.evidence import ingest_report, reject_report
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.college import COLLEGE_REPORTS, CollegeReport
from alliance_shared.contract.platform import PLATFORM_CATALOG
from alliance_shared.contract.topics import COLLEGE_REPORTS as COLLEGE_REPORTS_TOPIC
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.errors import DomainError
from alliance_shared.messaging.consumer import ConsumedEvent, DeadLetter, Handler
from alliance_shared.runtime import Subscription


class _AgreementEventStandIn(EventPayload):
    """A registry agreement event read tolerantly (stand-in until the registry contract exists)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    aggregate_field: ClassVar[str] = "agreement_id"

    agreement_id: str


def _stand_in(verb: str) -> type[EventPayload]:
    return type(
        f"Agreement{verb.title().replace('_', '')}StandIn",
        (_AgreementEventStandIn,),
        {"event_type": f"org.coopalliance.registry.agreement.{verb}.v1", "__module__": __name__},
    )


STAND_INS: tuple[type[EventPayload], ...] = tuple(
    _stand_in(verb)
    for verb in (
        "registered",
        "party_signed",
        "signed",
        "activated",
        "amended",
        "suspended",
        "resumed",
        "terminated",
        "completed",
    )
)


def registry_models() -> tuple[type[EventPayload], ...]:
    """Every registry event model (so none is dead-lettered as unknown), or the stand-ins."""
    try:
        module = importlib.import_module("alliance_shared.contract.registry")
    except ImportError:
        return STAND_INS
    models: tuple[type[EventPayload], ...] = tuple(getattr(module, "REGISTRY_EVENTS", ()))
    return models or STAND_INS


def build_catalog() -> EventCatalog:
    extra = [m for m in registry_models() if m.event_type not in PLATFORM_CATALOG]
    return EventCatalog([*PLATFORM_CATALOG, *extra])


def build_subscription(repos: Repositories, catalog: EventCatalog) -> Subscription:
    async def on_report(event: ConsumedEvent) -> None:
        report = event.payload
        if not isinstance(report, CollegeReport):
            raise DomainError("report.unknown_type", f"{event.envelope.type} is not a college report")
        await ingest_report(repos, event.envelope.id, report)

    async def on_agreement(event: ConsumedEvent) -> None:
        await apply_agreement_event(repos, event.envelope.id, event.envelope.type, event.envelope.data)

    async def on_dead_letter(dead: DeadLetter) -> None:
        await reject_report(repos, dead)

    handlers: dict[str, Handler] = {model.event_type: on_report for model in COLLEGE_REPORTS}
    for model in catalog:
        if AGREEMENT_EVENT_MARKER in model.event_type:
            handlers[model.event_type] = on_agreement
    return Subscription(
        topics=[COLLEGE_REPORTS_TOPIC, REGISTRY_EVENTS], handlers=handlers, on_dead_letter=on_dead_letter
    )
