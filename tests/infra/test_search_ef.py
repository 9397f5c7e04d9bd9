"""The HNSW ef of a search: derived from top_n and the face set's size, or the operator's."""

from __future__ import annotations

from infra.settings import Settings
from infra.vector_index import search_ef_for


def test_a_million_faces_searched_for_ten_get_the_ef_the_1m_bench_met_both_targets_with() -> None:
    # docs/BENCHMARKS.md: ef 384-512 gave recall@10 >= 0.99 at p99 <= 20 ms on 1M faces.
    assert 384 <= search_ef_for(10, 1_000_000) <= 512


def test_small_face_sets_keep_the_generous_ef_that_costs_them_little() -> None:
    assert search_ef_for(10, 500) == 1536
    assert search_ef_for(10, 100_000) == 1536
    assert search_ef_for(10, 100_001) == 512


def test_ef_grows_with_top_n_and_never_falls_below_it() -> None:
    assert search_ef_for(100, 1_000_000) == 1600
    assert search_ef_for(1000, 1_000_000) == 16_000
    assert search_ef_for(5000, 1_000_000) == 32_768  # Milvus's limit
    assert search_ef_for(10, None) == 512  # an unknown size counts as large


def test_the_operator_override_wins_but_still_covers_top_n() -> None:
    assert search_ef_for(10, 1_000_000, override=1536) == 1536
    assert search_ef_for(10, 500, override=128) == 128
    assert search_ef_for(300, 500, override=128) == 300


def test_the_setting_is_derived_unless_set() -> None:
    assert Settings().vector_store.search_ef is None
    assert Settings.model_validate({"vector_store": {"search_ef": 384}}).vector_store.search_ef == 384
