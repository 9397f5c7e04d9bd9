"""A fresh server collection enrolled into by several workers at once (the flaky
bench.api_load run: every search of the split layout's new workers answered 500).

A worker that loaded the collection while another was still adding its indexes left it in
a state where Milvus refuses every later load ("can't change the index for loaded
collection"), so every process started afterwards failed its searches. Regression: indexes
are complete before any load, and a collection already left so is released and reloaded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from infra.errors import TransientInfraError
from infra.vector_index import VectorRecord, collection_name
from infra.vector_index.index import VectorIndex
from tests.support.milvus import milvus_server

pytestmark = [pytest.mark.integration]

MODEL = "race-model-v1"
DIM = 16


@pytest.fixture(scope="module")
def server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with milvus_server(tmp_path_factory.mktemp("milvus-first-load")) as uri:
        yield uri


def record(number: int) -> VectorRecord:
    vector = np.random.default_rng(number).random(DIM).astype(np.float32)
    return VectorRecord(face_id=f"face-{number}", vector=vector, project_id="p", face_set_id="s")


def upsert_until_done(uri: str, prefix: str, number: int, failures: list[BaseException]) -> None:
    with VectorIndex(uri, collection_prefix=prefix) as index:
        for _ in range(10):
            try:
                index.upsert(MODEL, [record(number)])
                return
            except TransientInfraError:  # a slow server; a worker retries these too
                continue
            except BaseException as error:  # noqa: BLE001 - reported by the test
                failures.append(error)
                return


def fresh_search(uri: str, prefix: str) -> int:
    with VectorIndex(uri, collection_prefix=prefix) as index:
        hits = index.search(MODEL, [np.ones(DIM)], top_k=10, project_id="p", face_set_id="s", strong=True)
        return len(hits[0])


@pytest.mark.parametrize("round_number", range(4))
def test_workers_enrolling_the_first_faces_at_once_leave_a_collection_any_process_can_search(
    server_uri: str, round_number: int
) -> None:
    prefix = f"race{uuid.uuid4().hex[:10]}"
    failures: list[BaseException] = []
    workers = [threading.Thread(target=upsert_until_done, args=(server_uri, prefix, n, failures)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert fresh_search(server_uri, prefix) == 3  # a process started afterwards (a new worker)
    with VectorIndex(server_uri, collection_prefix=prefix) as index:
        assert len(index._client.list_indexes(collection_name(prefix, MODEL))) == 13


def test_a_collection_loaded_before_its_indexes_were_complete_is_reloaded(server_uri: str) -> None:
    """The state the race left behind in deployments before the fix."""
    prefix = f"broken{uuid.uuid4().hex[:10]}"
    with VectorIndex(server_uri, collection_prefix=prefix) as index:
        index.upsert(MODEL, [record(1)])
        name = collection_name(prefix, MODEL)
        client = index._client
        client.release_collection(name)
        for column in [n for n in client.list_indexes(name) if n != "vector"]:
            client.drop_index(name, column)
        client.load_collection(name)  # loaded with the vector index only...
        client.create_index(name, index.catalog.index_params(only={"filter_s0", "filter_n0"}))  # ...then changed
        with pytest.raises(Exception, match="can't change the index for loaded collection"):
            client.load_collection(name)
    assert fresh_search(server_uri, prefix) == 1
