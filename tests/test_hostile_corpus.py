"""The hostile-input corpus (``sandbox/hostile.py``) and the decoder agree record by record.

The corpus states each record's DLQ reason from the contract; here the real decoder must give
the same reason for every ``bad_input`` record and accept every other one.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from consumer.errors import BadInputError
from consumer.events import decode_record
from sandbox.hostile import BAD_INPUT, HostileRecord, corpus

CORPUS = corpus()


def test_the_corpus_is_deterministic_large_and_covers_every_kind_of_bad_input() -> None:
    bad = [r for r in CORPUS if r.reason is not None]

    assert corpus() == CORPUS
    assert len(bad) >= 200
    assert set(Counter(r.reason for r in bad)) >= {
        "invalid_json",
        "schema_invalid",
        "unknown_event_type",
        "unsupported_schema_version",
        "missing_key",
        "key_mismatch",
        "tombstone",
        "invalid_email",
    }
    assert any(r.key is None and r.value is not None for r in bad), "null keys"
    assert any(r.value is not None and len(r.value) > 500_000 for r in bad), "huge values"


def test_every_bad_record_sits_between_valid_records_of_its_partition() -> None:
    by_partition: dict[int, list[bool]] = {}
    for record in CORPUS:
        by_partition.setdefault(record.partition, []).append(record.reason is None)
    for flags in by_partition.values():
        assert flags[0] and flags[-1]
        assert all(a or b for a, b in itertools.pairwise(flags)), "two bad in a row"


@pytest.mark.parametrize("record", CORPUS, ids=lambda r: r.label or "valid")
def test_the_decoder_gives_each_record_the_reason_the_corpus_states(
    record: HostileRecord,
) -> None:
    try:
        decode_record(record.key, record.value)
    except BadInputError as exc:
        assert (exc.error_class, exc.reason) == (record.error_class, record.reason), record.label
    else:
        assert record.error_class != BAD_INPUT, f"{record.label}: accepted"
