"""The vector index against real Milvus: milvus-lite (embedded) and a Milvus server.

Every test runs on both backends. Each test gets its own collection prefix, so tests
never see each other's vectors, and drops its collections afterwards.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import infra.vector_index.collections as vector_collections
import infra.vector_index.rows as vector_rows
from infra.errors import TransientInfraError
from infra.filter_columns import FilterColumns
from infra.search_filter import compile_filter
from infra.vector_index import Hit, VectorRecord, collection_name, start_embedded_milvus
from infra.vector_index.errors import InvalidVectorFilter
from infra.vector_index.index import VectorIndex
from tests.support.milvus import milvus_server

MODEL = "test-model-v1"
DIM = 8
P1, P2 = "project-a", "project-b"
SET = "default"


@pytest.fixture(scope="module")
def server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus standalone of this module's own (its etcd ports are free ones; see
    tests/support/milvus.py for why the shared fixture's fixed etcd port is a problem)."""
    try:
        server = milvus_server(tmp_path_factory.mktemp("milvus-server"))
        uri = server.__enter__()
    except (RuntimeError, OSError) as error:  # TimeoutError is an OSError
        pytest.fail(f"the Milvus server from the `milvus` package did not start: {error}")
    try:
        yield uri
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(
    params=[
        pytest.param("lite", id="milvus-lite"),
        pytest.param("server", id="milvus-server", marks=pytest.mark.integration),
    ]
)
def index(request: pytest.FixtureRequest) -> Iterator[VectorIndex]:
    fixture = "milvus_lite_uri" if request.param == "lite" else "server_uri"
    uri = request.getfixturevalue(fixture)
    vector_index = VectorIndex(uri, collection_prefix=f"t{uuid.uuid4().hex[:12]}")
    try:
        yield vector_index
    finally:
        for model_id in vector_index.collections():
            vector_index.drop_collection(model_id)
        vector_index.close()


def unit(axis: int, scale: float = 1.0) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[axis] = scale
    return vector


def record(face_id: str, vector: np.ndarray, project: str = P1, face_set: str = SET, **extra: object) -> VectorRecord:
    return VectorRecord(face_id=face_id, vector=vector, project_id=project, face_set_id=face_set, **extra)  # type: ignore[arg-type]


def search(index: VectorIndex, probe: np.ndarray, **options: object) -> list[Hit]:
    defaults: dict[str, object] = {"top_k": 10, "project_id": P1, "face_set_id": SET, "strong": True}
    defaults.update(options)
    return index.search(MODEL, [probe], **defaults)[0]  # type: ignore[arg-type]


def test_upsert_then_strong_search_finds_it_with_euclidean_distance(index: VectorIndex) -> None:
    index.upsert(MODEL, [record("near", unit(0)), record("far", unit(0, 4.0))])
    hits = search(index, unit(1))  # |e0 - e1| = sqrt(2); |4 e0 - e1| = sqrt(17)
    assert [hit.face_id for hit in hits] == ["near", "far"]
    assert hits[0].distance == pytest.approx(math.sqrt(2), rel=1e-5)
    assert hits[1].distance == pytest.approx(math.sqrt(17), rel=1e-5)


def test_upsert_twice_overwrites_instead_of_duplicating(index: VectorIndex) -> None:
    index.upsert(MODEL, [record("face", unit(0)), record("other", unit(3))])
    index.upsert(MODEL, [record("face", unit(0))])
    index.upsert(MODEL, [record("face", unit(2))])  # same face id, new vector: overwritten
    assert index.count(MODEL) == 2
    hits = search(index, unit(2))
    assert [hit.face_id for hit in hits].count("face") == 1
    assert hits[0] == Hit("face", pytest.approx(0.0, abs=1e-6))  # type: ignore[arg-type]


def test_delete_then_search_misses(index: VectorIndex) -> None:
    index.upsert(MODEL, [record("gone", unit(0)), record("kept", unit(1))])
    index.delete(MODEL, ["gone", "never-existed"])
    assert [hit.face_id for hit in search(index, unit(0))] == ["kept"]
    index.delete("model-without-collection", ["gone"])  # a no-op, not an error


def test_delete_by_face_set_leaves_other_sets_and_projects(index: VectorIndex) -> None:
    index.upsert(
        MODEL,
        [
            record("s1", unit(0), face_set="set-1"),
            record("s2", unit(0), face_set="set-2"),
            record("other-project", unit(0), project=P2, face_set="set-1"),
        ],
    )
    index.delete_by_face_set(MODEL, P1, "set-1")
    assert search(index, unit(0), face_set_id="set-1") == []
    assert [hit.face_id for hit in search(index, unit(0), face_set_id="set-2")] == ["s2"]
    assert [hit.face_id for hit in search(index, unit(0), project_id=P2, face_set_id="set-1")] == ["other-project"]

    second = "other-model"
    index.upsert(second, [record("m2", unit(0), face_set="set-2")])
    index.delete_by_face_set(None, P1, "set-2")  # every collection
    assert search(index, unit(0), face_set_id="set-2") == []
    assert index.search(second, [unit(0)], 5, P1, "set-2", strong=True) == [[]]


def test_projects_and_face_sets_are_isolated_even_with_hostile_ids(index: VectorIndex) -> None:
    hostile = 'x" or project_id != "'
    index.upsert(
        MODEL,
        [
            record("a", unit(0), project=P1),
            record("b", unit(0), project=P2),
            record("c", unit(0), project=hostile, face_set='a\\"b'),
        ],
    )
    assert [hit.face_id for hit in search(index, unit(0), project_id=P1)] == ["a"]
    assert [hit.face_id for hit in search(index, unit(0), project_id=P2)] == ["b"]
    assert [hit.face_id for hit in search(index, unit(0), project_id=hostile, face_set_id='a\\"b')] == ["c"]
    assert search(index, unit(0), project_id=hostile) == []
    index.delete_by_face_set(MODEL, hostile, 'a\\"b')
    assert index.count(MODEL) == 2


def test_top_k_and_max_distance(index: VectorIndex) -> None:
    index.upsert(MODEL, [record(f"f{i}", unit(0, float(i))) for i in range(1, 8)])
    probe = np.zeros(DIM, dtype=np.float32)
    top3 = search(index, probe, top_k=3)
    assert [hit.face_id for hit in top3] == ["f1", "f2", "f3"]
    assert [hit.distance for hit in top3] == pytest.approx([1.0, 2.0, 3.0], rel=1e-5)
    within = search(index, probe, max_distance=4.5)
    assert [hit.face_id for hit in within] == ["f1", "f2", "f3", "f4"]
    with pytest.raises(ValueError):
        search(index, probe, top_k=0)


def test_json_field_filter(index: VectorIndex) -> None:
    index.upsert(
        MODEL,
        [
            record("young", unit(0), fields={"age": 20, "city": "Oslo"}),
            record("old", unit(0, 1.1), fields={"age": 40, "city": 'Quo"te'}),
            record("none", unit(0, 1.2)),
        ],
    )
    assert [hit.face_id for hit in search(index, unit(0), expr='fields["age"] > 30')] == ["old"]
    assert [hit.face_id for hit in search(index, unit(0), expr='fields["city"] == "Quo\\"te"')] == ["old"]
    with pytest.raises(InvalidVectorFilter):
        search(index, unit(0), expr='fields["age"] >>> 3')


def test_typed_filter_columns_are_written_and_filtered_on(index: VectorIndex) -> None:
    columns = FilterColumns.for_schema({"city": "string", "age": "integer"})
    people = {"young": {"age": 20, "city": "Oslo"}, "old": {"age": 40, "city": 'Quo"te'}, "none": {}}
    index.upsert(MODEL, [
        record(name, unit(0, 1 + rank / 10), fields=fields, columns=columns.values(fields))
        for rank, (name, fields) in enumerate(people.items())
    ])
    assert index.has_filter_columns(MODEL)

    def found(text: str) -> list[str]:
        expr = compile_filter(text, {"city": "string", "age": "integer"}, columns=columns.by_field)
        return [hit.face_id for hit in search(index, unit(0), expr=expr)]

    assert found("age:>30") == ["old"]
    assert found('city:"Quo\\"te"') == ["old"]
    assert found("!city:Oslo") == ["old"]  # "none" has no city: neither the term nor its negation
    assert found("age:<30 || city:Oslo") == ["young"]
    with pytest.raises(ValueError, match="filter_s0 cannot hold 3"):
        index.upsert(MODEL, [record("bad", unit(1), columns={"filter_s0": 3})])
    with pytest.raises(ValueError, match="not filter columns"):
        index.upsert(MODEL, [record("bad", unit(1), columns={"fields": "x"})])
    assert index.count(MODEL) == 3


def test_a_collection_of_the_layout_without_filter_columns_keeps_working(
    index: VectorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Collections created before the typed filter columns existed: writes drop the column
    values, and searches filter on the JSON field."""
    monkeypatch.setattr(vector_rows, "STRING_COLUMNS", ())
    monkeypatch.setattr(vector_rows, "NUMBER_COLUMNS", ())
    monkeypatch.setattr(vector_collections, "STRING_COLUMNS", ())  # no scalar indexes either
    monkeypatch.setattr(vector_collections, "NUMBER_COLUMNS", ())
    index.ensure_collection(MODEL, DIM)
    monkeypatch.undo()
    assert not index.has_filter_columns(MODEL)
    columns = FilterColumns.for_schema({"city": "string"})
    index.upsert(MODEL, [record("oslo", unit(0), fields={"city": "Oslo"}, columns=columns.values({"city": "Oslo"}))])
    expr = compile_filter("city:Oslo", {"city": "string"})
    assert [hit.face_id for hit in search(index, unit(0), expr=expr)] == ["oslo"]


def test_get_vectors_returns_stored_vectors(index: VectorIndex) -> None:
    stored = np.arange(DIM, dtype=np.float32) / 10
    index.upsert(MODEL, [record("face", stored), record("other", unit(1))])
    vectors = index.get_vectors(MODEL, ["face", "missing"])
    assert set(vectors) == {"face"}
    np.testing.assert_allclose(vectors["face"], stored, rtol=1e-6)
    assert index.get_vectors("no-such-model", ["face"]) == {}


def test_iter_face_ids_in_batches_and_by_age(index: VectorIndex) -> None:
    ids = [f"face-{i:02d}" for i in range(25)]
    index.upsert(MODEL, [record(face_id, unit(i % DIM, 1.0 + i)) for i, face_id in enumerate(ids)])
    batches = list(index.iter_face_ids(MODEL, batch_size=10))
    assert all(len(batch) <= 10 for batch in batches)
    assert sorted(face_id for batch in batches for face_id in batch) == ids
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert list(index.iter_face_ids(MODEL, written_before=an_hour_ago)) == []
    assert list(index.iter_face_ids("no-such-model")) == []


def test_two_model_ids_get_two_collections(index: VectorIndex) -> None:
    index.upsert("model-a", [record("shared-face", unit(0))])
    index.upsert("model-b", [record("shared-face", np.ones(3, dtype=np.float32))])  # its own dimension
    assert sorted(index.collections()) == ["model-a", "model-b"]
    assert collection_name(index.prefix, "model-a") != collection_name(index.prefix, "model-b")
    assert index.search("model-b", [np.ones(3)], 5, P1, SET, strong=True)[0][0].face_id == "shared-face"
    index.delete("model-a", ["shared-face"])
    assert index.count("model-a") == 0 and index.count("model-b") == 1
    with pytest.raises(ValueError, match="dimensions"):
        index.search("model-a", [np.ones(3)], 5, P1, SET)


def test_bounded_search_sees_writes_shortly_after(index: VectorIndex) -> None:
    index.upsert(MODEL, [record("face", unit(0))])
    deadline = time.monotonic() + 5
    while not search(index, unit(0), strong=False):
        assert time.monotonic() < deadline, "a Bounded search never saw the write"
        time.sleep(0.1)


def test_a_search_given_a_write_timestamp_sees_that_write(
    index: VectorIndex, request: pytest.FixtureRequest
) -> None:
    """Read-your-writes without a Strong read: the search asks the index to be as current as
    the upsert's own timestamp (infra.vector_index.freshness), right after the write."""
    first = index.upsert(MODEL, [record("first", unit(0))])
    second = index.upsert(MODEL, [record("second", unit(1))])
    if request.node.callspec.params["index"] == "lite":
        # milvus-lite reports no timestamps: its searches after a write stay Strong (cheap there).
        assert first == second == 0
    else:
        assert 0 < first < second, "the index's timestamps of two writes, in order"
    assert [hit.face_id for hit in search(index, unit(1), top_k=1, written_ts=second)] == ["second"]
    assert index.upsert(MODEL, []) == 0  # nothing written, no timestamp


def test_bad_records_are_refused(index: VectorIndex) -> None:
    with pytest.raises(ValueError):
        index.upsert(MODEL, [record("nan", np.full(DIM, np.nan, dtype=np.float32))])
    with pytest.raises(ValueError):
        index.upsert(MODEL, [record("line\nbreak", unit(0))])
    with pytest.raises(ValueError):
        index.upsert(MODEL, [record("a", unit(0)), record("b", np.ones(DIM + 1, dtype=np.float32))])


def test_unreachable_store_is_a_transient_error() -> None:
    with pytest.raises(TransientInfraError):
        VectorIndex("http://127.0.0.1:9", timeout_seconds=1)


def test_stopped_embedded_server_is_a_transient_error(tmp_path: Path) -> None:
    uri, stop = start_embedded_milvus(tmp_path / "m.db")
    index = VectorIndex(uri, collection_prefix="gone", timeout_seconds=1)
    try:
        index.upsert(MODEL, [record("face", unit(0))])
        stop()
        with pytest.raises(TransientInfraError):
            index.search(MODEL, [unit(0)], 1, P1, SET, strong=True)
    finally:
        index.close()


def test_a_collection_the_server_no_longer_has_loaded_is_transient_then_reloaded(server_uri: str) -> None:
    """What a restarted server answers until it has reloaded: "collection not loaded" (code
    101) is a TransientInfraError (503, retried), never a 500, and the index loads it again.
    (milvus-lite keeps every collection loaded, so this is a server-only case.)"""
    from pymilvus import MilvusClient

    with VectorIndex(server_uri, collection_prefix=f"t{uuid.uuid4().hex[:12]}") as index:
        try:
            index.upsert(MODEL, [record("face", unit(0))])
            assert [hit.face_id for hit in search(index, unit(0))] == ["face"]
            other_client = MilvusClient(uri=server_uri)
            other_client.release_collection(collection_name(index.prefix, MODEL))
            other_client.close()
            with pytest.raises(TransientInfraError, match="not loaded"):
                search(index, unit(0))
            assert [hit.face_id for hit in search(index, unit(0))] == ["face"]
        finally:
            index.drop_collection(MODEL)


def test_a_file_path_opens_milvus_lite_in_this_process(tmp_path: Path) -> None:
    """The settings' default URI is a file path (single-process use); its folder may not exist yet."""
    with VectorIndex(str(tmp_path / "not-yet" / "vectors.db"), collection_prefix="local") as index:
        index.upsert(MODEL, [record("face", unit(0))])
        assert [hit.face_id for hit in search(index, unit(0))] == ["face"]
