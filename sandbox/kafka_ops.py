"""Small Kafka operations for tests, the demo and benchmarks: topics, publishing, lag, reading.

Owns: creating topics, producing records as given (bytes, tombstones, missing keys), measuring a
consumer group's lag from committed offsets and end offsets, and reading a whole topic (the
DLQ). Uses aiokafka only; never part of the daemon (``consumer/`` must not import it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError


@dataclass(frozen=True)
class Record:
    """One record to publish: ``value`` None is a tombstone, ``key`` None a keyless record.

    ``timestamp_ms`` (Unix ms) sets the record's Kafka timestamp (CreateTime); None: now.
    ``partition`` None lets the producer's partitioner choose (by key).
    """

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None
    partition: int | None = None


@dataclass
class ReadRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)


async def _start(consumer: AIOKafkaConsumer) -> None:
    await consumer.start()
    # a consumer without a subscription knows no topic until asked for the cluster's metadata
    await consumer._client.force_metadata_update()
    # aiokafka's group-less coordinator starts a task that stop() awaits after cancelling; if it
    # never ran, stop() raises CancelledError. One turn of the loop lets it start.
    await asyncio.sleep(0)


async def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = 6) -> None:
    """Create the topics that do not exist yet (replication factor 1)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        todo = [NewTopic(t, partitions, 1) for t in dict.fromkeys(topics) if t not in existing]
        if todo:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(todo)
    finally:
        await admin.close()
    await _wait_for_leaders(bootstrap, list(topics))


async def _wait_for_leaders(bootstrap: str, topics: Sequence[str], timeout_s: float = 30) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await _start(consumer)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            if all(consumer.partitions_for_topic(t) for t in topics):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"topics without leaders after {timeout_s}s: {list(topics)}")
    finally:
        await consumer.stop()


async def publish(bootstrap: str, records: Iterable[Record]) -> int:
    """Produce in order (idempotent, acks=all); returns how many were written."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    count = 0
    try:
        futures = []
        for record in records:
            futures.append(
                await producer.send(
                    record.topic,
                    record.value,
                    key=record.key,
                    headers=list(record.headers) or None,
                    timestamp_ms=record.timestamp_ms,
                    partition=record.partition,
                )
            )
            count += 1
        await producer.flush()
        for future in futures:
            await future
    finally:
        await producer.stop()
    return count


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await _start(consumer)
    try:
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        return dict(await consumer.end_offsets(parts)) if parts else {}
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """End offset minus committed offset per partition (no commit counts as offset 0)."""
    ends = await end_offsets(bootstrap, topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    out = {}
    for tp, end in ends.items():
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        out[tp] = max(end - done, 0)
    return out


async def wait_caught_up(
    bootstrap: str,
    group: str,
    topics: Sequence[str],
    *,
    timeout_s: float = 120,
    settle_s: float = 0.0,
    exited: Callable[[], object] | None = None,
) -> None:
    """Return once the group's lag is zero on every partition; raise ``TimeoutError`` if not.

    ``exited`` (e.g. ``Popen.poll``) returning non-None stops the wait with ``RuntimeError``.
    """
    deadline = time.monotonic() + timeout_s
    lag: dict[TopicPartition, int] = {}
    while time.monotonic() < deadline:
        if exited is not None and exited() is not None:
            raise RuntimeError(f"the daemon exited before group {group} caught up")
        try:
            lag = await group_lag(bootstrap, group, topics)
        except KafkaError as exc:
            # a fresh broker creates __consumer_offsets on first use: the coordinator is briefly
            # unavailable, which is a reason to ask again, not a verdict on the group
            if not exc.retriable:
                raise
            await asyncio.sleep(0.3)
            continue
        if lag and not any(lag.values()):
            if settle_s:
                await asyncio.sleep(settle_s)
            return
        await asyncio.sleep(0.3)
    behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n}
    raise TimeoutError(f"group {group} still behind after {timeout_s}s: {behind}")


async def read_all(bootstrap: str, topic: str) -> list[ReadRecord]:
    """Every record currently in ``topic``, in partition then offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await _start(consumer)
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not parts:
            return []
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        out: list[ReadRecord] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                out.extend(
                    ReadRecord(
                        tp.topic,
                        tp.partition,
                        r.offset,
                        r.key,
                        r.value,
                        {k: v for k, v in r.headers},
                    )
                    for r in records
                    if r.offset < ends[tp]
                )
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()
