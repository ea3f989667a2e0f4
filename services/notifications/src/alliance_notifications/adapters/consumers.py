"""Kafka handlers, declared by the payload type they handle: registry partner events
feed the recipient directory first; every registry, funding and evaluation event is
then planned for the people who must hear of it.

The consumer runner validates each record against the platform catalog first (a bad
record is dead-lettered with a reason); the handlers work on the envelope's JSON data,
so templates and selectors see exactly what was published.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.planning import handle_event, handle_partner_event
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.evaluation import EVALUATION_EVENTS
from alliance_shared.contract.funding import FUNDING_EVENTS
from alliance_shared.contract.registry import (
    REGISTRY_EVENTS,
    PartnerDeactivated,
    PartnerRegistered,
    PartnerUpdated,
)
from alliance_shared.contract.topics import SERVICE_TOPICS
from alliance_shared.messaging.handlers import ConsumedEvent, Handlers
from alliance_shared.runtime import Subscription

NotifierHandler = Callable[[Notifier, ConsumedEvent], Awaitable[None]]


async def on_event(notifier: Notifier, event: ConsumedEvent) -> None:
    await handle_event(notifier, event.envelope.id, event.envelope.type, event.envelope.data)


async def on_partner_event(notifier: Notifier, event: ConsumedEvent) -> None:
    await handle_partner_event(notifier, event.envelope.id, event.envelope.type, event.envelope.data)


HANDLERS: dict[type[EventPayload], NotifierHandler] = {
    **{model: on_event for model in (*REGISTRY_EVENTS, *FUNDING_EVENTS, *EVALUATION_EVENTS)},
    PartnerRegistered: on_partner_event,
    PartnerUpdated: on_partner_event,
    PartnerDeactivated: on_partner_event,
}


def build_subscription(notifier: Notifier) -> Subscription:
    def bind(handler: NotifierHandler) -> Callable[[ConsumedEvent], Awaitable[None]]:
        return lambda event: handler(notifier, event)

    handlers: Handlers = {model: bind(handler) for model, handler in HANDLERS.items()}
    return Subscription(topics=list(SERVICE_TOPICS["notifications"].consumes), handlers=handlers)
