"""Publish the sample to Kafka: ``python -m sandbox.sample.publish --bootstrap HOST:PORT``.

Owns: creating the sample's topics when missing (``partitions`` each, replication factor 1)
and producing every line of a JSONL file (format: ``sandbox.sample.records``) in file order
with an idempotent, ``acks=all`` producer: raw bytes as they are, tombstones as a null value,
keyless records without a key. Each record goes to ``records.partition_for(key)`` explicitly,
so keyless records land on partition 0 and one student's records share a partition number on
both topics. Prints counts per topic and per partition. Must not: be imported by ``consumer/``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaProducer

from sandbox.kafka_ops import ensure_topics
from sandbox.sample.records import DEFAULT_PARTITIONS, SampleRecord, partition_for, read_jsonl

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "examples" / "sample" / "events.jsonl"


async def publish(
    bootstrap: str, records: Sequence[SampleRecord], *, partitions: int = DEFAULT_PARTITIONS
) -> Counter[tuple[str, int]]:
    """Create missing topics, produce ``records`` in order; returns counts by (topic, partition).

    Returns only once every record is acknowledged by the broker.
    """
    await ensure_topics(bootstrap, sorted({r.topic for r in records}), partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    counts: Counter[tuple[str, int]] = Counter()
    try:
        # an existing topic keeps its own partition count: place keys by that count
        sizes = {t: len(await producer.partitions_for(t)) for t in {r.topic for r in records}}
        pending = []
        for record in records:
            partition = partition_for(record.key, sizes[record.topic])
            pending.append(
                await producer.send(
                    record.topic, record.value, key=record.key_bytes, partition=partition
                )
            )
            counts[(record.topic, partition)] += 1
        await producer.flush()
        for delivery in pending:
            await delivery
    finally:
        await producer.stop()
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.sample.publish", description="Publish the sample events to Kafka."
    )
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT of a broker")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument(
        "--partitions",
        type=int,
        default=DEFAULT_PARTITIONS,
        help="partitions of topics this creates (existing topics keep theirs)",
    )
    args = parser.parse_args(argv)
    records = read_jsonl(args.file)
    counts = asyncio.run(publish(args.bootstrap, records, partitions=args.partitions))
    for topic in sorted({t for t, _ in counts}):
        parts = {p: n for (t, p), n in sorted(counts.items()) if t == topic}
        print(
            f"{topic}: {sum(parts.values())} records "
            f"(by partition: {', '.join(f'{p}: {n}' for p, n in parts.items())})"
        )
    print(f"published {len(records)} records from {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
