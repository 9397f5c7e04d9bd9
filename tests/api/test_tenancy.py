"""Authentication, cross-project isolation (404, never 403), rate limits and size limits."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ApiStack, error_of, unique
from tests.api.photos import GUIDO, OBAMA, OBAMA_SMALL, b64
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]


def _settings_with(api: ApiStack, section: str, **changes: Any) -> Any:
    current = getattr(api.settings, section)
    return api.settings.model_copy(update={section: current.model_copy(update=changes)})


def test_missing_or_wrong_key_is_401(api: ApiStack, client: ProjectClient) -> None:
    http = client.http
    path = f"/v1/{client.project_id}/face-sets"
    error_of(http.get(path), 401, "FRS.0002")
    error_of(http.get(path, headers={"X-Auth-Token": "not-a-key"}), 401, "FRS.0002")
    forged = client.api_key[:-4] + ("AAAA" if not client.api_key.endswith("AAAA") else "BBBB")
    error_of(http.get(path, headers={"X-Auth-Token": forged}), 401, "FRS.0002")
    error_of(http.get(path, headers={"X-Auth-Token": "x" * 600}), 401, "FRS.0002")
    assert http.get(path, headers={"X-Auth-Token": client.api_key}).status_code == 200


def test_another_projects_resources_answer_404(api: ApiStack, client: ProjectClient) -> None:
    other = api.other
    name = unique("private")
    client.create_face_set(name)
    face_id = client.add_face(name, GUIDO).get_json()["faces"][0]["face_id"]
    job = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL)}, headers={"Prefer": "respond-async"})
    job_id = job.get_json()["job_id"]

    # The other project's key on this project's paths: the project "does not exist".
    as_other = {"X-Auth-Token": other.api_key}
    for method, path in (
        ("GET", "/face-sets"),
        ("GET", f"/face-sets/{name}"),
        ("GET", f"/face-sets/{name}/faces"),
        ("DELETE", f"/face-sets/{name}"),
        ("GET", f"/jobs/{job_id}"),
    ):
        response = client.http.open(f"/v1/{client.project_id}{path}", method=method, headers=as_other)
        error_of(response, 404, "FRS.0200")
    search = client.http.post(
        f"/v1/{client.project_id}/face-sets/{name}/search", json={"face_id": face_id}, headers=as_other
    )
    error_of(search, 404, "FRS.0200")

    # Its own paths naming this project's ids find nothing either.
    error_of(other.call("GET", f"/face-sets/{name}"), 404, "FRS.0210")
    error_of(other.call("GET", f"/jobs/{job_id}"), 404, "FRS.0212")
    other.create_face_set(name)  # names are per project
    error_of(other.call("GET", f"/face-sets/{name}/faces", query_string={"face_id": face_id}), 404, "FRS.0211")
    error_of(other.call("POST", f"/face-sets/{name}/search", json={"face_id": face_id}), 404, "FRS.0211")
    error_of(other.call("DELETE", f"/face-sets/{name}/faces", query_string={"face_id": face_id}), 404, "FRS.0211")
    error_of(
        other.call("PUT", f"/face-sets/{name}/faces", json={"face_id": face_id, "user_id": "stolen"}), 404, "FRS.0211"
    )
    assert other.search(name, GUIDO)["faces"] == []  # the vectors are partitioned by project too

    # Nothing of the first project changed.
    assert client.face_ids(name) == [face_id]
    assert client.wait_job(job_id)["status"] == "succeeded"


def test_uploads_of_another_project_read_as_missing(api: ApiStack, client: ProjectClient) -> None:
    store, bucket = api.store(), api.settings.object_store.bucket
    mine = store.put(OBAMA.read_bytes(), "image/jpeg", prefix=f"projects/{client.project_id}/uploads")
    theirs = store.put(OBAMA.read_bytes(), "image/jpeg", prefix=f"projects/{api.other.project_id}/uploads")
    assert len(client.ok("POST", "/face-detect", json={"image_url": f"/{bucket}/{mine}"})["faces"]) == 1
    error_of(client.call("POST", "/face-detect", json={"image_url": f"/{bucket}/{theirs}"}), 400, "FRS.0105")
    error_of(client.call("POST", "/face-detect", json={"image_url": f"/{bucket}/manifests/x"}), 400, "FRS.0105")


def test_rate_limit_per_key_answers_429(api: ApiStack) -> None:
    from api.app import create_app

    app = create_app(_settings_with(api, "api", rate_limit_per_minute=3))
    limited, neighbour = api.new_client(app), api.new_client(app)
    for _ in range(3):
        assert limited.call("GET", "/face-sets").status_code == 200
    response = limited.call("GET", "/face-sets")
    error_of(response, 429, "FRS.0302")
    assert int(response.headers["Retry-After"]) > 0
    assert neighbour.call("GET", "/face-sets").status_code == 200  # buckets are per key
    assert limited.http.get("/healthz").status_code == 200  # operations are never limited
    assert limited.http.get("/v1/openapi.json").status_code == 200


def test_oversize_bodies_and_images(api: ApiStack) -> None:
    from api.app import create_app

    small_body = create_app(_settings_with(api, "api", max_request_bytes=4096))
    client = api.new_client(small_body)
    big = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA)})
    error_of(big, 413, "FRS.0301")

    small_images = create_app(_settings_with(api, "images", max_bytes=2048))
    client = api.new_client(small_images)
    error_of(client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA)}), 400, "FRS.0106")
    multipart = client.call(
        "POST", "/face-detect", data={"image_file": (OBAMA.open("rb"), "big.jpg")}, content_type="multipart/form-data"
    )
    error_of(multipart, 400, "FRS.0106")
