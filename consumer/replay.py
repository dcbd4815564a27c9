"""``replay-dlq``: republish dead-lettered records to their source topic after a fix (SPEC 7).

Owns: deciding, record by record, what happens to a DLQ record (republish to ``x-source-topic``
with its original key, value and headers minus the DLQ's own ``x-*`` headers; or pass it over
because a filter excludes it, its value was cut to fit the DLQ (fetch the source record at its
``x-source-offset`` instead), it repeats a source record already seen in this run, or it names
no source topic), the order of publish and commit (a DLQ offset is committed for the replay's
own consumer group only after every republished record before it is acknowledged, so a rerun
neither loses nor repeats), ``--limit`` and ``--dry-run``, and the report printed for the
operator. Must not: know aiokafka (``intake.DlqPort`` is the Kafka side) or HubSpot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from consumer.dlq import DLQ_HEADERS


@dataclass(frozen=True, slots=True)
class DlqRecord:
    """One record read from the DLQ topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None


class DlqPort(Protocol):
    """The Kafka side of a replay (``intake.DlqPort``)."""

    def batches(self) -> AsyncIterator[list[DlqRecord]]:
        """DLQ records from the group's committed position up to the end seen at start."""
        ...

    async def publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Send and wait for the broker's acknowledgement (acks=all)."""
        ...

    async def commit(self, offsets: dict[int, int]) -> None:
        """Commit the next DLQ offset to read, per DLQ partition, for the replay's group."""
        ...


@dataclass(frozen=True)
class Filters:
    """Which records to republish; empty tuples match everything."""

    reasons: tuple[str, ...] = ()
    error_classes: tuple[str, ...] = ()

    def admits(self, record: DlqRecord) -> bool:
        if self.reasons and record.header("x-error-reason") not in self.reasons:
            return False
        return not (self.error_classes and record.header("x-error-class") not in self.error_classes)


@dataclass
class Report:
    """What a replay did; ``lines`` is the per-record log printed as it goes."""

    dry_run: bool
    republished: int = 0
    passed_over: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)
    committed: dict[int, int] = field(default_factory=dict)
    limit_reached: bool = False

    def summary(self) -> str:
        verb = "would republish" if self.dry_run else "republished"
        topics = ", ".join(f"{t}: {n}" for t, n in sorted(self.by_topic.items())) or "none"
        skipped = ", ".join(f"{why} {n}" for why, n in sorted(self.passed_over.items()))
        parts = [f"{verb} {self.republished} record(s) ({topics})"]
        passed = sum(self.passed_over.values())
        parts.append(f"passed over {passed}" + (f" ({skipped})" if skipped else ""))
        if self.dry_run:
            parts.append("nothing committed (dry run)")
        elif self.committed:
            points = " ".join(f"[{p}]={o}" for p, o in sorted(self.committed.items()))
            parts.append(f"committed {points}")
        else:
            parts.append("nothing to commit")
        if self.limit_reached:
            parts.append("stopped at --limit; run again for the rest")
        return "; ".join(parts)


def original_headers(record: DlqRecord) -> list[tuple[str, bytes]]:
    """The source record's headers: the DLQ record's, without the ones the DLQ added."""
    return [(k, v) for k, v in record.headers if k not in DLQ_HEADERS]


async def replay(
    port: DlqPort,
    *,
    dlq_topic: str,
    filters: Filters = Filters(),
    limit: int | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> Report:
    """Go through the DLQ once; see the module docstring. ``say`` gets one line per record."""
    report = Report(dry_run=dry_run)
    seen: set[tuple[str, str, str]] = set()
    async for batch in port.batches():
        done: dict[int, int] = {}
        for record in batch:
            if limit is not None and report.republished >= limit:
                report.limit_reached = True
                break
            where = f"{dlq_topic}[{record.partition}]@{record.offset}"
            what = (
                f"class={record.header('x-error-class') or '?'} "
                f"reason={record.header('x-error-reason') or '?'}"
            )
            source = record.header("x-source-topic")
            origin = (
                source or "",
                record.header("x-source-partition") or "",
                record.header("x-source-offset") or "",
            )
            why = _pass_over(record, source, origin, seen, filters)
            if why is not None:
                report.passed_over[why] += 1
                say(f"pass over  {where}  {why}  {what}")
            else:
                assert source is not None  # noqa: S101 - _pass_over checked it
                seen.add(origin)
                if not dry_run:
                    await port.publish(source, record.key, record.value, original_headers(record))
                report.republished += 1
                report.by_topic[source] += 1
                verb = "would republish" if dry_run else "republished"
                say(f"{verb}  {where} -> {source} (was [{origin[1]}]@{origin[2]})  {what}")
            done[record.partition] = record.offset + 1
        if done and not dry_run:
            await port.commit(done)
            report.committed.update(done)
        if report.limit_reached:
            break
    return report


def _pass_over(
    record: DlqRecord,
    source: str | None,
    origin: tuple[str, str, str],
    seen: set[tuple[str, str, str]],
    filters: Filters,
) -> str | None:
    if not source:
        return "no_source_topic"
    if record.header("x-value-truncated") == "true":
        return "truncated"  # a reduced letter (dlq.reduced): the source topic has the whole value
    if not filters.admits(record):
        return "filtered"
    if origin in seen:
        return "duplicate"  # the same source record dead-lettered twice (a redelivery)
    return None


def parse_list(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--reason a,b --reason c`` -> ``("a", "b", "c")``."""
    out: list[str] = []
    for value in values or ():
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(out)
