"""Which consistency a search asks the vector index for (infra.vector_index.freshness)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.vector_index.freshness import read_level, written_within
from infra.vector_index.records import Consistency


def test_a_search_long_after_the_last_write_reads_bounded() -> None:
    assert read_level(strong=False, written_ts=123) == (Consistency.BOUNDED, {})


def test_a_search_right_after_a_write_asks_for_that_write_only() -> None:
    assert read_level(strong=True, written_ts=123) == (Consistency.CUSTOMIZED, {"guarantee_timestamp": 123})


def test_without_the_write_timestamp_a_search_right_after_a_write_stays_strong() -> None:
    # Face sets from before the timestamp was kept, and milvus-lite (which reports none).
    assert read_level(strong=True, written_ts=None) == (Consistency.STRONG, {})
    assert read_level(strong=True, written_ts=0) == (Consistency.STRONG, {})


def test_a_write_counts_as_recent_by_the_physical_part_of_its_index_timestamp() -> None:
    now = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    window = timedelta(seconds=10)
    assert written_within(_index_timestamp(now - timedelta(seconds=3)), window, now)
    assert not written_within(_index_timestamp(now - timedelta(seconds=11)), window, now)
    assert not written_within(None, window, now) and not written_within(0, window, now)


def _index_timestamp(at: datetime) -> int:
    """Milvus's hybrid timestamp: milliseconds since the epoch above an 18-bit logical counter."""
    return (int(at.timestamp() * 1000) << 18) | 7
