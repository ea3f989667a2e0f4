"""Kafka handlers: college reports become evidence (a poll's run at a time), registry agreement events feed the
agreement read model, funding's programme and award events feed the programme read model, and dead-lettered
college reports are told back to the college.

Registry agreement events are validated against ``alliance_shared.contract.registry``
by the consumer runner; the read model folds the envelope's JSON data, taking only the
fields it needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from alliance_evaluation.service.agreements import apply_agreement_event
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.evidence import ingest_college_reports, reject_report
from alliance_evaluation.service.programmes import PROGRAMME_EVENTS, apply_programme_event
from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.college import COLLEGE_REPORTS
from alliance_shared.contract.registry import (
    AgreementActivated,
    AgreementAmended,
    AgreementCompleted,
    AgreementDrafted,
    AgreementPartySigned,
    AgreementResumed,
    AgreementSigned,
    AgreementSuspended,
    AgreementTerminated,
)
from alliance_shared.contract.topics import COLLEGE_REPORTS_PATTERN, FUNDING_EVENTS, REGISTRY_EVENTS, college_of_topic
from alliance_shared.errors import DomainError
from alliance_shared.logging import get_logger
from alliance_shared.messaging.handlers import BatchHandler, ConsumedEvent, DeadLetter, Handler
from alliance_shared.persistence.mongo import TRANSIENT_DB_ERRORS
from alliance_shared.runtime import Subscription

log = get_logger(__name__)

EventUseCase = Callable[[Context, ConsumedEvent], Awaitable[None]]
BatchUseCase = Callable[[Context, Sequence[ConsumedEvent]], Awaitable[Mapping[str, DomainError]]]

AGREEMENT_EVENTS: tuple[type[EventPayload], ...] = (
    AgreementDrafted,
    AgreementPartySigned,
    AgreementSigned,
    AgreementActivated,
    AgreementAmended,
    AgreementSuspended,
    AgreementResumed,
    AgreementTerminated,
    AgreementCompleted,
)

#: The use case each consumed payload type drives; other types are skipped.
HANDLERS: dict[type[EventPayload], EventUseCase] = {
    **dict.fromkeys(AGREEMENT_EVENTS, apply_agreement_event),
    **dict.fromkeys(PROGRAMME_EVENTS, apply_programme_event),
}
#: The one topic each handled type counts from: a college cannot pass an agreement or a
#: programme event off through its own topic (a college report elsewhere is refused by
#: ``college_mismatch``).
SOURCE_TOPIC: dict[type[EventPayload], str] = {
    **dict.fromkeys(AGREEMENT_EVENTS, REGISTRY_EVENTS),
    **dict.fromkeys(PROGRAMME_EVENTS, FUNDING_EVENTS),
}
#: College reports, the hot path, are applied a poll's run at a time.
BATCH_HANDLERS: dict[type[EventPayload], BatchUseCase] = dict.fromkeys(COLLEGE_REPORTS, ingest_college_reports)


def _bound(ctx: Context, payload: type[EventPayload], use_case: EventUseCase) -> Handler:
    async def handle(event: ConsumedEvent) -> None:
        if event.topic != SOURCE_TOPIC[payload]:
            raise DomainError(
                "report.unknown_type" if college_of_topic(event.topic) else "event.wrong_topic",
                f"{payload.event_type} is not accepted on {event.topic[:200]}",
            )
        await use_case(ctx, event)

    return handle


def _bound_batch(ctx: Context, use_case: BatchUseCase) -> BatchHandler:
    async def handle(events: Sequence[ConsumedEvent]) -> Mapping[str, DomainError]:
        return await use_case(ctx, events)

    return handle


def build_subscription(ctx: Context) -> Subscription:
    async def on_dead_letter(dead: DeadLetter) -> None:
        try:
            await reject_report(ctx, dead)
        except TRANSIENT_DB_ERRORS:
            raise  # the runner retries the record
        except Exception:  # telling the college must never stop the consumer
            log.exception("could not tell the college about a rejected report", offset=dead.record.offset)

    batch_handlers = {use_case: _bound_batch(ctx, use_case) for use_case in set(BATCH_HANDLERS.values())}
    return Subscription(
        topics=[REGISTRY_EVENTS, FUNDING_EVENTS],
        # Every college's own reports topic, those onboarded later included.
        topic_pattern=COLLEGE_REPORTS_PATTERN,
        handlers={payload: _bound(ctx, payload, use_case) for payload, use_case in HANDLERS.items()},
        # One handler per use case: the runner batches consecutive events of one handler.
        batch_handlers={payload: batch_handlers[use_case] for payload, use_case in BATCH_HANDLERS.items()},
        on_dead_letter=on_dead_letter,
    )
