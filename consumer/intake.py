"""Kafka in (SPEC sections 6 and 7): poll loop, backpressure, commits, rebalances, the DLQ producer.

Owns: the aiokafka consumer and producer (the only module that knows aiokafka), decoding each
record (``events.decode_record``), handing work to per-student lanes, marking offsets finished,
committing explicit offsets that ``offsets`` says are safe, pausing partitions when work piles
up, the bounded drain on revocation and on shutdown, and writing failed records to the DLQ with
acks=all before their offsets pass; the TLS/SASL arguments every Kafka client gets
(``kafka_security``) and, when the clients cannot start, the reason in an operator's words.
Each event is handled inside ``logs.personal_data`` of its student. Must not: know HubSpot; it
calls ``handle(event)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import (
    AuthenticationFailedError,
    CommitFailedError,
    IllegalStateError,
    KafkaConnectionError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from consumer import logs
from consumer.config import KAFKA_PASSWORD_ENV, KafkaSettings
from consumer.dlq import DeadLetter, dead_letter, reduced
from consumer.errors import (
    BadInputError,
    ConfigError,
    EventRejectedError,
    HubSpotAuthError,
    KafkaUnavailableError,
)
from consumer.events import Event, decode_record
from consumer.ledger import (
    Ledger,
    Positions,
    decode_mark,
    encode_mark,
    is_repeat,
    letter_source,
    read_back_from,
)
from consumer.metrics import Metrics
from consumer.offsets import OffsetTracker
from consumer.pipeline import Outcome
from consumer.replay import DlqRecord
from consumer.scheduler import Scheduler

log = logging.getLogger(__name__)
# the DLQ producer's request limit, stated rather than inherited: the broker's default
# message.max.bytes is about the same, so a letter above it would be refused there anyway
DLQ_MAX_REQUEST_BYTES = 1_048_576
# refusals that no retry can turn into success: the letter is too big for the producer or the
# broker. The reduced letter (dlq.reduced) is written instead, so the partition moves on.
_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)
# reading back the DLQ on assignment (the letters since the last commit: few) takes far less
LETTERS_READ_TIMEOUT_S = 60.0
Handle = Callable[[Event], Awaitable[Outcome]]
HandleGroup = Callable[[list[Event]], Awaitable[list[Outcome | EventRejectedError]]]


@dataclass(frozen=True, slots=True)
class WorkItem:
    tp: TopicPartition
    offset: int
    generation: int
    record: ConsumerRecord[bytes, bytes]
    event: Event | None
    error: BadInputError | None


def _tls_context(settings: KafkaSettings) -> ssl.SSLContext:
    key = "kafka.ssl_cafile"
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
        context.check_hostname = settings.ssl_check_hostname
        if settings.ssl_certfile:
            key = "kafka.ssl_certfile/ssl_keyfile"
            context.load_cert_chain(
                str(settings.ssl_certfile),
                str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            )
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.strerror or getattr(exc, "reason", None) or type(exc).__name__
        raise ConfigError([f"{key}: cannot load ({reason})"]) from None
    return context


def kafka_security(settings: KafkaSettings, password: str | None) -> dict[str, object]:
    """aiokafka keyword arguments for the configured security protocol (SPEC section 3).

    Used by every Kafka client the daemon makes (consumer, DLQ producer, and any admin or
    replay client), so they all connect alike. ``ConfigError`` when a TLS file cannot be loaded
    or SASL is on without a password.
    """
    out: dict[str, object] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        out["ssl_context"] = _tls_context(settings)
    if settings.security_protocol.startswith("SASL"):
        if not password:
            raise ConfigError(
                [f"kafka password: {settings.security_protocol} needs {KAFKA_PASSWORD_ENV}"]
            )
        out.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=password,
        )
    return out


def _explain(exc: BaseException, settings: KafkaSettings) -> str:
    """Why one connection attempt failed, in an operator's words; never the password."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: the broker's certificate is not trusted ({exc.verify_message}); "
            "check kafka.ssl_cafile"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or type(exc).__name__}); is the port TLS?"
    if isinstance(exc, SaslAuthenticationFailed | AuthenticationFailedError):
        return (
            f"SASL {settings.sasl_mechanism} authentication failed for user "
            f"{settings.sasl_username!r}: check {KAFKA_PASSWORD_ENV} or kafka.sasl_password_file"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return f"the broker does not accept SASL mechanism {settings.sasl_mechanism}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer in time (wrong port or protocol?)"
    if isinstance(exc, KafkaConnectionError) and settings.security_protocol == "SSL":
        return "the broker closed the connection (does it require a client certificate?)"
    return f"{type(exc).__name__}: {exc}"


async def _diagnose(settings: KafkaSettings, security: dict[str, object]) -> str | None:
    """Connect once to the first bootstrap server to learn why the clients could not start."""
    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    if not host or not port.isdigit():
        return None
    conn = AIOKafkaConnection(host.strip("[]"), int(port), request_timeout_ms=10_000, **security)
    try:
        await conn.connect()
    except (OSError, KafkaError) as exc:  # a timeout is an OSError
        return _explain(exc, settings)
    finally:
        await _closed(conn)
    return None


async def _closed(conn: AIOKafkaConnection) -> None:
    """Close ``conn`` and wait (briefly) until its socket is gone. ``close()`` only starts it: a
    TLS shutdown takes a round trip, and the daemon exits right after a diagnosis, so without the
    wait the event loop can end with the socket still open."""
    closing = conn.close()
    if conn._protocol is None:  # the TCP or TLS handshake failed: asyncio closes that socket
        await asyncio.sleep(0)  # ...on its next loop turn
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(closing), 2)


async def _topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """``topic``'s partitions as an unsubscribed consumer sees them ([] when it does not exist):
    such a client tracks no topic, so it asks for the cluster's metadata until it knows."""
    for _ in range(20):
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await consumer._client.force_metadata_update()
    return []


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._intake.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._intake.on_assigned(assigned)


class Intake:
    """The consumer side of the daemon; ``run`` polls until ``stop`` is set, then drains."""

    def __init__(
        self,
        settings: KafkaSettings,
        metrics: Metrics,
        handle: Handle,
        *,
        password: str | None = None,
        max_concurrency: int | None = None,
        client_id: str = "classter-hubspot",
        handle_group: HandleGroup | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._handle = handle
        self._handle_group = handle_group
        self._password = password
        self._client_id = client_id
        self._tracker = OffsetTracker()
        self._scheduler: Scheduler[WorkItem] = Scheduler(
            group_handler=self._process_group,
            max_concurrency=max_concurrency or settings.max_in_flight_students,
            max_group=settings.coalesce_student_events if handle_group is not None else 1,
        )
        # unfinished items per (partition, generation): a late item of an old assignment must
        # not count for (or against) the drain of the same partition's next assignment
        self._open: Counter[tuple[TopicPartition, int]] = Counter()
        self._paused: set[TopicPartition] = set()
        # the group's committed offsets of assigned partitions, read once per assignment
        # (``_seed_committed``), so lag shows before this pod commits there
        self._seeded: dict[TopicPartition, int] = {}
        self._unseeded: set[TopicPartition] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        # the DLQ read back on assignment (``_read_letters``), so a bad record fetched again
        # after a crash or a failed commit is not dead-lettered twice
        self._dlq_reader: AIOKafkaConsumer | None = None
        self._ledger = Ledger()
        self._letters_read: asyncio.Task[None] | None = None
        # assigned partitions whose committed offset carries a mark of our DLQ topic
        self._marked: set[TopicPartition] = set()
        self.fatal: BaseException | None = None
        self.assigned: set[TopicPartition] = set()
        self.draining = False
        self.last_poll = 0.0
        self._stop = asyncio.Event()

    # -- lifespan ---------------------------------------------------------------------------
    async def start(self) -> None:
        s = self._settings
        security = kafka_security(s, self._password)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            client_id=f"{self._client_id}-dlq",
            acks="all",
            enable_idempotence=True,
            max_request_size=DLQ_MAX_REQUEST_BYTES,
            metadata_max_age_ms=s.metadata_max_age_ms,
            **security,
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            group_id=s.group_id,
            group_instance_id=s.group_instance_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset=s.auto_offset_reset,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            rebalance_timeout_ms=int(s.drain_timeout_s * 1000) + 10_000,
            metadata_max_age_ms=s.metadata_max_age_ms,
            **security,
        )
        self._dlq_reader = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            group_id=None,
            client_id=f"{self._client_id}-dlq-reader",
            enable_auto_commit=False,
            metadata_max_age_ms=s.metadata_max_age_ms,
            **security,
        )
        try:
            await self._producer.start()
            await self._consumer.start()
            await self._dlq_reader.start()
        except KafkaError as exc:
            await self.close()
            why = await _diagnose(s, security) or f"{type(exc).__name__}: {exc}"
            raise KafkaUnavailableError(
                f"cannot connect to Kafka at {s.bootstrap_servers}: {why}"
            ) from None
        await self._seed_ledger()
        self._consumer.subscribe(s.topics, listener=_Listener(self))

    async def _seed_ledger(self) -> None:
        """The DLQ's end offsets: every letter this process writes lands after them."""
        reader = self._dlq_reader
        assert reader is not None  # noqa: S101 - started just before
        topic = self._settings.dlq_topic
        try:
            ends = await reader.end_offsets(await _topic_partitions(reader, topic))
        except KafkaError as exc:
            ends = {}
            log.warning(
                "DLQ end offsets not read; after a crash a bad record may be dead-lettered twice",
                extra={"error": type(exc).__name__},
            )
        self._ledger.seed({tp.partition: offset for tp, offset in ends.items()})

    async def close(self) -> None:
        """Stop lanes, consumer and producer; safe to call twice."""
        await self._scheduler.close()
        reading, self._letters_read = self._letters_read, None
        if reading is not None:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        reader, self._dlq_reader = self._dlq_reader, None
        for client in (consumer, producer, reader):
            if client is not None:
                with contextlib.suppress(KafkaError):
                    await client.stop()

    def stop(self) -> None:
        self._stop.set()

    # -- poll loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll and dispatch until ``stop()``; then drain, commit and return."""
        assert self._consumer is not None, "start() first"  # noqa: S101
        commit_task = asyncio.get_running_loop().create_task(self._commit_loop())
        try:
            while not self._stop.is_set():
                try:
                    batch = await self._consumer.getmany(
                        timeout_ms=200, max_records=self._settings.max_poll_records
                    )
                except KafkaError as exc:
                    # a broker restart or a coordinator move: aiokafka reconnects; keep polling
                    log.warning("poll failed; polling again", extra={"error": type(exc).__name__})
                    await asyncio.sleep(1.0)
                    continue
                self.last_poll = time.time()
                self._metrics.last_poll.set(self.last_poll)
                for tp, records in batch.items():
                    for record in records:
                        self._dispatch(tp, record)
                self._apply_backpressure()
        finally:
            self.draining = True
            commit_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await commit_task
        # stop fetching: nothing more is taken in; what is buffered gets the drain deadline
        if self._consumer is not None and self.assigned:
            with contextlib.suppress(IllegalStateError):
                self._consumer.pause(*self.assigned)
        drained = await self._scheduler.drain(self._settings.drain_timeout_s)
        if not drained:
            log.warning(
                "shutdown drain deadline passed; unfinished events will be redelivered",
                extra={"unfinished": self._scheduler.size},
            )
        await self.commit()
        if self._producer is not None:
            await self._producer.flush()

    def _dispatch(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        if tp not in self.assigned:
            return  # a record of a partition revoked meanwhile: it will be fetched again
        state = self._tracker.get(tp)
        newest = state.newest if state is not None else None
        if newest is not None and record.offset <= newest:
            # fetched again within one assignment (a seek after a fetch error): it is already
            # in flight or finished
            log.debug("record fetched twice; ignored", extra={"offset": record.offset})
            return
        self._metrics.events_consumed.labels(topic=tp.topic).inc()
        self._tracker.add(tp, record.offset)
        try:
            event: Event | None = decode_record(record.key, record.value)
            error = None
        except BadInputError as exc:
            event, error = None, exc
        item = WorkItem(tp, record.offset, self._tracker.generation, record, event, error)
        self._open[(tp, item.generation)] += 1
        lane = event.student_key if event is not None else ("bad", tp)
        self._scheduler.submit(lane, item)
        self._metrics.buffered.set(self._scheduler.size)

    def _apply_backpressure(self) -> None:
        assert self._consumer is not None  # noqa: S101
        limit = self._settings.max_buffered_events
        size = self._scheduler.size
        want: set[TopicPartition] = set()
        if size >= limit:
            want = set(self.assigned)
        elif size > limit // 2:
            want = self._paused & self.assigned  # hysteresis: resume below half
        for tp in self.assigned:
            state = self._tracker.get(tp)
            if state is not None and state.distance >= self._settings.max_uncommitted_per_partition:
                want.add(tp)
        if want != self._paused:
            resume = (self._paused - want) & self.assigned
            try:
                if resume:
                    self._consumer.resume(*resume)
                if want:
                    self._consumer.pause(*want)
            except IllegalStateError:
                return  # the assignment changed under us; on_assigned recomputes
            self._paused = want
            self._metrics.paused_partitions.set(len(want))

    # -- one item, or a student's queued items together ------------------------------------------
    async def _process_group(self, items: list[WorkItem]) -> None:
        events = [item.event for item in items if item.event is not None]
        if self._handle_group is None or len(items) == 1 or len(events) != len(items):
            for item in items:
                await self._process(item)
            return
        self._metrics.in_flight.inc(len(items))
        personal = [v for event in events for v in event.student.personal_values()]
        try:
            with logs.personal_data(personal):
                await self._finish_group(items, events)
        finally:
            self._metrics.in_flight.dec(len(items))
            for item in items:
                self._open[item.tp] -= 1
                if self._open[item.tp] <= 0:
                    del self._open[item.tp]
            self._metrics.buffered.set(self._scheduler.size)

    async def _finish_group(self, items: list[WorkItem], events: list[Event]) -> None:
        """Apply one student's queued events together, then finish each record."""
        assert self._handle_group is not None  # noqa: S101 - only called with one
        try:
            results = await self._handle_group(events)
        except HubSpotAuthError as exc:
            self._stop_for_auth(exc, {})
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("applying a student's events together failed; one at a time now")
            for item in items:
                await self._finish(item)
            return
        for item, result in zip(items, results, strict=True):
            await self._finish(item, result)

    async def _process(self, item: WorkItem) -> None:
        self._metrics.in_flight.inc()
        personal = item.event.student.personal_values() if item.event is not None else ()
        try:
            with logs.personal_data(personal):
                await self._finish(item)
        finally:
            self._metrics.in_flight.dec()
            key = (item.tp, item.generation)
            self._open[key] -= 1
            if self._open[key] <= 0:
                del self._open[key]
            self._metrics.buffered.set(self._scheduler.size)

    async def _finish(
        self, item: WorkItem, result: Outcome | EventRejectedError | None = None
    ) -> None:
        """Finish one record: dead-letter it or count its outcome (``result``: already applied
        with others of its student), then mark its offset done."""
        # a bad record's error carries the eventId when the value was an object that named one
        named = item.event or item.error
        extra = {
            "event_id": named.event_id if named is not None else None,
            "topic": item.tp.topic,
            "partition": item.tp.partition,
            "offset": item.offset,
        }
        if item.error is not None:
            log.warning("bad record dead-lettered", extra={**extra, "reason": item.error.reason})
            await self._dead_letter(
                item, item.error.error_class, item.error.reason, str(item.error)
            )
        else:
            assert item.event is not None  # noqa: S101
            try:
                outcome = await self._outcome(item.event, result)
            except EventRejectedError as exc:
                log.warning("event dead-lettered", extra={**extra, "reason": exc.reason})
                await self._dead_letter(item, exc.error_class, exc.reason, str(exc))
            except HubSpotAuthError as exc:
                self._stop_for_auth(exc, extra)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("unexpected error; event dead-lettered", extra=extra)
                await self._dead_letter(item, "internal_error", type(exc).__name__, str(exc))
            else:
                self._metrics.events_finished.labels(outcome=outcome.status).inc()
                for rule in outcome.skips:
                    self._metrics.rule_skips.labels(rule=rule).inc()
                if outcome.skips:
                    log.debug("rules skipped actions", extra={**extra, "rules": outcome.skips})
                if outcome.status == "synced":
                    age = time.time() - item.event.occurred_at.timestamp()
                    self._metrics.end_to_end.observe(max(0.0, age))
        self._tracker.complete(item.tp, item.offset, item.generation)

    async def _outcome(self, event: Event, result: Outcome | EventRejectedError | None) -> Outcome:
        """The event's outcome: ``result`` when it was applied with others, else apply it now."""
        if isinstance(result, EventRejectedError):
            raise result
        return result if result is not None else await self._handle(event)

    def _stop_for_auth(self, exc: HubSpotAuthError, extra: dict[str, object]) -> None:
        """HubSpot refused the token: stop the daemon, leaving every unfinished event unfinished.

        Queued events would meet the same refusal, so they are dropped from the lanes (and the
        one at hand is not finished): all are redelivered once the token is fixed.
        """
        log.critical("HubSpot refused the token; stopping", extra={**extra, "error": str(exc)})
        self.fatal = exc
        self._stop.set()
        for dropped in self._scheduler.drop(lambda _: True):
            self._open[dropped.tp] -= 1

    async def _dead_letter(
        self, item: WorkItem, error_class: str, reason: str, message: str
    ) -> None:
        record = item.record
        letter = dead_letter(
            topic=item.tp.topic,
            partition=item.tp.partition,
            offset=item.offset,
            group=self._settings.group_id,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
            error_class=error_class,
            reason=reason,
            message=message,
            now=dt.datetime.now(dt.UTC),
            personal=item.event.student.personal_values() if item.event is not None else (),
        )
        reading = self._letters_read
        if reading is not None and not reading.done():
            await asyncio.wait([reading])  # what the DLQ holds for this assignment already
        if self._ledger.written(item.tp, item.offset):
            log.info(
                "its letter is in the DLQ already (written before a restart or a rebalance); "
                "not written again",
                extra={
                    "topic": item.tp.topic,
                    "partition": item.tp.partition,
                    "offset": item.offset,
                },
            )
            self._metrics.dlq_repeats_skipped.inc()
            self._metrics.events_finished.labels(outcome="dead_lettered").inc()
            return
        if item.tp not in self._marked:
            # never committed, or committed by another tool: commit the current point with a
            # mark first, so the next owner knows where to look for this letter (a failed
            # commit only risks a repeat letter)
            await self.commit(only={item.tp})
        self._ledger.sending(item.tp, item.offset)
        try:
            truncated = await self._send_letter(letter, item, record.value)
        except BaseException:
            self._ledger.abandoned(item.tp, item.offset)
            raise
        self._metrics.dlq_writes.labels(reason=reason).inc()
        if truncated:
            self._metrics.dlq_truncated.inc()
        self._metrics.events_finished.labels(outcome="dead_lettered").inc()

    async def _send_letter(self, letter: DeadLetter, item: WorkItem, value: bytes | None) -> bool:
        """Write ``letter`` until the DLQ acknowledges it; whether it had to be cut short."""
        delay = 0.5
        truncated = False
        while True:
            producer = self._producer
            if producer is None:
                raise asyncio.CancelledError
            try:
                sent = await producer.send_and_wait(
                    self._settings.dlq_topic,
                    value=letter.value,
                    key=letter.key,
                    headers=letter.headers,
                )
            except _TOO_LARGE as exc:
                if not truncated:
                    # retrying cannot help: write what fits, say so, and let the partition move on
                    letter, truncated = reduced(letter), True
                    log.error(  # noqa: TRY400 - the error's name is enough; no traceback
                        "DLQ letter too large for Kafka; writing it with the value cut short",
                        extra={
                            "error": type(exc).__name__,
                            "topic": item.tp.topic,
                            "partition": item.tp.partition,
                            "offset": item.offset,
                            "value_bytes": len(value or b""),
                        },
                    )
                    continue
                # even the reduced letter is refused: the DLQ topic's limit is set very low
                log.error(  # noqa: TRY400 - as above
                    "reduced DLQ letter refused as too large; check the DLQ topic's "
                    "max.message.bytes; retrying",
                    extra={"error": type(exc).__name__, "delay_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except KafkaError as exc:
                # the offset must not pass this record until the DLQ has it: keep trying
                log.warning(
                    "DLQ write failed; retrying",
                    extra={"error": type(exc).__name__, "delay_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            else:
                self._ledger.acknowledged(item.tp, item.offset, sent.partition, sent.offset)
                return truncated

    # -- commits and rebalances -----------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.commit_interval_s)
            await self._seed_committed()
            await self.commit()

    async def _seed_committed(self) -> None:
        """Read the group's committed offsets of newly assigned partitions (from the beginning
        of the log when the group never committed and ``auto_offset_reset`` is earliest), so
        ``consumer_lag`` shows before this pod's first commit there: a partition stuck on its
        first record still shows its lag. Runs in the commit loop, not in the rebalance
        callback; a failed read is tried again next time."""
        consumer = self._consumer
        todo = sorted(self._unseeded & self.assigned)
        if consumer is None or not todo:
            return
        found: dict[TopicPartition, int] = {}
        never: list[TopicPartition] = []
        try:
            for tp in todo:
                offset = await consumer.committed(tp)
                if offset is None or offset < 0:
                    never.append(tp)
                else:
                    found[tp] = offset
            if never and self._settings.auto_offset_reset == "earliest":
                found.update(await consumer.beginning_offsets(never))
        except (KafkaError, IllegalStateError) as exc:
            log.debug("committed offsets not read yet", extra={"error": type(exc).__name__})
            return
        for tp, offset in found.items():
            if tp not in self.assigned:
                continue  # revoked meanwhile
            self._seeded[tp] = offset
            self._metrics.committed_offset.labels(topic=tp.topic, partition=str(tp.partition)).set(
                offset
            )
        self._unseeded -= set(todo)

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        """Commit explicit offsets of partitions whose safe point moved; failure = redelivery."""
        consumer = self._consumer
        if consumer is None:
            return
        ready = {
            tp: o
            for tp, o in self._tracker.ready().items()
            if isinstance(tp, TopicPartition) and (only is None or tp in only)
        }
        if ready:
            topic = self._settings.dlq_topic
            marked = {
                tp: (offset, encode_mark(topic, self._ledger.mark(tp, offset)))
                if self._ledger.seeded
                else (offset, "")
                for tp, offset in ready.items()
            }
            try:
                await consumer.commit(marked)
            except (CommitFailedError, IllegalStateError, KafkaError) as exc:
                self._metrics.commits.labels(result="failed").inc()
                log.warning(
                    "commit failed; those records will be redelivered",
                    extra={"error": type(exc).__name__},
                )
                return
            self._tracker.mark_committed(dict(ready))
            self._marked.update(tp for tp, (_, mark) in marked.items() if mark)
            self._metrics.commits.labels(result="ok").inc()
            for tp, offset in ready.items():
                self._metrics.committed_offset.labels(
                    topic=tp.topic, partition=str(tp.partition)
                ).set(offset)
        for tp in self.assigned:
            state = self._tracker.get(tp)
            base = state.committed if state is not None else None
            if base is None:
                base = self._seeded.get(tp)
            high = consumer.highwater(tp)
            if base is not None and high is not None:
                self._metrics.lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, high - base)
                )

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        self._metrics.rebalances.labels(kind="revoked").inc()
        gone = set(revoked)
        for item in self._scheduler.drop(lambda item: item.tp in gone):
            # never finished: fetched again by the next owner
            self._open[(item.tp, item.generation)] -= 1
        deadline = time.monotonic() + self._settings.drain_timeout_s
        # polls counters that many lanes decrement; an Event per partition buys nothing here
        while self._unfinished(gone) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        # past the deadline, stop what still runs (a retry backoff, a stalled request): the next
        # owner redoes it, and a late write of ours must not land after the new owner's writes
        cancelled = await self._scheduler.cancel(lambda item: item.tp in gone)
        if cancelled:
            log.warning(
                "drain deadline passed on revocation; in-flight events cancelled",
                extra={"cancelled": cancelled},
            )
        await self.commit(only=gone)
        self._tracker.revoke(gone)
        self._ledger.forget(gone)
        self._marked -= gone
        for key in [k for k in self._open if k[0] in gone]:
            del self._open[key]
        self.assigned -= gone
        self._paused -= gone
        self._unseeded -= gone
        for tp in gone:
            self._seeded.pop(tp, None)
            # another pod reports these now: a frozen series of ours would raise false alerts
            for gauge in (self._metrics.lag, self._metrics.committed_offset):
                with contextlib.suppress(KeyError):
                    gauge.remove(tp.topic, str(tp.partition))
        log.info("partitions revoked", extra={"partitions": sorted(str(t) for t in gone)})

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        self._metrics.rebalances.labels(kind="assigned").inc()
        self._tracker.assign(assigned)
        self.assigned = set(assigned)
        self._unseeded = set(assigned)
        previous = self._letters_read
        if previous is not None:
            previous.cancel()
        self._letters_read = asyncio.get_running_loop().create_task(
            self._read_letters(frozenset(assigned), previous)
        )
        # pauses belong to the old assignment object in aiokafka: re-apply them now, before the
        # first fetch of the new assignment
        self._paused = set()
        self._metrics.paused_partitions.set(0)
        if self._consumer is not None:
            self._apply_backpressure()
            if self.draining:
                with contextlib.suppress(IllegalStateError):
                    self._consumer.pause(*self.assigned)
        log.info("partitions assigned", extra={"partitions": sorted(str(t) for t in assigned)})

    async def _read_letters(
        self, assigned: frozenset[TopicPartition], previous: asyncio.Task[None] | None
    ) -> None:
        """Read the DLQ from the marks committed with the assigned partitions' offsets, and note
        the letters for records at or after those offsets: those records come again, and their
        letters are there already. A failure only risks a repeat letter; it never stops intake."""
        if previous is not None:
            await asyncio.wait([previous])  # the reader serves one assignment at a time
        try:
            await asyncio.wait_for(self._letters_from_marks(assigned), LETTERS_READ_TIMEOUT_S)
        except Exception as exc:  # reading back must never stop intake
            log.warning(
                "DLQ not read back; a bad record fetched again may be dead-lettered twice",
                extra={"error": type(exc).__name__},
            )

    async def _letters_from_marks(self, assigned: frozenset[TopicPartition]) -> None:
        consumer, reader = self._consumer, self._dlq_reader
        if consumer is None or reader is None or not assigned:
            return
        topic = self._settings.dlq_topic
        committed = await consumer._coordinator.fetch_committed_offsets(list(assigned))
        since: dict[TopicPartition, int] = {}  # source partition -> its committed offset
        marks: dict[TopicPartition, Positions] = {}  # source partition -> its commit's mark
        for tp, meta in committed.items():
            positions = decode_mark(meta.metadata, topic)
            if positions is not None and meta.offset >= 0:
                since[tp], marks[tp] = meta.offset, positions
                if tp in self.assigned:
                    self._marked.add(tp)
        start = read_back_from(marks.values())
        if not start:
            return
        tps = [TopicPartition(topic, p) for p in sorted(start)]
        ends = await reader.end_offsets(tps)
        due = {tp for tp in tps if start[tp.partition] < ends.get(tp, 0)}
        reader.assign(tps)
        for tp in due:
            reader.seek(tp, start[tp.partition])
        found = 0
        while due:
            batch = await reader.getmany(*due, timeout_ms=500, max_records=500)
            for dtp, records in batch.items():
                for record in records:
                    source = letter_source(record.headers or ())
                    if source is None or record.offset >= ends[dtp]:
                        continue
                    stp = TopicPartition(source.topic, source.partition)
                    if stp in self.assigned and is_repeat(
                        source,
                        group=self._settings.group_id,
                        mark=marks.get(stp),
                        committed=since.get(stp),
                        dlq_partition=dtp.partition,
                        dlq_offset=record.offset,
                    ):
                        self._ledger.found(stp, source.offset, dtp.partition, record.offset)
                        found += 1
            for dtp in list(due):
                if await reader.position(dtp) >= ends[dtp]:
                    due.discard(dtp)
        if found:
            log.info("DLQ read back: letters of records to come again", extra={"letters": found})

    def _unfinished(self, partitions: set[TopicPartition]) -> bool:
        return any(n > 0 for (tp, _), n in self._open.items() if tp in partitions)

    @property
    def buffered(self) -> int:
        return self._scheduler.size


# -- reading without a group (the dry run) ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class TopicRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


async def read_topics(
    settings: KafkaSettings,
    topics: list[str],
    *,
    password: str | None = None,
    start: dict[tuple[str, int], int] | None = None,
    idle_timeout_s: float = 30.0,
) -> AsyncIterator[TopicRecord]:
    """Every record of ``topics`` from the earliest offsets (or ``start[(topic, partition)]``)
    up to the end offsets as they were when reading began, in order per partition.

    No consumer group (nothing can be committed) and no producer: it changes nothing in Kafka.
    Raises ``KafkaUnavailableError`` when the broker cannot be reached, a topic does not exist,
    or no record arrives for ``idle_timeout_s`` while some are still due.
    """
    security = kafka_security(settings, password)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="classter-hubspot-plan",
        **security,
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()  # start failed before any task began: this only marks it closed
        why = await _diagnose(settings, security) or f"{type(exc).__name__}: {exc}"
        raise KafkaUnavailableError(
            f"cannot connect to Kafka at {settings.bootstrap_servers}: {why}"
        ) from None
    try:
        # without a subscription the client tracks no topic: ask for the cluster's metadata
        # (aiokafka has no public call that fills partitions_for_topic otherwise)
        await consumer._client.force_metadata_update()
        known = await consumer.topics()
        missing = [t for t in topics if t not in known]
        if missing:
            raise KafkaUnavailableError(f"topic(s) not found: {', '.join(missing)}")
        tps = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        due: set[TopicPartition] = set()
        for tp in tps:
            position = max(begins[tp], (start or {}).get((tp.topic, tp.partition), begins[tp]))
            consumer.seek(tp, position)
            if position < ends[tp]:
                due.add(tp)
        idle_since = time.monotonic()
        while due:
            batch = await consumer.getmany(*due, timeout_ms=500, max_records=500)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        idle_since = time.monotonic()
                        yield TopicRecord(
                            tp.topic, tp.partition, record.offset, record.key, record.value
                        )
            for tp in list(due):
                if await consumer.position(tp) >= ends[tp]:
                    due.discard(tp)
            if due and time.monotonic() - idle_since > idle_timeout_s:
                raise KafkaUnavailableError(
                    f"no records for {idle_timeout_s:g}s while {len(due)} partition(s) are unread"
                )
    except KafkaError as exc:
        raise KafkaUnavailableError(f"reading failed: {type(exc).__name__}: {exc}") from None
    finally:
        with contextlib.suppress(KafkaError):
            await consumer.stop()


class DlqPort:
    """The Kafka side of ``replay-dlq`` (``replay.DlqPort``): reads the DLQ under the replay's own
    consumer group (partitions assigned by hand, offsets committed explicitly) and republishes
    with an idempotent acks=all producer. ``async with`` starts and stops both clients."""

    def __init__(
        self, settings: KafkaSettings, *, group_id: str, password: str | None = None
    ) -> None:
        self._settings = settings
        self._group_id = group_id
        self._password = password
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> DlqPort:
        s = self._settings
        security = kafka_security(s, self._password)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            client_id="classter-hubspot-replay",
            acks="all",
            enable_idempotence=True,
            **security,
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            group_id=self._group_id,
            client_id="classter-hubspot-replay",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **security,
        )
        try:
            await self._producer.start()
            await self._consumer.start()
        except KafkaError as exc:
            await self.close()
            raise KafkaUnavailableError(
                f"cannot reach Kafka at {s.bootstrap_servers}: {type(exc).__name__}: {exc}"
            ) from None
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
        if producer is not None:
            with contextlib.suppress(KafkaError):
                await producer.stop()

    async def batches(self) -> AsyncIterator[list[DlqRecord]]:
        consumer = self._consumer
        assert consumer is not None, "async with first"  # noqa: S101
        topic = self._settings.dlq_topic
        try:
            parts = await _topic_partitions(consumer, topic)
            if not parts:
                return
            consumer.assign(parts)
            # the end as it is now: records dead-lettered during the replay wait for the next one
            ends = await consumer.end_offsets(parts)
            while True:
                todo = [tp for tp in parts if await consumer.position(tp) < ends[tp]]
                if not todo:
                    return
                fetched = await consumer.getmany(*todo, timeout_ms=1000, max_records=500)
                batch = [
                    DlqRecord(tp.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                    for tp, records in sorted(fetched.items(), key=lambda kv: kv[0].partition)
                    for r in records
                    if r.offset < ends[tp]
                ]
                if batch:
                    yield batch
        except KafkaError as exc:
            raise KafkaUnavailableError(f"reading {topic}: {type(exc).__name__}: {exc}") from None

    async def publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        producer = self._producer
        assert producer is not None, "async with first"  # noqa: S101
        try:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers or None)
        except KafkaError as exc:
            raise KafkaUnavailableError(
                f"republishing to {topic}: {type(exc).__name__}: {exc}"
            ) from None

    async def commit(self, offsets: dict[int, int]) -> None:
        consumer = self._consumer
        assert consumer is not None, "async with first"  # noqa: S101
        topic = self._settings.dlq_topic
        try:
            await consumer.commit({TopicPartition(topic, p): o for p, o in offsets.items()})
        except KafkaError as exc:
            raise KafkaUnavailableError(
                f"committing the replay's progress: {type(exc).__name__}: {exc}"
            ) from None
