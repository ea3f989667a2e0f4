"""Kafka topics: one per bounded context, keyed by aggregate id, each with a `.dlq` twin,
and one per college for its reports (``alliance.college.<college id>.reports``).

``SERVICE_TOPICS`` is the one declaration of who reads and writes what: the consumers
subscribe from it, the topic bootstrapper creates from it and the Kafka ACLs (the local
stack's and those in deploy/) are derived from or checked against it.

A college writes only its own reports topic, under its own principal; the broker checks
the principal, so the topic a report arrives on names the college that sent it
(docs/security.md, Kafka).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

REGISTRY_EVENTS: Final = "alliance.registry.events"
FUNDING_EVENTS: Final = "alliance.funding.events"
EVALUATION_EVENTS: Final = "alliance.evaluation.events"
NOTIFICATIONS_EVENTS: Final = "alliance.notifications.events"

DLQ_SUFFIX: Final = ".dlq"

#: Every college reports topic starts with this and ends with ``COLLEGE_REPORTS_SUFFIX``.
COLLEGE_TOPIC_PREFIX: Final = "alliance.college."
COLLEGE_REPORTS_SUFFIX: Final = ".reports"
#: A college id as it may appear in a topic and a principal name: a DNS label of at most 55
#: characters (the registry's ids are ``col-<hex>``), so ``college-<id>`` names a Kubernetes
#: KafkaUser and the id is read back from the topic unambiguously (no ".").
COLLEGE_ID_PATTERN: Final = r"[a-z0-9](?:[-a-z0-9]{0,53}[a-z0-9])?"
#: The reports topics of all colleges, onboarded or still to come (evaluation subscribes by it).
COLLEGE_REPORTS_PATTERN: Final = rf"^alliance\.college\.({COLLEGE_ID_PATTERN})\.reports$"
_COLLEGE_REPORTS_TOPIC = re.compile(COLLEGE_REPORTS_PATTERN)
#: The college reports topic as the published contract names it (an AsyncAPI channel parameter).
COLLEGE_REPORTS_ADDRESS: Final = f"{COLLEGE_TOPIC_PREFIX}{{collegeId}}{COLLEGE_REPORTS_SUFFIX}"


def college_reports_topic(college_id: str) -> str:
    """The one topic a college writes its reports to."""
    if not re.fullmatch(COLLEGE_ID_PATTERN, college_id):
        raise ValueError(f"{college_id!r} cannot name a college topic (a DNS label: a-z, 0-9 and -, at most 55)")
    return f"{COLLEGE_TOPIC_PREFIX}{college_id}{COLLEGE_REPORTS_SUFFIX}"


def college_of_topic(topic: str) -> str | None:
    """The college whose reports topic this is; None for any other topic."""
    found = _COLLEGE_REPORTS_TOPIC.fullmatch(topic)
    return found.group(1) if found else None


def college_principal(college_id: str) -> str:
    """The Kafka user (SCRAM) of a college's integration."""
    college_reports_topic(college_id)  # the same characters are allowed
    return f"college-{college_id}"


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
}
#: Room a record needs beyond its value: key, CloudEvents headers, batch framing.
RECORD_OVERHEAD_BYTES: Final = 64 * 1024
#: A dead-letter copy carries the original record plus the reason headers.
DLQ_OVERHEAD_BYTES: Final = 16 * 1024


#: A consumer's limit on a topic the platform does not declare (tests, benchmarks).
DEFAULT_MAX_VALUE_BYTES: Final = 256 * 1024


#: Every college reports topic: college reports are small facts.
COLLEGE_REPORT_MAX_VALUE_BYTES: Final = 256 * 1024


def max_value_bytes(topic: str) -> int:
    """The largest record value a consumer of ``topic`` accepts."""
    if college_of_topic(topic) is not None:
        return COLLEGE_REPORT_MAX_VALUE_BYTES
    return MAX_VALUE_BYTES.get(topic, DEFAULT_MAX_VALUE_BYTES)


def max_message_bytes(topic: str) -> int | None:
    """The topic's `max.message.bytes` (what the broker accepts in one record batch); None
    for a topic the platform does not declare (the broker's default applies)."""
    if topic.endswith(DLQ_SUFFIX):
        limit = max_message_bytes(topic.removesuffix(DLQ_SUFFIX))
        return None if limit is None else limit + DLQ_OVERHEAD_BYTES
    if college_of_topic(topic) is not None or topic in MAX_VALUE_BYTES:
        return max_value_bytes(topic) + RECORD_OVERHEAD_BYTES
    return None


#: What a producer may send in one request: the largest topic limit.
MAX_REQUEST_BYTES: Final = (
    max(*MAX_VALUE_BYTES.values(), COLLEGE_REPORT_MAX_VALUE_BYTES) + RECORD_OVERHEAD_BYTES + DLQ_OVERHEAD_BYTES
)


@dataclass(frozen=True)
class TopicAccess:
    """What one principal (a service or a college integration) may do on Kafka."""

    produces: tuple[str, ...]
    consumes: tuple[str, ...]
    #: Whether it also reads every college's reports topic (by ``COLLEGE_REPORTS_PATTERN``).
    consumes_college_reports: bool = False

    @property
    def dead_letters(self) -> tuple[str, ...]:
        """A consumer writes rejected records to the DLQ twin of what it reads (the college
        topics' twins are per college, see ``college_reports_topic``)."""
        return tuple(dlq_of(t) for t in self.consumes)


SERVICE_TOPICS: Final[dict[str, TopicAccess]] = {
    # The registry reads its own revocations (they suspend incentives) and funding's awards.
    "registry": TopicAccess(produces=(REGISTRY_EVENTS,), consumes=(REGISTRY_EVENTS, FUNDING_EVENTS)),
    "funding": TopicAccess(produces=(FUNDING_EVENTS,), consumes=(REGISTRY_EVENTS, EVALUATION_EVENTS)),
    "evaluation": TopicAccess(
        produces=(EVALUATION_EVENTS,),
        consumes=(REGISTRY_EVENTS, FUNDING_EVENTS),
        consumes_college_reports=True,
    ),
    "notifications": TopicAccess(
        produces=(NOTIFICATIONS_EVENTS,),
        consumes=(REGISTRY_EVENTS, FUNDING_EVENTS, EVALUATION_EVENTS),
    ),
}


def college_access(college_id: str) -> TopicAccess:
    """A college information system writes its own reports topic and reads nothing: the
    decisions about it reach it by signed webhook and in its inbox (docs/security.md)."""
    return TopicAccess(produces=(college_reports_topic(college_id),), consumes=())
