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
    "registry": TopicAccess(produces=(REGISTRY_EVENTS,), consumes=()),
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
