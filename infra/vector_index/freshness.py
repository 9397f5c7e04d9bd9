"""How current a search must be: read-your-writes without waiting for Milvus's clock.

A search sent right after an enrollment must find the new faces. Strong consistency gives
that, but a Milvus server answers a Strong read only at its next time tick, after the read
was sent: ~200 ms, and again for every search while the window lasts (docs/BENCHMARKS.md,
"Seventh pass"). What the search needs is narrower: to see one write. Milvus's Customized
level takes that write's own timestamp as the read's guarantee, and answers at once when
the write is visible already (it waits for a tick only within ~0.2 s of the write).

The timestamp comes from the write's reply. ``MilvusClient``'s insert and upsert do not
return it, but pymilvus records it per collection for its own Session consistency
(``pymilvus.client.ts_utils``), from every insert, upsert and delete of this process; that
record is what ``last_write_timestamp`` reads. Another thread's later write can only make it
larger, which costs a read at most a wait for that write too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymilvus.client import ts_utils, utils

from infra.vector_index.records import Consistency


def last_write_timestamp(collection_name: str) -> int:
    """The index's timestamp of this process's latest write to the collection (0: none)."""
    return int(ts_utils.get_collection_ts(collection_name) or 0)


def read_level(strong: bool, written_ts: int | None) -> tuple[Consistency, dict[str, int]]:
    """The consistency level of a search and its extra arguments: Bounded unless it must
    read recent writes; then the writes up to ``written_ts`` when known, else Strong."""
    if not strong:
        return Consistency.BOUNDED, {}
    if written_ts:
        return Consistency.CUSTOMIZED, {"guarantee_timestamp": written_ts}
    return Consistency.STRONG, {}


def written_within(written_ts: int | None, window: timedelta, now: datetime) -> bool:
    """Whether the write of ``written_ts`` happened within ``window`` before ``now``, by the
    physical part of the index's hybrid timestamp (the Milvus server's clock: a skew between
    clocks only moves the window's edge, and the window is many times any sane skew)."""
    if not written_ts:
        return False
    written_at = float(utils.hybridts_to_unixtime(written_ts))
    return now.timestamp() - written_at < window.total_seconds()
