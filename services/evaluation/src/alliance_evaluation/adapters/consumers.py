"""Kafka handlers: college reports become evidence, registry agreement events feed the
agreement read model, and dead-lettered college reports are told back to the college.

Registry agreement events are validated against ``alliance_shared.contract.registry``
by the consumer runner; the read model folds the envelope's JSON data, taking only the
fields it needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from alliance_evaluation.service.agreements import apply_agreement_event
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.evidence import ingest_college_report, reject_report
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
from alliance_shared.contract.topics import COLLEGE_REPORTS as COLLEGE_REPORTS_TOPIC
from alliance_shared.contract.topics import REGISTRY_EVENTS
from alliance_shared.logging import get_logger
from alliance_shared.messaging.handlers import ConsumedEvent, DeadLetter, Handler
from alliance_shared.persistence.mongo import TRANSIENT_DB_ERRORS
from alliance_shared.runtime import Subscription

log = get_logger(__name__)

EventUseCase = Callable[[Context, ConsumedEvent], Awaitable[None]]

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
    **dict.fromkeys(COLLEGE_REPORTS, ingest_college_report),
    **dict.fromkeys(AGREEMENT_EVENTS, apply_agreement_event),
}


def _bound(ctx: Context, use_case: EventUseCase) -> Handler:
    async def handle(event: ConsumedEvent) -> None:
        await use_case(ctx, event)

    return handle


def build_subscription(ctx: Context) -> Subscription:
    async def on_dead_letter(dead: DeadLetter) -> None:
        try:
            await reject_report(ctx, dead)
        except TRANSIENT_DB_ERRORS:
            raise  # the runner retries the record
        except Exception:  # telling the college must never stop the consumer
            log.exception("could not tell the college about a rejected report", offset=dead.record.offset)

    return Subscription(
        topics=[COLLEGE_REPORTS_TOPIC, REGISTRY_EVENTS],
        handlers={payload: _bound(ctx, use_case) for payload, use_case in HANDLERS.items()},
        on_dead_letter=on_dead_letter,
    )
