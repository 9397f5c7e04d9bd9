"""face-sets: create with a typed schema, list, get, delete with everything in it, limits."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
from pathlib import Path

import pytest

from tests.api.conftest import ApiStack, error_of, unique
from tests.api.photos import GUIDO, OBAMA_SMALL, WOZNIAK
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]

SCHEMA = {"timestamp": {"type": "long"}, "id": {"type": "string"}, "number": {"type": "integer"}}


def test_create_get_and_list_follow_the_seed(client: ProjectClient) -> None:
    name = unique()
    created = client.create_face_set(name, face_set_capacity=30000, external_fields=SCHEMA)["face_set_info"]
    assert created["face_set_name"] == name
    assert created["face_number"] == 0
    assert created["face_set_capacity"] == 30000
    assert created["external_fields"] == SCHEMA
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", created["create_date"])
    assert created["face_set_id"]

    assert client.ok("GET", f"/face-sets/{name}")["face_set_info"] == created
    listed = client.ok("GET", "/face-sets")["face_sets_info"]
    assert created in listed


def test_default_capacity_comes_from_settings(api: ApiStack, client: ProjectClient) -> None:
    info = client.create_face_set(unique())["face_set_info"]
    assert info["face_set_capacity"] == api.settings.api.default_face_set_capacity
    assert info["external_fields"] == {}


def test_create_refuses_invalid_requests(api: ApiStack, client: ProjectClient) -> None:
    name = unique()
    client.create_face_set(name)
    error_of(client.call("POST", "/face-sets", json={"face_set_name": name}), 400, "FRS.0201")
    error_of(client.call("POST", "/face-sets", json={}), 400, "FRS.0100")
    error_of(client.call("POST", "/face-sets", json={"face_set_name": "bad name!"}), 400, "FRS.0100")
    error_of(client.call("POST", "/face-sets", json={"face_set_name": unique(), "face_set_capacity": 0}), 400, "FRS.0100")
    too_big = api.settings.api.max_face_set_capacity + 1
    error_of(client.call("POST", "/face-sets", json={"face_set_name": unique(), "face_set_capacity": too_big}), 400, "FRS.0100")
    for fields, code in (
        ({"vector": {"type": "string"}}, "FRS.0121"),  # reserved by the seed
        ({"external_image_id": {"type": "string"}}, "FRS.0121"),
        ({"x" * 37: {"type": "string"}}, "FRS.0121"),  # keys are 1-36 characters
        ({"ok": {"type": "uuid"}}, "FRS.0100"),  # not a field type
    ):
        response = client.call("POST", "/face-sets", json={"face_set_name": unique(), "external_fields": fields})
        error_of(response, 400, code)
    error_of(client.call("GET", "/face-sets/no_such_set"), 404, "FRS.0210")


def test_the_number_of_face_sets_is_a_setting(api: ApiStack) -> None:
    from api.app import create_app

    limited = api.settings.model_copy(
        update={"api": api.settings.api.model_copy(update={"max_face_sets_per_project": 2})}
    )
    client = api.new_client(create_app(limited))
    client.create_face_set(unique())
    client.create_face_set(unique())
    error_of(client.call("POST", "/face-sets", json={"face_set_name": unique()}), 400, "FRS.0202")


def test_capacity_is_enforced(client: ProjectClient) -> None:
    name = unique()
    client.create_face_set(name, face_set_capacity=1)
    assert client.add_face(name, WOZNIAK).status_code == 200
    error_of(client.add_face(name, GUIDO), 400, "FRS.0203")
    assert client.ok("GET", f"/face-sets/{name}")["face_set_info"]["face_number"] == 1


def test_delete_removes_the_set_its_faces_images_and_vectors(api: ApiStack, client: ProjectClient) -> None:
    name = unique()
    client.create_face_set(name)
    photo = _unique_copy(OBAMA_SMALL)  # an image no other test stores (objects are shared by content)
    image_key = f"images/{hashlib.sha256(photo).hexdigest()}"
    added = client.ok("POST", f"/face-sets/{name}/faces", json={"image_base64": base64.b64encode(photo).decode()})
    face_id = added["faces"][0]["face_id"]
    store = api.store()
    assert store.exists(image_key)
    deleted = client.ok("DELETE", f"/face-sets/{name}")
    assert deleted == {"face_set_name": name, "deleted_faces": 1}
    assert not store.exists(image_key)
    error_of(client.call("GET", f"/face-sets/{name}"), 404, "FRS.0210")
    error_of(client.call("GET", f"/face-sets/{name}/faces", query_string={"face_id": face_id}), 404, "FRS.0210")
    assert name not in [info["face_set_name"] for info in client.ok("GET", "/face-sets")["face_sets_info"]]
    error_of(client.call("DELETE", f"/face-sets/{name}"), 404, "FRS.0210")

    # A new set with the same name starts empty: no vector of the old one leaks into it.
    client.create_face_set(name)
    assert client.search(name, OBAMA_SMALL)["faces"] == []


def test_delete_async_returns_a_job(client: ProjectClient) -> None:
    name = unique()
    client.create_face_set(name)
    accepted = client.call("DELETE", f"/face-sets/{name}", headers={"Prefer": "respond-async"})
    assert accepted.status_code == 202
    job = client.wait_job(accepted.get_json()["job_id"])
    assert job["status"] == "succeeded" and job["kind"] == "delete_face_set"
    error_of(client.call("GET", f"/face-sets/{name}"), 404, "FRS.0210")


def test_a_queued_face_set_delete_hides_the_set_at_once(tmp_path: Path) -> None:
    """No worker runs the job here, so what the client sees is the API's own doing."""
    from api.app import create_app
    from tests.api.conftest import new_project
    from tests.support.stack import start_stack

    with start_stack(tmp_path, workers=0) as stack:
        client = ProjectClient(create_app(stack.settings).test_client(), *new_project(stack.settings, "deleting"))
        name = unique()
        client.create_face_set(name)

        accepted = client.call("DELETE", f"/face-sets/{name}", headers={"Prefer": "respond-async"})

        assert accepted.status_code == 202
        error_of(client.call("GET", f"/face-sets/{name}"), 404, "FRS.0210")
        assert name not in {entry["face_set_name"] for entry in client.ok("GET", "/face-sets")["face_sets_info"]}
        refused = error_of(client.call("POST", "/face-sets", json={"face_set_name": name}), 400, "FRS.0201")
        assert "being deleted" in refused["error_msg"]
        again = client.call("DELETE", f"/face-sets/{name}", headers={"Prefer": "respond-async"})
        assert again.status_code == 202  # a delete whose job failed can be sent again


def _unique_copy(photo: Path) -> bytes:
    from PIL import Image

    with Image.open(photo) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=95, comment=uuid.uuid4().bytes)
        return buffer.getvalue()
