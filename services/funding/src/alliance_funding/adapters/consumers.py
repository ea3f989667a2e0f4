"""Kafka handlers: registry events feed the partner and agreement read models; evaluation
results and rectification events feed the evaluation read model and move tranches to
eligible / withheld automatically. Each event applies once (its id is the dedupe key
of every write it causes); an event the contract refuses goes to the DLQ."""

from __future__ import annotations

from alliance_funding.adapters.repositories import Repositories
from alliance_funding.service import awards, readmodels
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.evaluation import RectificationClosed, RectificationOverdue, ResultCompleted
from alliance_shared.contract.registry import (
    CertificationExpired,
    CertificationGranted,
    CertificationRevoked,
    _AgreementEvent,
    _PartnerEvent,
)
from alliance_shared.contract.topics import EVALUATION_EVENTS, REGISTRY_EVENTS
from alliance_shared.errors import DomainError
from alliance_shared.messaging.handlers import ConsumedEvent, Handler
from alliance_shared.runtime import Subscription


def build_subscription(repos: Repositories, catalog: EventCatalog) -> Subscription:
    async def on_registry(event: ConsumedEvent) -> None:
        payload, event_id = event.payload, event.envelope.id
        if isinstance(payload, _PartnerEvent):
            await readmodels.apply_partner_event(repos, event_id, payload)
        elif isinstance(payload, CertificationGranted | CertificationRevoked | CertificationExpired):
            await readmodels.apply_certificate_event(repos, event_id, payload)
        elif isinstance(payload, _AgreementEvent):
            await readmodels.apply_agreement_event(repos, event_id, payload)
        else:
            raise DomainError("event.unexpected", f"{event.envelope.type} is not handled here")

    async def on_result(event: ConsumedEvent) -> None:
        payload = event.payload
        if not isinstance(payload, ResultCompleted):
            raise DomainError("event.unexpected", f"{event.envelope.type} is not a result")
        if await readmodels.record_result(repos, event.envelope.id, payload):
            await awards.on_result(repos, event.envelope.id, payload)

    async def on_rectification(event: ConsumedEvent) -> None:
        payload = event.payload
        if not isinstance(payload, RectificationOverdue | RectificationClosed):
            raise DomainError("event.unexpected", f"{event.envelope.type} is not a rectification change")
        if await readmodels.record_rectification(repos, event.envelope.id, payload):
            await awards.on_rectification(repos, event.envelope.id, payload)

    handlers: dict[type[EventPayload], Handler] = {}
    for model in catalog:
        if issubclass(
            model, _PartnerEvent | _AgreementEvent | CertificationGranted | CertificationRevoked | CertificationExpired
        ):
            handlers[model] = on_registry
    handlers[ResultCompleted] = on_result
    handlers[RectificationOverdue] = on_rectification
    handlers[RectificationClosed] = on_rectification
    return Subscription(topics=[REGISTRY_EVENTS, EVALUATION_EVENTS], handlers=handlers)
