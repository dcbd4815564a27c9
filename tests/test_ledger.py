"""The DLQ ledger (SPEC sections 6 and 7): the mark committed with a source partition's offset
covers every letter of that partition's records at or after the offset, so the next owner finds
them by reading the DLQ from the mark."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.ledger import (
    MARK_PREFIX,
    MAX_MARK,
    Ledger,
    LetterSource,
    decode_mark,
    encode_mark,
    is_repeat,
    letter_source,
    read_back_from,
)

P = ("students", 0)
Q = ("students", 1)


# -- the mark in the commit metadata ------------------------------------------------------------


def test_a_mark_round_trips() -> None:
    mark = encode_mark("classter.dlq", {1: 40, 0: 12})

    assert mark == f"{MARK_PREFIX} classter.dlq 0:12,1:40"
    assert decode_mark(mark, "classter.dlq") == {0: 12, 1: 40}


def test_a_mark_of_an_empty_dlq_round_trips() -> None:
    assert decode_mark(encode_mark("dlq", {}), "dlq") == {}


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        "",
        "written by another tool",
        f"{MARK_PREFIX} other.dlq 0:12",  # a mark for another DLQ topic
        f"{MARK_PREFIX} dlq 0:12 extra",
        f"{MARK_PREFIX} dlq 0:-1",
        f"{MARK_PREFIX} dlq 0=12",
        f"{MARK_PREFIX} dlq x:12",
        "classter-hubspot/dlq-v0 dlq 0:12",
    ],
)
def test_no_positions_from_metadata_that_is_not_our_mark_for_this_dlq(metadata: str | None) -> None:
    assert decode_mark(metadata, "dlq") is None


def test_a_mark_too_long_for_kafkas_metadata_limit_is_not_sent() -> None:
    assert encode_mark("dlq", {p: 10**12 for p in range(400)}) == ""
    assert len(encode_mark("dlq", {p: 10**6 for p in range(100)})) <= MAX_MARK


@given(st.dictionaries(st.integers(0, 10_000), st.integers(0, 2**62), max_size=50))
def test_every_mark_that_is_sent_decodes_to_its_positions(positions: dict[int, int]) -> None:
    mark = encode_mark("classter-hubspot.dlq", positions)
    if mark:
        assert decode_mark(mark, "classter-hubspot.dlq") == positions


def test_a_letters_source_comes_from_its_x_source_headers() -> None:
    headers = [
        ("traceparent", b"00-ab"),
        ("x-source-topic", b"students"),
        ("x-source-partition", b"3"),
        ("x-source-offset", b"1207"),
        ("x-source-group", b"classter-hubspot"),
    ]
    assert letter_source(headers) == LetterSource("students", 3, 1207, "classter-hubspot")
    assert letter_source(headers[:-1]) == LetterSource("students", 3, 1207, None)


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("x-source-topic", b"students"), ("x-source-partition", b"3")],
        [("x-source-topic", b"s"), ("x-source-partition", b"three"), ("x-source-offset", b"1")],
        [("x-source-topic", b"\xff"), ("x-source-partition", b"3"), ("x-source-offset", b"1")],
    ],
)
def test_a_record_without_a_whole_source_is_not_a_letter_of_ours(
    headers: list[tuple[str, bytes]],
) -> None:
    assert letter_source(headers) is None


def test_the_read_back_starts_at_the_lowest_mark_of_each_dlq_partition() -> None:
    assert read_back_from([{0: 10, 1: 4}, {0: 7, 2: 9}]) == {0: 7, 1: 4, 2: 9}
    assert read_back_from([]) == {}


OURS = LetterSource("students", 0, 40, "classter-hubspot")


def repeat(letter: LetterSource = OURS, **where: object) -> bool:
    args: dict[str, object] = {
        "group": "classter-hubspot",
        "mark": {0: 100, 1: 20},
        "committed": 40,
        "dlq_partition": 0,
        "dlq_offset": 100,
    }
    args.update(where)
    return is_repeat(letter, **args)  # type: ignore[arg-type]


def test_our_letter_at_or_after_the_mark_for_a_record_that_comes_again_is_a_repeat() -> None:
    assert repeat()
    assert repeat(dlq_offset=150)
    assert repeat(LetterSource("students", 0, 41, "classter-hubspot"))


@pytest.mark.parametrize(
    ("letter", "where", "why"),
    [
        (LetterSource("students", 0, 40, "classter-hubspot-b"), {}, "another group's letter"),
        (LetterSource("students", 0, 40, None), {}, "no group: another writer's, or older"),
        (LetterSource("students", 0, 39, "classter-hubspot"), {}, "its record is committed past"),
        (OURS, {"dlq_offset": 99}, "written before the mark: before an offset reset, say"),
        (OURS, {"dlq_partition": 2}, "a DLQ partition the mark does not cover"),
        (OURS, {"mark": None}, "a commit without a mark"),
        (OURS, {"committed": None}, "no commit"),
    ],
)
def test_a_dlq_record_is_not_taken_for_our_letter(
    letter: LetterSource, where: dict[str, object], why: str
) -> None:
    assert not repeat(letter, **where), why


# -- the ledger ---------------------------------------------------------------------------------


def test_without_letters_the_mark_is_the_dlqs_end_at_start() -> None:
    ledger = Ledger()
    ledger.seed({0: 100, 1: 7})

    assert ledger.mark(P, 50) == {0: 100, 1: 7}


def test_an_acknowledged_letter_moves_the_floor_past_it() -> None:
    ledger = Ledger()
    ledger.seed({0: 100, 1: 7})
    ledger.sending(Q, 3)
    ledger.acknowledged(Q, 3, 0, 100)

    assert ledger.mark(P, 0) == {0: 101, 1: 7}  # P has no letter: the floor
    assert ledger.mark(Q, 4) == {0: 101, 1: 7}  # Q's letter is before the committed offset


def test_the_mark_reaches_back_to_a_letter_of_a_record_not_yet_committed_past() -> None:
    ledger = Ledger()
    ledger.seed({0: 100, 1: 7})
    ledger.sending(P, 12)
    ledger.acknowledged(P, 12, 1, 7)
    ledger.sending(Q, 1)
    ledger.acknowledged(Q, 1, 1, 8)

    assert ledger.mark(P, 10) == {0: 100, 1: 7}
    assert ledger.written(P, 12)
    assert not ledger.written(P, 11)


def test_a_letter_on_its_way_holds_the_floor_as_it_was_when_sent() -> None:
    ledger = Ledger()
    ledger.seed({0: 100, 1: 7})
    ledger.sending(P, 12)  # lands somewhere at or after 0:100 / 1:7
    ledger.sending(Q, 1)
    ledger.acknowledged(Q, 1, 0, 100)
    ledger.acknowledged(Q, 2, 0, 101)

    assert ledger.mark(P, 10) == {0: 100, 1: 7}
    assert ledger.mark(P, 13) == {0: 102, 1: 7}  # its record is before the committed offset


def test_an_abandoned_letter_no_longer_holds_the_floor() -> None:
    ledger = Ledger()
    ledger.seed({0: 100})
    ledger.sending(P, 12)
    ledger.acknowledged(Q, 1, 0, 100)
    ledger.abandoned(P, 12)

    assert ledger.mark(P, 10) == {0: 101}
    assert not ledger.written(P, 12)


def test_letters_before_the_committed_offset_are_forgotten() -> None:
    ledger = Ledger()
    ledger.seed({0: 0})
    for offset in range(5):
        ledger.sending(P, offset)
        ledger.acknowledged(P, offset, 0, offset)

    assert ledger.mark(P, 3) == {0: 3}
    assert [o for o in range(5) if ledger.written(P, o)] == [3, 4]


def test_letters_found_in_the_dlq_count_as_written_and_in_the_mark() -> None:
    ledger = Ledger()
    ledger.seed({0: 500})
    ledger.found(P, 40, 0, 230)

    assert ledger.written(P, 40)
    assert ledger.mark(P, 40) == {0: 230}  # the next owner must find it too


def test_a_revoked_partitions_letters_are_forgotten_and_the_floor_kept() -> None:
    ledger = Ledger()
    ledger.seed({0: 10})
    ledger.sending(P, 1)
    ledger.acknowledged(P, 1, 0, 10)
    ledger.sending(P, 2)
    ledger.forget([P])

    assert not ledger.written(P, 1)
    assert ledger.mark(P, 0) == {0: 11}


def test_a_ledger_not_seeded_says_so() -> None:
    ledger = Ledger()
    assert not ledger.seeded
    ledger.seed({0: 0})
    assert ledger.seeded


@given(
    st.lists(
        st.tuples(
            st.sampled_from([P, Q]),  # the letter's source partition
            st.integers(0, 30),  # its record's offset
            st.integers(0, 2),  # the DLQ partition it lands on
            st.booleans(),  # acknowledged (or still on its way when the mark is taken)
        ),
        max_size=25,
        unique_by=lambda t: (t[0], t[1]),
    ),
    st.integers(0, 31),
)
def test_the_mark_is_at_or_before_every_letter_of_a_record_at_or_after_the_committed_offset(
    letters: list[tuple[tuple[str, int], int, int, bool]], committed: int
) -> None:
    """Letters are appended to each DLQ partition in the order they are sent, each after the DLQ's
    end at start; whatever that order, no letter of P at or after ``committed`` is before the mark
    (so reading from the mark finds it)."""
    ledger = Ledger()
    ends = {0: 5, 1: 0, 2: 9}
    ledger.seed(ends)
    log_end = dict(ends)
    landed: list[tuple[tuple[str, int], int, int, int]] = []
    for source, offset, partition, acknowledged in letters:
        ledger.sending(source, offset)
        dlq_offset = log_end[partition]
        log_end[partition] += 1
        landed.append((source, offset, partition, dlq_offset))
        if acknowledged:
            ledger.acknowledged(source, offset, partition, dlq_offset)

    mark = ledger.mark(P, committed)

    for source, offset, partition, dlq_offset in landed:
        if source == P and offset >= committed:
            assert mark[partition] <= dlq_offset


@given(st.data())
def test_the_mark_holds_whatever_order_the_acknowledgements_come_in(data: st.DataObject) -> None:
    """Letters sent one after another, some acknowledged (in any order) before the mark is taken,
    then more sent: every letter of P at or after ``committed`` is at or after the mark."""
    ledger = Ledger()
    ledger.seed({0: 3, 1: 3})
    log_end = {0: 3, 1: 3}
    sources = data.draw(st.lists(st.sampled_from([P, Q]), min_size=1, max_size=12))
    landed = []
    for offset, source in enumerate(sources):
        ledger.sending(source, offset)
        partition = data.draw(st.integers(0, 1))
        landed.append((source, offset, partition, log_end[partition]))
        log_end[partition] += 1
    for source, offset, partition, dlq_offset in data.draw(st.permutations(landed)):
        if data.draw(st.booleans()):
            ledger.acknowledged(source, offset, partition, dlq_offset)
    committed = data.draw(st.integers(0, len(sources)))

    mark = ledger.mark(P, committed)

    for source, offset, partition, dlq_offset in landed:
        if source == P and offset >= committed:
            assert mark[partition] <= dlq_offset
