"""Which consistency a search asks the vector index for (infra.vector_index.freshness)."""

from __future__ import annotations

from infra.vector_index.freshness import read_level
from infra.vector_index.records import Consistency


def test_a_search_long_after_the_last_write_reads_bounded() -> None:
    assert read_level(strong=False, written_ts=123) == (Consistency.BOUNDED, {})


def test_a_search_right_after_a_write_asks_for_that_write_only() -> None:
    assert read_level(strong=True, written_ts=123) == (Consistency.CUSTOMIZED, {"guarantee_timestamp": 123})


def test_without_the_write_timestamp_a_search_right_after_a_write_stays_strong() -> None:
    # Face sets from before the timestamp was kept, and milvus-lite (which reports none).
    assert read_level(strong=True, written_ts=None) == (Consistency.STRONG, {})
    assert read_level(strong=True, written_ts=0) == (Consistency.STRONG, {})
