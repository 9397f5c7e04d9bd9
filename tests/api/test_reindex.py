"""Moving a face set to another model: a reindex batch job re-embeds every stored face,
searches keep answering from the old vectors until the atomic switch, faces enrolled during
the job are written with both models, and the old vectors stay until cleanup."""

from __future__ import annotations

import pytest

from infra.vector_index import VectorIndex
from tests.api.conftest import ApiStack, error_of, unique
from tests.support.photos import FACES

pytestmark = [pytest.mark.integration, pytest.mark.model]

PEOPLE = ["jeff", "sundar", "marissa", "elon"]  # 9 photos


def test_reindex_switches_the_model_without_losing_or_doubling_a_face(api: ApiStack) -> None:
    check_reindex(api)


def check_reindex(api: ApiStack) -> None:
    """Also run on the distributed stores (tests/api/test_distributed.py)."""
    client = api.client
    name = unique("reindex")
    client.create_face_set(name, model="dlib-resnet-v1")
    photos = [photo for person in PEOPLE for photo in sorted((FACES / f"deepface-{person}").iterdir())]
    owners: dict[str, str] = {}
    for photo in photos[:-2]:
        body = client.add_face(name, photo, user_id=photo.parent.name).get_json()
        owners.update({face["face_id"]: photo.parent.name for face in body["faces"]})
    error_of(client.call("POST", f"/face-sets/{name}/reindex", json={"model": "dlib-resnet-v1"}), 400, "FRS.0100")
    error_of(client.call("POST", f"/face-sets/{name}/reindex", json={"model": "nope"}), 400, "FRS.0100")

    before = set(owners)
    accepted = client.call("POST", f"/face-sets/{name}/reindex", json={"model": "dlib-resnet-flip-v1"})
    assert accepted.status_code == 202, accepted.get_json()
    info = client.ok("GET", f"/face-sets/{name}")["face_set_info"]
    assert info["reindex_model"] == "dlib-resnet-flip-v1"
    # searches answer throughout; faces enrolled now are written with both models
    during = client.search(name, photos[0], top_n=50)
    assert during["faces"] and during["model_id"] in ("dlib-resnet-v1", "dlib-resnet-flip-v1")
    for photo in photos[-2:]:
        body = client.add_face(name, photo, user_id=photo.parent.name).get_json()
        owners.update({face["face_id"]: photo.parent.name for face in body["faces"]})

    job = client.wait_job(accepted.get_json()["job_id"], timeout=300)
    assert job["status"] == "succeeded", job
    info = client.ok("GET", f"/face-sets/{name}")["face_set_info"]
    assert (info["model"], info["reindex_model"], info["previous_model"]) == (
        "dlib-resnet-flip-v1", None, "dlib-resnet-v1")
    after = client.search(name, photos[0], top_n=50)
    assert after["model_id"] == "dlib-resnet-flip-v1"
    found = [face["face_id"] for face in after["faces"]]
    assert sorted(found) == sorted(owners)  # every face once: none lost, none doubled
    assert after["faces"][0]["distance"] < 1e-4  # the probe's own photo, re-embedded with the flip model

    index = VectorIndex.from_settings(api.settings.vector_store)
    # kept until cleanup (faces enrolled after the switch have only the new model's vector)
    assert set(index.get_vectors("dlib-resnet-v1", list(owners))) >= before
    assert set(index.get_vectors("dlib-resnet-flip-v1", list(owners))) == set(owners)
    cleaned = client.ok("POST", f"/face-sets/{name}/reindex/cleanup")
    assert cleaned["dropped_model"] == "dlib-resnet-v1"
    assert index.get_vectors("dlib-resnet-v1", list(owners)) == {}
    assert client.ok("GET", f"/face-sets/{name}")["face_set_info"]["previous_model"] is None
    assert sorted(f["face_id"] for f in client.search(name, photos[0], top_n=50)["faces"]) == sorted(owners)
