"""Kafka topics: one per bounded context, keyed by aggregate id, each with a `.dlq` twin.

``SERVICE_TOPICS`` is the one declaration of who reads and writes what: the consumers
subscribe from it, the topic bootstrapper creates from it and the Kafka ACLs in
deploy/ are checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

REGISTRY_EVENTS: Final = "alliance.registry.events"
FUNDING_EVENTS: Final = "alliance.funding.events"
EVALUATION_EVENTS: Final = "alliance.evaluation.events"
NOTIFICATIONS_EVENTS: Final = "alliance.notifications.events"
COLLEGE_REPORTS: Final = "alliance.college.reports"

DLQ_SUFFIX: Final = ".dlq"

#: Topic each service publishes its own events to (the outbox relay's target).
CONTEXT_TOPIC: Final[dict[str, str]] = {
    "registry": REGISTRY_EVENTS,
    "funding": FUNDING_EVENTS,
    "evaluation": EVALUATION_EVENTS,
    "notifications": NOTIFICATIONS_EVENTS,
}

EVENT_TOPICS: Final[tuple[str, ...]] = (
    REGISTRY_EVENTS,
    FUNDING_EVENTS,
    EVALUATION_EVENTS,
    NOTIFICATIONS_EVENTS,
    COLLEGE_REPORTS,
)


def dlq_of(topic: str) -> str:
    return topic + DLQ_SUFFIX


#: The one size limit of each topic, in bytes of a record's value: the topic's
#: `max.message.bytes` (with room for the CloudEvents headers), what a consumer accepts
#: (a larger record is dead-lettered unread, reason `record.oversized`), and what a
#: service may publish (a change whose event would be larger is refused at the API, 413
#: `event.too_large`). College reports are small facts; the services' own events carry
#: whole states (an agreement with its revisions) and get more.
MAX_VALUE_BYTES: Final[dict[str, int]] = {
    REGISTRY_EVENTS: 768 * 1024,
    FUNDING_EVENTS: 768 * 1024,
    EVALUATION_EVENTS: 768 * 1024,
    NOTIFICATIONS_EVENTS: 768 * 1024,
    COLLEGE_REPORTS: 256 * 1024,
}
#: Room a record needs beyond its value: key, CloudEvents headers, batch framing.
RECORD_OVERHEAD_BYTES: Final = 64 * 1024
#: A dead-letter copy carries the original record plus the reason headers.
DLQ_OVERHEAD_BYTES: Final = 16 * 1024


#: A consumer's limit on a topic the platform does not declare (tests, benchmarks).
DEFAULT_MAX_VALUE_BYTES: Final = 256 * 1024


def max_value_bytes(topic: str) -> int:
    """The largest record value a consumer of ``topic`` accepts."""
    return MAX_VALUE_BYTES.get(topic, DEFAULT_MAX_VALUE_BYTES)


def max_message_bytes(topic: str) -> int | None:
    """The topic's `max.message.bytes` (what the broker accepts in one record batch); None
    for a topic the platform does not declare (the broker's default applies)."""
    if topic.endswith(DLQ_SUFFIX):
        limit = max_message_bytes(topic.removesuffix(DLQ_SUFFIX))
        return None if limit is None else limit + DLQ_OVERHEAD_BYTES
    return MAX_VALUE_BYTES[topic] + RECORD_OVERHEAD_BYTES if topic in MAX_VALUE_BYTES else None


#: What a producer may send in one request: the largest topic limit.
MAX_REQUEST_BYTES: Final = max(MAX_VALUE_BYTES.values()) + RECORD_OVERHEAD_BYTES + DLQ_OVERHEAD_BYTES


@dataclass(frozen=True)
class TopicAccess:
    """What one principal (a service or a college integration) may do on Kafka."""

    produces: tuple[str, ...]
    consumes: tuple[str, ...]

    @property
    def dead_letters(self) -> tuple[str, ...]:
        """A consumer writes rejected records to the DLQ twin of what it reads."""
        return tuple(dlq_of(t) for t in self.consumes)


SERVICE_TOPICS: Final[dict[str, TopicAccess]] = {
    # The registry reads its own revocations (they suspend incentives) and funding's awards.
    "registry": TopicAccess(produces=(REGISTRY_EVENTS,), consumes=(REGISTRY_EVENTS, FUNDING_EVENTS)),
    "funding": TopicAccess(produces=(FUNDING_EVENTS,), consumes=(REGISTRY_EVENTS, EVALUATION_EVENTS)),
    "evaluation": TopicAccess(
        produces=(EVALUATION_EVENTS,),
        consumes=(REGISTRY_EVENTS, FUNDING_EVENTS, COLLEGE_REPORTS),
    ),
    "notifications": TopicAccess(
        produces=(NOTIFICATIONS_EVENTS,),
        consumes=(REGISTRY_EVENTS, FUNDING_EVENTS, EVALUATION_EVENTS),
    ),
}

#: A college information system writes its reports and reads the decisions about it.
COLLEGE_INTEGRATION: Final = TopicAccess(
    produces=(COLLEGE_REPORTS,),
    consumes=(EVALUATION_EVENTS, NOTIFICATIONS_EVENTS),
)
