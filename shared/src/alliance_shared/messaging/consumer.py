"""The idempotent consumer runner.

Reads batches, decodes each record's CloudEvents envelope, validates its payload
against the catalog and hands it to the service's handler. Outcomes:

* applied / ignored (a type this service does not handle) → offset committed;
* a permanent failure (not a CloudEvent, not JSON, unknown type, invalid payload,
  oversized, or the handler's DomainError) → a dead-letter record on ``<topic>.dlq``
  with the original key, value and headers plus the reason, then committed — the
  consumer goes on with the next record;
* a transient failure (MongoDB or Kafka unreachable) → retried with backoff until it
  succeeds; nothing is committed past it, so nothing is lost.

Offsets are committed manually after the whole batch is durably applied (and its
dead letters acknowledged). Handlers must be idempotent per event id (see
``VersionedStore.save(caused_by=...)``): a crash before the commit
redelivers the batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError
from pymongo.errors import OperationFailure
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from alliance_shared import context
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.envelope import CloudEvent, EnvelopeError, from_kafka
from alliance_shared.contract.topics import MAX_REQUEST_BYTES, dlq_of, max_value_bytes
from alliance_shared.errors import DomainError
from alliance_shared.logging import get_logger
from alliance_shared.messaging.handlers import (
    BatchHandler,
    BatchHandlers,
    ConsumedEvent,
    DeadLetter,
    DeadLetterHook,
    Handler,
    Handlers,
)
from alliance_shared.messaging.kafka import UNPUBLISHABLE_DLQ_ERRORS, client_options
from alliance_shared.metrics import Metrics
from alliance_shared.persistence.mongo import TRANSIENT_DB_ERRORS, is_busy
from alliance_shared.settings import ServiceSettings

log = get_logger(__name__)

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (*TRANSIENT_DB_ERRORS, KafkaError, TimeoutError)

#: A record and its decoded event, on their way to a batch handler.
Applying = tuple[ConsumerRecord[bytes, bytes], ConsumedEvent]


class PermanentFailure(Exception):
    def __init__(self, reason: str, detail: str, envelope: CloudEvent | None, error_class: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.envelope = envelope
        self.error_class = error_class


class ConsumerRunner:
    def __init__(
        self,
        settings: ServiceSettings,
        topics: Sequence[str],
        catalog: EventCatalog,
        handlers: Handlers,
        dead_letter_producer: AIOKafkaProducer,
        metrics: Metrics,
        *,
        on_dead_letter: DeadLetterHook | None = None,
        batch_handlers: BatchHandlers | None = None,
        topic_pattern: str | None = None,
        batch_size: int = 500,
        # Keys of a poll applied at once: their saves share insert commands (group commit),
        # so more at once means fewer, larger commands (docs/performance.md: 16 → 128 took
        # the outbox path at 2,000 events/s offered from 1,255 to 1,719 events/s).
        concurrency: int = 128,
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        #: Topics matching it are read too, including those created after the start.
        self._topic_pattern = topic_pattern
        self._catalog = catalog
        self._handlers: dict[str, Handler] = {model.event_type: handler for model, handler in handlers.items()}
        self._batch_handlers: dict[str, BatchHandler] = {
            model.event_type: handler for model, handler in (batch_handlers or {}).items()
        }
        self._dead_letters = dead_letter_producer
        self._metrics = metrics
        self._on_dead_letter = on_dead_letter
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._consumer: AIOKafkaConsumer | None = None
        self._batch_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        unknown = (set(self._handlers) | set(self._batch_handlers)) - set(catalog.types)
        if unknown:
            raise ValueError(f"handlers for event types missing from the catalog: {sorted(unknown)}")

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            group_id=self._settings.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=MAX_REQUEST_BYTES,
            metadata_max_age_ms=self._settings.kafka_topic_discovery_ms if self._topic_pattern else 300_000,
        )
        await self._consumer.start()
        if self._topic_pattern is None:
            self._consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        else:
            # aiokafka takes topics or one pattern: the named topics join the pattern.
            either = "|".join([*(f"^{re.escape(t)}$" for t in self._topics), self._topic_pattern])
            self._consumer.subscribe(pattern=either, listener=_CommitOnRevoke(self))

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the batch in hand, commit it, leave the group."""
        self._stopping.set()
        if self._consumer is None:
            return
        try:
            await asyncio.wait_for(self._batch_lock.acquire(), timeout_s)
            self._batch_lock.release()
        except TimeoutError:
            log.warning("consumer batch did not finish before shutdown; it will be redelivered")
        await self._consumer.stop()
        self._consumer = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def name(self) -> str:
        return "consumer-" + ",".join([*self._topics, *([self._topic_pattern] if self._topic_pattern else [])])

    async def restart(self) -> None:
        """Leave the group and join again: consumption resumes from the committed offsets,
        so a batch cut off by a failure is read again, never skipped."""
        if self._consumer is not None:
            try:
                await self._consumer.stop()
            except Exception:
                log.warning("consumer did not stop cleanly before its restart", exc_info=True)
            self._consumer = None
        await self.start()

    async def run(self) -> None:
        assert self._consumer is not None, "start() first"
        while not self._stopping.is_set():
            batch = await self._consumer.getmany(timeout_ms=500, max_records=self._batch_size)
            if not batch:
                await self._report_lag()
                continue
            async with self._batch_lock:
                await self._process_batch(batch)
            await self._report_lag()

    async def _process_batch(self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        assert self._consumer is not None
        slots = asyncio.Semaphore(self._concurrency)
        await asyncio.gather(*(self._process_partition(records, slots) for records in batch.values()))
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        try:
            await self._consumer.commit(offsets)
        except KafkaError:
            # Partitions moved to another member mid-batch: it gets the records again and,
            # handlers being idempotent, applies nothing twice.
            log.warning("offset commit failed; the batch will be redelivered", exc_info=True)

    async def _process_partition(self, records: list[ConsumerRecord[bytes, bytes]], slots: asyncio.Semaphore) -> None:
        """In offset order: each run of events one batch handler takes goes to it at once;
        the records between are applied one key at a time in order, different keys at once."""
        singles: list[ConsumerRecord[bytes, bytes]] = []
        run: list[Applying] = []
        run_handler: BatchHandler | None = None
        for record in records:
            event, handler = self._batchable(record)
            if run and handler is not run_handler:
                await self._apply_run_with_retry(run_handler, run, slots)
                run = []
            if event is None or handler is None:
                singles.append(record)
                continue
            if singles:
                await self._apply_singles(singles, slots)
                singles = []
            run.append((record, event))
            run_handler = handler
        if run:
            await self._apply_run_with_retry(run_handler, run, slots)
        if singles:
            await self._apply_singles(singles, slots)

    def _batchable(self, record: ConsumerRecord[bytes, bytes]) -> tuple[ConsumedEvent | None, BatchHandler | None]:
        """The record's event and batch handler, when a batch handler takes its type (else
        the one-at-a-time path decodes it again and says why it fails, if it does)."""
        if not self._batch_handlers:
            return None, None
        try:
            event = self._decode(record)
        except PermanentFailure:
            return None, None
        if event is None:
            return None, None
        return event, self._batch_handlers.get(event.envelope.type)

    async def _apply_singles(self, records: list[ConsumerRecord[bytes, bytes]], slots: asyncio.Semaphore) -> None:
        by_key: dict[bytes | None, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            by_key.setdefault(record.key, []).append(record)

        async def apply_in_order(same_key: list[ConsumerRecord[bytes, bytes]]) -> None:
            async with slots:
                for record in same_key:
                    await self._process_with_retry(record)

        await asyncio.gather(*(apply_in_order(same_key) for same_key in by_key.values()))

    def _retrying(self, offset: int) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, TRANSIENT_ERRORS) or is_busy(exc)),
            # Bounded: past it the runner fails, its supervisor reports it unready and starts
            # it again from the committed offsets — the record is retried, never skipped.
            stop=stop_after_delay(self._settings.kafka_transient_retry_seconds),
            wait=wait_exponential_jitter(multiplier=0.2, max=10.0),
            before_sleep=lambda state: log.warning(
                "transient failure; retrying",
                attempt=state.attempt_number,
                offset=offset,
                error=repr(state.outcome.exception()) if state.outcome else None,
            ),
            reraise=True,
        )

    async def _process_with_retry(self, record: ConsumerRecord[bytes, bytes]) -> None:
        async for attempt in self._retrying(record.offset):
            with attempt:
                await self._process(record)

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            outcome = await self._apply(record)
        except PermanentFailure as failure:
            await self._dead_letter(record, failure)
            outcome = "dead_lettered"
        self._metrics.events_consumed.labels(self._metrics.service, record.topic, outcome).inc()

    async def _apply_run_with_retry(
        self, handler: BatchHandler | None, run: list[Applying], slots: asyncio.Semaphore
    ) -> None:
        assert handler is not None
        async with slots:
            # A transient failure repeats the whole run: the handler is idempotent per event id.
            async for attempt in self._retrying(run[0][0].offset):
                with attempt:
                    await self._apply_run(handler, run)

    async def _apply_run(self, handler: BatchHandler, run: list[Applying]) -> None:
        try:
            refusals = await self._call_batch_handler(handler, [event for _, event in run])
        except PermanentFailure:
            # Something in the run breaks the handler: apply each event alone, so that only
            # the poison record is dead-lettered.
            log.warning("batch handler failed; applying its events one at a time", events=len(run))
            for record, _ in run:
                await self._process(record)
            return
        for record, event in run:
            refusal = refusals.get(event.envelope.id)
            if refusal is None:
                outcome = "applied"
            else:
                failure = PermanentFailure(refusal.code, refusal.detail, event.envelope, type(refusal).__name__)
                await self._dead_letter(record, failure)
                outcome = "dead_lettered"
            self._metrics.events_consumed.labels(self._metrics.service, record.topic, outcome).inc()

    async def _call_batch_handler(
        self, handler: BatchHandler, events: list[ConsumedEvent]
    ) -> Mapping[str, DomainError]:
        """The handler's refusals; a transient failure raised as it is, anything else as a
        PermanentFailure naming the first event (the caller splits the run)."""
        try:
            return await handler(events)
        except TRANSIENT_ERRORS:
            raise
        except OperationFailure as exc:
            if is_busy(exc):
                raise
            log.exception("batch handler failed", event_type=events[0].envelope.type)
            raise PermanentFailure(
                "handler.unexpected_error", repr(exc), events[0].envelope, type(exc).__name__
            ) from exc
        except DomainError as exc:
            raise PermanentFailure(exc.code, exc.detail, events[0].envelope, type(exc).__name__) from exc
        except Exception as exc:  # a bug must not stop the consumer: find the record, park it
            log.exception("batch handler failed", event_type=events[0].envelope.type)
            raise PermanentFailure(
                "handler.unexpected_error", repr(exc), events[0].envelope, type(exc).__name__
            ) from exc

    def _decode(self, record: ConsumerRecord[bytes, bytes]) -> ConsumedEvent | None:
        """The record as a validated event; None when this service does not handle its type."""
        size, limit = len(record.value or b""), max_value_bytes(record.topic)
        if size > limit:
            raise PermanentFailure(
                "record.oversized",
                f"value is {size} bytes, the limit of {record.topic} is {limit}",
                None,
                "Oversized",
            )
        try:
            envelope = from_kafka(record.key, record.value, list(record.headers))
        except EnvelopeError as exc:
            raise PermanentFailure(exc.code, exc.detail, None, type(exc).__name__) from exc
        except Exception as exc:  # whatever the bytes: a reason, never a dead consumer
            raise PermanentFailure("envelope.undecodable", repr(exc)[:500], None, type(exc).__name__) from exc
        if envelope.type not in self._catalog:
            raise PermanentFailure(
                "event.unknown_type",
                f"{envelope.type} is not in the event catalog",
                envelope,
                "UnknownEventType",
            )
        if envelope.type not in self._handlers and envelope.type not in self._batch_handlers:
            return None
        try:
            payload = self._catalog.parse(envelope.type, envelope.data)
        except ValidationError as exc:
            raise PermanentFailure(
                "event.invalid_payload", _validation_summary(exc), envelope, "ValidationError"
            ) from exc
        except Exception as exc:
            raise PermanentFailure("event.invalid_payload", repr(exc)[:500], envelope, type(exc).__name__) from exc
        return ConsumedEvent(envelope, payload, record.topic, record.partition, record.offset)

    async def _apply(self, record: ConsumerRecord[bytes, bytes]) -> str:
        event = self._decode(record)
        if event is None:
            return "ignored"
        batch_handler = self._batch_handlers.get(event.envelope.type)
        if batch_handler is not None:  # alone, after its run failed as a whole
            refusal = (await self._call_batch_handler(batch_handler, [event])).get(event.envelope.id)
            if refusal is not None:
                raise PermanentFailure(refusal.code, refusal.detail, event.envelope, type(refusal).__name__)
            return "applied"
        handler = self._handlers[event.envelope.type]
        with context.bound(event.context()):
            try:
                await handler(event)
            except DomainError as exc:
                raise PermanentFailure(exc.code, exc.detail, event.envelope, type(exc).__name__) from exc
            except TRANSIENT_ERRORS:
                raise
            except OperationFailure as exc:
                if is_busy(exc):
                    raise  # retried above, like any transient failure
                log.exception("handler failed", event_type=event.envelope.type)
                raise PermanentFailure(
                    "handler.unexpected_error", repr(exc), event.envelope, type(exc).__name__
                ) from exc
            except Exception as exc:  # a bug must not stop the consumer: park the record, say why
                log.exception("handler failed", event_type=event.envelope.type)
                raise PermanentFailure(
                    "handler.unexpected_error", repr(exc), event.envelope, type(exc).__name__
                ) from exc
        return "applied"

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], failure: PermanentFailure) -> None:
        annotations = [
            ("dlq_reason", failure.reason.encode()),
            ("dlq_detail", failure.detail[:2000].encode(errors="replace")),
            ("dlq_error_class", failure.error_class[:200].encode(errors="replace")),
            ("dlq_source_topic", record.topic.encode()),
            ("dlq_source_partition", str(record.partition).encode()),
            ("dlq_source_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self._settings.consumer_group.encode()),
            ("dlq_at", datetime.now(UTC).isoformat().encode()),
        ]
        topic = dlq_of(record.topic)
        try:
            await self._dead_letters.send_and_wait(
                topic, value=record.value, key=record.key, headers=[*record.headers, *annotations]
            )
        except UNPUBLISHABLE_DLQ_ERRORS as exc:
            # The copy cannot be published as it is (too large, refused): publish its digest
            # and the reason instead, so the record is still accounted for and the consumer goes on.
            try:
                await self._dead_letters.send_and_wait(
                    topic, value=shrunk_copy(record, exc), key=(record.key or b"")[:256] or None, headers=annotations
                )
            except UNPUBLISHABLE_DLQ_ERRORS:
                self._metrics.dlq_records.labels(self._metrics.service, record.topic, "dlq.unpublishable").inc()
                log.error(
                    "dead-letter topic refuses even the digest; the record is logged here only",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    reason=failure.reason,
                    refusal=repr(exc)[:300],
                )
                return
        self._metrics.dlq_records.labels(self._metrics.service, record.topic, failure.reason).inc()
        log.warning(
            "record dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=failure.reason,
            detail=failure.detail[:500],
        )
        if self._on_dead_letter is None:
            return
        try:
            await self._on_dead_letter(
                DeadLetter(record, failure.reason, failure.detail, failure.error_class, failure.envelope)
            )
        except TRANSIENT_ERRORS:
            raise  # retried with the record (the dead-letter copy may then be published twice)
        except Exception:
            log.exception("dead-letter hook failed; the record is dead-lettered all the same", offset=record.offset)

    async def _report_lag(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except KafkaError:
                continue
            self._metrics.consumer_lag.labels(self._metrics.service, tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )

    async def commit_before_revoke(self) -> None:
        # Waiting for the lock means the batch in hand finishes and commits first.
        async with self._batch_lock:
            return


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._runner.commit_before_revoke()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None


def shrunk_copy(record: ConsumerRecord[bytes, bytes], refusal: Exception) -> bytes:
    """What stands in the dead-letter topic for a record whose copy the broker refused."""
    value = record.value or b""
    return json.dumps(
        {
            "dlq_shrunk": True,
            "sha256": hashlib.sha256(value).hexdigest(),
            "size": len(value),
            "headers": len(record.headers),
            "refused_by_broker": f"{type(refusal).__name__}: {refusal}"[:500],
        }
    ).encode()


def _validation_summary(exc: ValidationError) -> str:
    parts: list[str] = []
    for error in exc.errors(include_url=False)[:10]:
        location = ".".join(str(p) for p in error["loc"])
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)
