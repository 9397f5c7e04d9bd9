"""1:N search: probes (image sources, face_id), threshold, top_n, filters, sorts,
return_fields, all_faces, persons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.api.conftest import ApiStack, error_of, unique
from tests.api.photos import GUIDO, KIT, NO_FACE, OBAMA, OBAMA_240, OBAMA_SMALL, TWO_PEOPLE, WOZNIAK, b64
from tests.support.client import ProjectClient
from tests.support.photos import FACES, misc

pytestmark = [pytest.mark.integration, pytest.mark.model]

SCHEMA = {"timestamp": {"type": "long"}, "id": {"type": "string"}, "score": {"type": "double"}}
OBAMA_AND_BIDEN = misc("multi_face", "face_recognition__obama_and_biden.jpg")


@dataclass
class Gallery:
    name: str
    obama: list[str]  # face ids, in enrollment order
    guido: str
    wozniak: str


@pytest.fixture(scope="module")
def gallery(api: ApiStack) -> Iterator[Gallery]:
    """Three Obama photos (one person), Guido and Wozniak, each with typed fields."""
    client = api.client
    name = unique("gallery")
    client.create_face_set(name, external_fields=SCHEMA)

    def add(photo, eid, timestamp, ident, score, user_id=None):  # type: ignore[no-untyped-def]
        fields = {"external_image_id": eid, "external_fields": {"timestamp": timestamp, "id": ident, "score": score}}
        if user_id:
            fields["user_id"] = user_id
        response = client.add_face(name, photo, **fields)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["faces"][0]["face_id"]

    obama = [
        add(OBAMA, "obama-480", 30, "home", 0.5, "obama"),
        add(OBAMA_SMALL, "obama-small", 10, "work", 0.9, "obama"),
        add(OBAMA_240, "obama-240", 20, "home", 0.1, "obama"),
    ]
    guido = add(GUIDO, "guido", 40, "home", 0.3, "guido")
    wozniak = add(WOZNIAK, "woz", 50, "work", 0.7)
    yield Gallery(name, obama, guido, wozniak)
    client.call("DELETE", f"/face-sets/{name}")


def _ids(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [face["face_id"] for face in body["faces"]]


def test_search_by_image_ranks_the_same_person_first(client: ProjectClient, gallery: Gallery) -> None:
    body = client.search(gallery.name, FACES / "face_recognition-obama" / "obama2.jpg")
    assert set(_ids(body)[:3]) == set(gallery.obama)
    similarities = [face["similarity"] for face in body["faces"]]
    assert similarities == sorted(similarities, reverse=True)
    assert len(body["faces"]) == 5
    best = body["faces"][0]
    assert {"face_id", "external_image_id", "external_fields", "bounding_box", "similarity", "distance"} <= set(best)
    assert best["user_id"] == "obama"


def test_search_with_base64_url_and_multipart_agree(api: ApiStack, client: ProjectClient, gallery: Gallery) -> None:
    by_file = client.search(gallery.name, GUIDO, top_n=2)
    by_b64 = client.ok("POST", f"/face-sets/{gallery.name}/search", json={"image_base64": b64(GUIDO), "top_n": 2})
    by_url = client.ok(
        "POST", f"/face-sets/{gallery.name}/search", json={"image_url": api.image_url(GUIDO.read_bytes()), "top_n": 2}
    )
    assert by_file == by_b64 == by_url
    assert _ids(by_file)[0] == gallery.guido and len(by_file["faces"]) == 2


def test_threshold_and_top_n(client: ProjectClient, gallery: Gallery) -> None:
    strict = client.search(gallery.name, GUIDO, threshold=0.9)
    assert all(face["similarity"] >= 0.9 for face in strict["faces"])
    assert _ids(strict) == [gallery.guido]
    assert len(client.search(gallery.name, OBAMA, top_n=1)["faces"]) == 1
    stranger = client.search(gallery.name, KIT, threshold=0.95)
    assert stranger["faces"] == []


def test_search_by_face_id(client: ProjectClient, gallery: Gallery) -> None:
    body = client.search(gallery.name, face_id=gallery.obama[0], top_n=3)
    assert _ids(body)[0] == gallery.obama[0]
    assert body["faces"][0]["similarity"] == pytest.approx(1.0, abs=1e-6)
    assert set(_ids(body)) == set(gallery.obama)
    error_of(client.call("POST", f"/face-sets/{gallery.name}/search", json={"face_id": "missing"}), 404, "FRS.0211")
    both = {"face_id": gallery.guido, "image_base64": b64(GUIDO)}
    error_of(client.call("POST", f"/face-sets/{gallery.name}/search", json=both), 400, "FRS.0102")
    error_of(client.call("POST", f"/face-sets/{gallery.name}/search", json={}), 400, "FRS.0102")


def test_filters_in_the_seed_syntax(client: ProjectClient, gallery: Gallery) -> None:
    def search(filter_text: str) -> set[str]:
        return set(_ids(client.search(gallery.name, face_id=gallery.obama[0], filter=filter_text)))

    obama, guido, woz = gallery.obama, gallery.guido, gallery.wozniak
    assert search("timestamp:10") == {obama[1]}
    assert search('id:"home"') == {obama[0], obama[2], guido}
    assert search("timestamp:[20 TO 40]") == {obama[0], obama[2], guido}
    assert search("timestamp:{20 TO 40}") == {obama[0]}
    assert search("timestamp:[45 TO *]") == {woz}
    assert search("id:work && timestamp:[0 TO 20]") == {obama[1]}
    assert search("timestamp:10 || timestamp:50") == {obama[1], woz}
    assert search("!id:home") == {obama[1], woz}
    assert search("score:[0.5 TO 1.0] && !(id:work && timestamp:50)") == {obama[0], obama[1]}
    assert search('id:"nothing"') == set()
    # Injection attempts are values, never expression text.
    assert search('id:"home\\" || 1==1 || \\""') == set()

    for bad in ("unknown:1", "timestamp:abc", "timestamp:[1 TO", "id:home &&", "((((timestamp:1"):
        response = client.call("POST", f"/face-sets/{gallery.name}/search", json={"face_id": obama[0], "filter": bad})
        error_of(response, 400, "FRS.0120")


def test_sort_and_return_fields(client: ProjectClient, gallery: Gallery) -> None:
    ascending = client.search(gallery.name, face_id=gallery.obama[0], sort=[{"timestamp": "asc"}])
    assert [face["external_fields"]["timestamp"] for face in ascending["faces"]] == [10, 20, 30, 40, 50]
    descending = client.search(gallery.name, face_id=gallery.obama[0], sort=[{"score": "desc"}])
    assert [face["external_fields"]["score"] for face in descending["faces"]] == [0.9, 0.7, 0.5, 0.3, 0.1]
    two_keys = client.search(gallery.name, face_id=gallery.obama[0], sort=[{"id": "asc"}, {"timestamp": "desc"}])
    assert [face["external_image_id"] for face in two_keys["faces"]] == ["guido", "obama-480", "obama-240", "woz", "obama-small"]

    only = client.search(gallery.name, face_id=gallery.obama[0], return_fields=["timestamp", "id"])
    assert all(set(face["external_fields"]) == {"timestamp", "id"} for face in only["faces"])
    # The seed documents return_fields as a String: comma-separated text works too (multipart).
    text = client.search(gallery.name, OBAMA_SMALL, return_fields="score")
    assert all(set(face["external_fields"]) == {"score"} for face in text["faces"])

    path = f"/face-sets/{gallery.name}/search"
    error_of(client.call("POST", path, json={"face_id": gallery.guido, "sort": [{"nope": "asc"}]}), 400, "FRS.0122")
    error_of(client.call("POST", path, json={"face_id": gallery.guido, "sort": [{"id": "up"}]}), 400, "FRS.0100")
    error_of(client.call("POST", path, json={"face_id": gallery.guido, "return_fields": ["nope"]}), 400, "FRS.0122")
    error_of(client.call("POST", path, json={"face_id": gallery.guido, "top_n": 0}), 400, "FRS.0100")
    error_of(client.call("POST", path, json={"face_id": gallery.guido, "threshold": 1.5}), 400, "FRS.0100")


def test_group_by_person_takes_each_persons_best_face(client: ProjectClient, gallery: Gallery) -> None:
    people = client.search(gallery.name, OBAMA_SMALL, group_by="person")
    persons = [face.get("user_id") or face["face_id"] for face in people["faces"]]
    assert len(persons) == len(set(persons)) == 3  # obama, guido, and wozniak (no user_id)
    assert people["faces"][0]["user_id"] == "obama"
    every_face = client.search(gallery.name, OBAMA_SMALL)
    best_obama = max(
        (face for face in every_face["faces"] if face.get("user_id") == "obama"), key=lambda face: face["similarity"]
    )
    assert people["faces"][0]["face_id"] == best_obama["face_id"]


def test_all_faces_labels_every_face_of_a_group_photo(client: ProjectClient, gallery: Gallery) -> None:
    body = client.search(gallery.name, OBAMA_AND_BIDEN, all_faces=True, top_n=1)
    results = body["results"]
    assert len(results) >= 2
    labels = [result["label"] for result in results]
    assert "obama" in labels
    assert labels.count("unknown") == len(labels) - 1  # Biden and anyone else are not enrolled
    for result in results:
        assert set(result["face"]["bounding_box"]) == {"top_left_x", "top_left_y", "width", "height"}
        assert len(result["faces"]) <= 1


def test_probe_without_a_face_and_unknown_set(client: ProjectClient, gallery: Gallery) -> None:
    no_face = client.call("POST", f"/face-sets/{gallery.name}/search", json={"image_base64": b64(NO_FACE)})
    error_of(no_face, 400, "FRS.0501")
    error_of(client.call("POST", "/face-sets/no_such_set/search", json={"face_id": "x"}), 404, "FRS.0210")


def test_async_search_then_poll(client: ProjectClient, gallery: Gallery) -> None:
    accepted = client.call(
        "POST", f"/face-sets/{gallery.name}/search", json={"face_id": gallery.guido, "top_n": 1},
        query_string={"async": "true"},
    )
    assert accepted.status_code == 202
    job = client.wait_job(accepted.get_json()["job_id"])
    assert job["kind"] == "search"
    assert [face["face_id"] for face in job["result"]["faces"]] == [gallery.guido]


def test_empty_face_set_returns_no_hits(client: ProjectClient) -> None:
    name = unique()
    client.create_face_set(name)
    assert client.search(name, TWO_PEOPLE)["faces"] == []


def test_filter_sees_fields_changed_by_an_update(client: ProjectClient) -> None:
    name = unique()
    client.create_face_set(name, external_fields=SCHEMA)
    face_id = client.add_face(name, GUIDO, external_fields={"id": "before"}).get_json()["faces"][0]["face_id"]
    client.ok("PUT", f"/face-sets/{name}/faces", json={"face_id": face_id, "external_fields": {"id": "after"}})
    assert _ids(client.search(name, GUIDO, filter='id:"after"')) == [face_id]
    assert _ids(client.search(name, GUIDO, filter='id:"before"')) == []

    accepted = client.call(
        "PUT", f"/face-sets/{name}/faces", json={"face_id": face_id, "external_fields": {"id": "later"}},
        headers={"Prefer": "respond-async"},
    )
    assert accepted.status_code == 202, accepted.get_json()
    job = client.wait_job(accepted.get_json()["job_id"])
    assert job["kind"] == "update_face" and job["status"] == "succeeded"
    assert _ids(client.search(name, GUIDO, filter='id:"later"')) == [face_id]
