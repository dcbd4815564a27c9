"""What ``replay-dlq`` republishes (``consumer.replay``): headers, filters, the report."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from consumer.dlq import DLQ_HEADERS, REDUCED_HEADERS, dead_letter, reduced
from consumer.replay import DlqRecord, Filters, Report, original_headers, parse_list, replay


def record(
    reason: str = "invalid_json", error_class: str = "bad_input", *, cut: bool = False
) -> DlqRecord:
    letter = dead_letter(
        topic="classter.students",
        partition=2,
        offset=40,
        group="classter-hubspot",
        key=b"2637",
        value=b"{",
        headers=[("trace", b"t-1"), ("x-custom", b"kept")],
        error_class=error_class,
        reason=reason,
        message="value is not UTF-8 JSON",
        now=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    )
    if cut:
        letter = reduced(letter, prefix=0)
    return DlqRecord(0, 7, letter.key, letter.value, tuple(letter.headers))


def test_republished_headers_are_the_source_records_own() -> None:
    dead = record()

    assert original_headers(dead) == [("trace", b"t-1"), ("x-custom", b"kept")]
    assert {k for k, _ in dead.headers} >= DLQ_HEADERS - REDUCED_HEADERS, "it carries them all"
    assert dead.header("x-source-topic") == "classter.students"
    assert dead.header("absent") is None


def test_filters_match_reason_and_error_class_and_empty_filters_match_all() -> None:
    bad, rejected = record(), record("invalid_email", "rejected")

    assert Filters().admits(bad) and Filters().admits(rejected)
    assert Filters(reasons=("invalid_json",)).admits(bad)
    assert not Filters(reasons=("invalid_json",)).admits(rejected)
    assert Filters(error_classes=("rejected",)).admits(rejected)
    assert not Filters(reasons=("invalid_json",), error_classes=("rejected",)).admits(bad)


def test_list_options_take_commas_and_repeats() -> None:
    assert parse_list(["a,b", " c ", ""]) == ("a", "b", "c")
    assert parse_list(None) == ()


def test_the_summary_says_what_happened_and_what_was_committed() -> None:
    report = Report(dry_run=False, republished=2)
    report.by_topic["classter.students"] = 2
    report.passed_over["filtered"] = 3
    report.committed = {0: 8, 1: 3}
    report.limit_reached = True

    text = report.summary()

    assert "republished 2 record(s) (classter.students: 2)" in text
    assert "passed over 3 (filtered 3)" in text
    assert "committed [0]=8 [1]=3" in text
    assert "--limit" in text
    dry = Report(dry_run=True, republished=1).summary()
    assert "would republish 1" in dry and "nothing committed (dry run)" in dry


class ListPort:
    """An in-memory DLQ: one batch, and what was published and committed."""

    def __init__(self, records: list[DlqRecord]) -> None:
        self.records = records
        self.published: list[tuple[str, bytes | None]] = []
        self.committed: list[dict[int, int]] = []

    async def batches(self) -> AsyncIterator[list[DlqRecord]]:
        yield self.records

    async def publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.published.append((topic, value))

    async def commit(self, offsets: dict[int, int]) -> None:
        self.committed.append(offsets)


async def test_a_letter_whose_value_was_cut_is_passed_over_not_republished_cut() -> None:
    port = ListPort([record(cut=True)])

    report = await replay(port, dlq_topic="classter.dlq")

    assert port.published == []
    assert report.passed_over == {"truncated": 1}
    assert report.republished == 0
