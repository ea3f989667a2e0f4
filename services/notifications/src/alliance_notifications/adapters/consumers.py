"""Kafka handlers, declared by the payload type they handle: registry partner events
feed the recipient directory first, one at a time; every other registry, funding and
evaluation event is planned for the people who must hear of it, a poll's run at a time
(its deliveries and inbox entries recorded in one bulk insert per store).

The consumer runner validates each record against the platform catalog first (a bad
record is dead-lettered with a reason); the handlers work on the envelope's JSON data,
so templates and selectors see exactly what was published.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from alliance_notifications.service.notifier import Notifier
from alliance_notifications.service.planning import Consumed, handle_events, handle_partner_event
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
from alliance_shared.errors import DomainError
from alliance_shared.messaging.handlers import BatchHandlers, ConsumedEvent, Handlers
from alliance_shared.runtime import Subscription

NotifierHandler = Callable[[Notifier, ConsumedEvent], Awaitable[None]]


async def on_events(notifier: Notifier, events: Sequence[ConsumedEvent]) -> Mapping[str, DomainError]:
    await handle_events(notifier, [Consumed(e.envelope.id, e.envelope.type, e.envelope.data) for e in events])
    return {}  # nothing refused: an event no rule routes plans nothing


async def on_partner_event(notifier: Notifier, event: ConsumedEvent) -> None:
    await handle_partner_event(notifier, event.envelope.id, event.envelope.type, event.envelope.data)


#: Partner events change the recipient directory, so each is applied alone, in order.
HANDLERS: dict[type[EventPayload], NotifierHandler] = {
    PartnerRegistered: on_partner_event,
    PartnerUpdated: on_partner_event,
    PartnerDeactivated: on_partner_event,
}
#: Every other event is planned a run at a time (the runner keeps the runs in offset order
#: around the partner events).
BATCHED: tuple[type[EventPayload], ...] = tuple(
    model for model in (*REGISTRY_EVENTS, *FUNDING_EVENTS, *EVALUATION_EVENTS) if model not in HANDLERS
)


def build_subscription(notifier: Notifier) -> Subscription:
    def bind(handler: NotifierHandler) -> Callable[[ConsumedEvent], Awaitable[None]]:
        return lambda event: handler(notifier, event)

    async def plan_run(events: Sequence[ConsumedEvent]) -> Mapping[str, DomainError]:
        return await on_events(notifier, events)

    handlers: Handlers = {model: bind(handler) for model, handler in HANDLERS.items()}
    # One handler object for all: the runner batches consecutive events of one handler.
    batch_handlers: BatchHandlers = dict.fromkeys(BATCHED, plan_run)
    return Subscription(
        topics=list(SERVICE_TOPICS["notifications"].consumes), handlers=handlers, batch_handlers=batch_handlers
    )
