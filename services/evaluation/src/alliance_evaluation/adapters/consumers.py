"""Kafka handlers: college reports become evidence, registry agreement events feed the
agreement read model, and dead-lettered college reports are told back to the college.

Registry agreement events are validated against ``alliance_shared.contract.registry``
by the consumer runner; the handler folds the envelope's JSON data, taking only the
fields the read model needs.
"""

from __future__ import annotations

from alliance_evaluation.adapters.repositories import Repositories
from alliance_evaluation.service.agreements import AGREEMENT_EVENT_MARKER, apply_agreement_event
from alliance_evaluation.service.evidence import ingest_report, reject_report
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.college import COLLEGE_REPORTS, CollegeReport
from alliance_shared.contract.topics import COLLEGE_REPORTS as COLLEGE_REPORTS_TOPIC
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.errors import DomainError
from alliance_shared.messaging.handlers import ConsumedEvent, DeadLetter, Handler
from alliance_shared.runtime import Subscription


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

    handlers: dict[type[EventPayload], Handler] = {model: on_report for model in COLLEGE_REPORTS}
    for model in catalog:
        if AGREEMENT_EVENT_MARKER in model.event_type:
            handlers[model] = on_agreement
    return Subscription(
        topics=[COLLEGE_REPORTS_TOPIC, REGISTRY_EVENTS], handlers=handlers, on_dead_letter=on_dead_letter
    )
