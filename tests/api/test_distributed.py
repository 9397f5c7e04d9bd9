"""The API on the distributed stores: PostgreSQL, RabbitMQ, an S3 server (moto) and a Milvus
server, with one real worker. The same code as the embedded tests; what differs is what
these stores do differently: JSONB fields, the broker, S3 keys for image_url and prefix
listing, and a vector index whose reads see a write only when asked to (consistency)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.context import CONTEXT_KEY
from infra.db import Database
from infra.db.repositories import FaceSetRepo
from infra.object_store import DEFAULT_PREFIX
from infra.settings import INLINE_PROBE_BYTES_AMQP, BrokerSettings, DatabaseSettings, VectorStoreSettings
from tests.api.conftest import API_JOBS, ApiStack, api_stack, error_of, new_project, unique
from tests.api.photos import GUIDO, OBAMA, OBAMA_240, OBAMA_SMALL, WOZNIAK, b64
from tests.conftest import S3Server
from tests.support.photos import FACES
from tests.support.stack import start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model]


@pytest.fixture(scope="module")
def distributed(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    rabbitmq_url: str,
    s3_server: S3Server,
    milvus_server_uri: str,
) -> Iterator[ApiStack]:
    from api.app import create_app

    home: Path = tmp_path_factory.mktemp("api-distributed")
    overrides = {
        "jobs": API_JOBS,
        "database": DatabaseSettings(url=postgres_url),
        "broker": BrokerSettings(url=rabbitmq_url),
        "object_store": s3_server.settings(),
        "vector_store": VectorStoreSettings(uri=milvus_server_uri, collection_prefix=unique("api")),
    }
    with start_stack(home, workers=1, **overrides) as stack:
        app = create_app(stack.settings)
        first = new_project(stack.settings, "api-distributed")
        second = new_project(stack.settings, "api-distributed-other")
        yield api_stack(stack, app, first, second)


def test_readyz_sees_postgres_rabbitmq_and_s3(distributed: ApiStack) -> None:
    ready = distributed.client.http.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert set(ready.get_json()["checks"].values()) == {"ok"}


def test_enroll_search_update_and_delete_on_the_distributed_stores(distributed: ApiStack) -> None:
    client, other = distributed.client, distributed.other
    store, bucket = distributed.store(), distributed.settings.object_store.bucket
    name = unique()
    client.create_face_set(name, external_fields={"team": {"type": "string"}, "year": {"type": "integer"}})

    upload = store.put(OBAMA.read_bytes(), "image/jpeg", prefix=f"projects/{client.project_id}/uploads")
    by_url = client.ok(
        "POST", f"/face-sets/{name}/faces",
        json={"image_url": f"/{bucket}/{upload}", "external_fields": {"team": "a", "year": 2008}, "user_id": "obama"},
    )
    obama = by_url["faces"][0]["face_id"]
    guido = client.add_face(name, GUIDO, external_fields={"team": "b", "year": 1991}).get_json()["faces"][0]["face_id"]

    hits = client.search(name, OBAMA_SMALL, filter="year:[2000 TO *]")["faces"]
    assert [hit["face_id"] for hit in hits] == [obama]
    assert hits[0]["external_fields"] == {"team": "a", "year": 2008}
    assert [hit["face_id"] for hit in client.search(name, face_id=guido, filter='team:"b"')["faces"]] == [guido]

    client.ok("PUT", f"/face-sets/{name}/faces", json={"face_id": guido, "external_fields": {"team": "a", "year": 1991}})
    assert {hit["face_id"] for hit in client.search(name, face_id=guido, filter="team:a")["faces"]} == {obama, guido}

    # Another project sees nothing of it, on any path.
    error_of(other.call("GET", f"/face-sets/{name}"), 404, "FRS.0210")
    error_of(other.call("POST", "/face-detect", json={"image_url": f"/{bucket}/{upload}"}), 400, "FRS.0105")
    as_other = {"X-Auth-Token": other.api_key}
    error_of(client.http.get(f"/v1/{client.project_id}/face-sets/{name}", headers=as_other), 404, "FRS.0200")

    assert client.ok("DELETE", f"/face-sets/{name}/faces", query_string={"filter": "year:1991"})["face_number"] == 1
    assert client.ok("DELETE", f"/face-sets/{name}") == {"face_set_name": name, "deleted_faces": 1}


def test_a_face_is_found_by_a_search_sent_right_after_its_enrollment(distributed: ApiStack) -> None:
    """Read-your-writes on a Milvus server: the search reads as current as the enrollment's
    own vector write (the timestamp the face set keeps), not as current as Milvus's clock."""
    client = distributed.client
    name = unique()
    client.create_face_set(name)
    enrolled = []
    for photo in (OBAMA, GUIDO, WOZNIAK):
        enrolled.append(client.add_face(name, photo).get_json()["faces"][0]["face_id"])
        hits = client.search(name, photo)["faces"]  # sent as soon as the enrollment answered
        assert hits and hits[0]["face_id"] == enrolled[-1]
    database = Database(distributed.settings.database.url, pool_size=1)
    try:
        face_set = FaceSetRepo(database).get_by_name(client.project_id, name)
    finally:
        database.dispose()
    assert face_set is not None and face_set.vector_written_ts, "the face set keeps its vectors' write timestamp"


def test_a_camera_photo_rides_to_the_worker_in_its_task_message_on_rabbitmq(
    distributed: ApiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On RabbitMQ the default limit sends a 2.4 MB sync probe in its task message: the API
    writes nothing to S3, and the worker answers what it answers for the same photo stored."""
    client = distributed.client
    assert distributed.settings.api.inline_probe_max_bytes is None
    assert distributed.settings.inline_probe_limit() == INLINE_PROBE_BYTES_AMQP
    store = distributed.app.extensions[CONTEXT_KEY].store
    written: list[str] = []
    put = store.put

    def recording_put(data: bytes, content_type: str, prefix: str = DEFAULT_PREFIX) -> Any:
        written.append(prefix)
        return put(data, content_type, prefix)

    monkeypatch.setattr(store, "put", recording_put)
    photo = (FACES / "face_recognition-steve_wozniak" / "steve_wozniak1.jpg").read_bytes()
    assert 2_000_000 < len(photo) <= INLINE_PROBE_BYTES_AMQP

    def detect(**headers: str) -> Any:
        return client.call(
            "POST", "/face-detect", data={"image_file": (io.BytesIO(photo), "woz.jpg")},
            content_type="multipart/form-data", headers=headers,
        )

    inline = detect()
    assert inline.status_code == 200, inline.get_json()
    assert written == [], "a sync probe under the limit is never written to the object store"
    accepted = detect(Prefer="respond-async")  # a 202's job may be re-sent from its row: stored
    assert accepted.status_code == 202, accepted.get_json()
    stored = client.wait_job(accepted.get_json()["job_id"])
    assert len(written) == 1
    assert inline.get_json()["faces"] and inline.get_json()["faces"] == stored["result"]["faces"]


def test_batch_by_s3_prefix_and_idempotent_retry(distributed: ApiStack) -> None:
    client, store = distributed.client, distributed.store()
    name = unique("s3batch")
    client.create_face_set(name)
    prefix = f"projects/{client.project_id}/batch-{name}"
    for photo in (WOZNIAK, GUIDO, OBAMA_240):
        store.put(photo.read_bytes(), "image/jpeg", prefix=prefix)
    headers = {"Idempotency-Key": f"s3-{name}"}
    first = client.call("POST", f"/face-sets/{name}/faces/batch", json={"prefix": prefix}, headers=headers)
    retry = client.call("POST", f"/face-sets/{name}/faces/batch", json={"prefix": prefix}, headers=headers)
    assert first.status_code == retry.status_code == 202, retry.get_json()
    assert first.get_json()["job_id"] == retry.get_json()["job_id"]
    job = client.wait_job(first.get_json()["job_id"], timeout=180)
    assert job["status"] == "succeeded", job
    assert job["result"]["total"] == 3 and job["result"]["added"] == 3
    assert len(client.face_ids(name)) == 3

    detect = {"image_base64": b64(OBAMA_SMALL)}
    accepted = client.call("POST", "/face-detect", json=detect, headers={"Prefer": "respond-async"})
    assert accepted.status_code == 202
    assert len(client.wait_job(accepted.get_json()["job_id"])["result"]["faces"]) == 1


def test_reindex_on_the_distributed_stores(distributed: ApiStack) -> None:
    from tests.api.test_reindex import check_reindex

    check_reindex(distributed)
