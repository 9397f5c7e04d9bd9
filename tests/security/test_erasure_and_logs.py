"""Right to erasure, checked in each store directly, and log hygiene (issue 8, "Security").

Deleting a face removes its row, its vector, its image and its crop; deleting a face set
removes all of them for every face of the set. The stores are read with the infra adapters,
not through the API, so an API that only hides data would fail. Then every log the stack
wrote (worker logs and the API's records) is searched for image bytes, embeddings and keys.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from infra.db.models import Face
from infra.object_store import object_store_from_settings
from infra.settings import Settings
from infra.vector_index import VectorIndex
from tests.support.client import ProjectClient, project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.stack import FAST_JOBS, Stack, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, ProjectClient]]:
    home = tmp_path_factory.mktemp("erasure")
    with start_stack(home, workers=1, jobs=FAST_JOBS) as stack:
        client = project_client(stack.settings, "erasure")
        yield stack, client


def face_rows(settings: Settings, face_ids: list[str]) -> list[dict[str, Any]]:
    engine = sa.create_engine(settings.database.url)
    try:
        with engine.connect() as connection:
            table = Face.__table__
            rows = connection.execute(sa.select(table).where(table.c.face_id.in_(face_ids))).mappings().all()
            return [dict(row) for row in rows]
    finally:
        engine.dispose()


def vectors(settings: Settings, model_id: str, face_ids: list[str]) -> dict[str, Any]:
    index = VectorIndex.from_settings(settings.vector_store)
    try:
        return index.get_vectors(model_id, face_ids)
    finally:
        index.close()


def stored_keys(settings: Settings, rows: list[dict[str, Any]]) -> list[str]:
    store = object_store_from_settings(settings)
    keys = [row["image_key"] for row in rows] + [row["crop_key"] for row in rows if row["crop_key"]]
    return [key for key in keys if store.exists(key)]


def enroll(client: ProjectClient, face_set: str, photos: list[Path]) -> list[str]:
    face_ids = []
    for photo in photos:
        response = client.add_face(face_set, photo)
        assert response.status_code == 200, response.get_json()
        face_ids += [face["face_id"] for face in response.get_json()["faces"]]
    return face_ids


def test_deleting_faces_and_face_sets_erases_rows_vectors_images_and_crops(
    service: tuple[Stack, ProjectClient], caplog: pytest.LogCaptureFixture
) -> None:
    stack, client = service
    settings = stack.settings
    caplog.set_level(logging.DEBUG)
    first, second = single_face_identities()[:2]
    client.create_face_set("erase-one")
    client.create_face_set("erase-all")
    kept = enroll(client, "erase-one", identity_photos(first)[:2])
    doomed_set = enroll(client, "erase-all", identity_photos(second)[:2])
    rows = face_rows(settings, kept + doomed_set)
    assert len(rows) == 4
    model_id = rows[0]["model_id"]
    assert len(vectors(settings, model_id, kept + doomed_set)) == 4
    assert len(stored_keys(settings, rows)) >= len(rows), "every face has its image stored"
    assert any(row["crop_key"] for row in rows), "the test needs crops to check their erasure"

    # One face: its row, vector, image and crop go; the other face of the set stays whole.
    victim, survivor = kept
    response = client.call("DELETE", "/face-sets/erase-one/faces", query_string={"face_id": victim})
    assert response.status_code == 200 and response.get_json()["face_number"] == 1, response.get_json()
    victim_row = [row for row in rows if row["face_id"] == victim]
    survivor_row = [row for row in rows if row["face_id"] == survivor]
    assert face_rows(settings, [victim]) == []
    assert vectors(settings, model_id, [victim]) == {}
    assert stored_keys(settings, victim_row) == []
    assert len(face_rows(settings, [survivor])) == 1
    assert survivor in vectors(settings, model_id, [survivor])
    assert len(stored_keys(settings, survivor_row)) == 2, "the other face keeps its image and crop"

    # A whole face set: every face's row, vector, image and crop go.
    doomed_rows = [row for row in rows if row["face_id"] in doomed_set]
    response = client.call("DELETE", "/face-sets/erase-all")
    assert response.status_code == 200, response.get_json()
    job_or_body = response.get_json()
    if "job_id" in job_or_body and "deleted_faces" not in job_or_body:
        assert client.wait_job(job_or_body["job_id"])["status"] == "succeeded"
    assert face_rows(settings, doomed_set) == []
    assert vectors(settings, model_id, doomed_set) == {}
    assert stored_keys(settings, doomed_rows) == []
    assert client.call("GET", "/face-sets/erase-all").status_code == 404

    # Logs: no API key, no image bytes, no embedding, in the API's records or the worker's.
    surviving_vector = vectors(settings, model_id, [survivor])[survivor]
    logs = "\n".join(record.getMessage() for record in caplog.records)
    logs += "\n".join(path.read_text(errors="replace") for path in stack.home.glob("*.log"))
    assert logs.strip(), "the stack wrote no logs at all: the check below would prove nothing"
    assert_no_secrets(
        logs, client.api_key, identity_photos(first) + identity_photos(second)[:2], surviving_vector
    )


def assert_no_secrets(logs: str, api_key: str, photos: list[Path], embedding: Any) -> None:
    secret = api_key.split(".", 1)[-1]
    assert api_key not in logs and secret not in logs, "an API key reached the logs"
    for photo in photos:
        head = photo.read_bytes()[200:260]
        assert base64.b64encode(head)[8:56].decode() not in logs, (
            f"base64 image bytes of {photo.name} in the logs"
        )
        assert head.hex()[8:72] not in logs, f"hex image bytes of {photo.name} in the logs"
    # An embedding printed as text: a run of many floats, or any of the stored components.
    assert not re.search(r"(-?\d+\.\d{3,}(e-?\d+)?[,\s]+){32,}", logs), "a long float vector in the logs"
    components = [f"{float(value):.6f}" for value in list(embedding)[:8] if abs(float(value)) > 1e-3]
    leaked = [text for text in components if text in logs]
    assert len(leaked) < 3, f"embedding components in the logs: {leaked}"
