"""Kafka handlers: every registry, funding and evaluation event goes through the notifier.

The consumer runner validates each record against the platform catalog first (a bad
record is dead-lettered with a reason); the handler works on the envelope's JSON data,
so templates and selectors see exactly what was published.
"""

from __future__ import annotations

from alliance_notifications.service.notifier import Notifier
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.evaluation import EVALUATION_EVENTS as EVALUATION_MODELS
from alliance_shared.contract.funding import FUNDING_EVENTS as FUNDING_MODELS
from alliance_shared.contract.registry import REGISTRY_EVENTS as REGISTRY_MODELS
from alliance_shared.contract.topics import SERVICE_TOPICS
from alliance_shared.messaging.handlers import ConsumedEvent, Handler
from alliance_shared.runtime import Subscription

CONSUMED_MODELS = (*REGISTRY_MODELS, *FUNDING_MODELS, *EVALUATION_MODELS)


def build_subscription(notifier: Notifier) -> Subscription:
    async def on_event(event: ConsumedEvent) -> None:
        await notifier.handle_event(event.envelope.id, event.envelope.type, event.envelope.data)

    handlers: dict[type[EventPayload], Handler] = {model: on_event for model in CONSUMED_MODELS}
    return Subscription(topics=list(SERVICE_TOPICS["notifications"].consumes), handlers=handlers)
