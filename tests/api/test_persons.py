"""Persons: list with face counts, read one, faces?user_id=, erase one in a set or in the
whole project. Erasure is checked in each store directly (SQL, vectors, objects), and an
image shared with another person is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from infra.db.models import Face
from infra.settings import Settings
from infra.vector_index import VectorIndex
from tests.api.conftest import ApiStack, error_of, unique
from tests.api.photos import ALLEN, GUIDO, OBAMA_240, OBAMA_SMALL, WOZNIAK, unique_copy
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]


def face_rows(settings: Settings, face_ids: list[str]) -> list[dict[str, Any]]:
    engine = sa.create_engine(settings.database.url)
    try:
        with engine.connect() as connection:
            table = Face.__table__
            return [dict(row) for row in connection.execute(sa.select(table).where(table.c.face_id.in_(face_ids))).mappings()]
    finally:
        engine.dispose()


def vectors(settings: Settings, model_id: str, face_ids: list[str]) -> dict[str, Any]:
    index = VectorIndex.from_settings(settings.vector_store)
    try:
        return index.get_vectors(model_id, face_ids)
    finally:
        index.close()


def referenced_keys(settings: Settings, keys: set[str]) -> set[str]:
    engine = sa.create_engine(settings.database.url)
    table = Face.__table__
    try:
        with engine.connect() as connection:
            images = connection.execute(sa.select(table.c.image_key).where(table.c.image_key.in_(keys))).scalars()
            crops = connection.execute(sa.select(table.c.crop_key).where(table.c.crop_key.in_(keys))).scalars()
            return set(images) | set(crops)
    finally:
        engine.dispose()


def enroll(client: ProjectClient, face_set: str, photo: Any, user_id: str) -> list[str]:
    response = client.add_face(face_set, photo, user_id=user_id, select="largest")
    assert response.status_code == 200, response.get_json()
    return [face["face_id"] for face in response.get_json()["faces"]]


def test_persons_are_listed_with_counts_and_faces_filter_by_user_id(client: ProjectClient, face_set: str) -> None:
    obama = enroll(client, face_set, OBAMA_SMALL, "obama") + enroll(client, face_set, OBAMA_240, "obama")
    enroll(client, face_set, WOZNIAK, "woz")
    assert client.add_face(face_set, ALLEN).status_code == 200  # no user id: not a person

    listed = client.ok("GET", f"/face-sets/{face_set}/persons")
    assert listed["persons"] == [{"user_id": "obama", "face_count": 2}, {"user_id": "woz", "face_count": 1}]
    assert listed["total"] == 2
    second_page = client.ok("GET", f"/face-sets/{face_set}/persons", query_string={"offset": 1, "limit": 1})
    assert second_page["persons"] == [{"user_id": "woz", "face_count": 1}] and second_page["total"] == 2

    person = client.ok("GET", f"/face-sets/{face_set}/persons/obama")
    assert person["face_count"] == 2 and sorted(face["face_id"] for face in person["faces"]) == sorted(obama)
    assert {face["user_id"] for face in person["faces"]} == {"obama"}

    filtered = client.ok("GET", f"/face-sets/{face_set}/faces", query_string={"user_id": "obama", "limit": 1})
    assert len(filtered["faces"]) == 1 and filtered["faces"][0]["face_id"] in obama and filtered["total"] == 2
    everyone = client.ok("GET", f"/face-sets/{face_set}/faces")
    assert len(everyone["faces"]) == 4

    error_of(client.call("GET", f"/face-sets/{face_set}/persons/nobody"), 404, "FRS.0214")
    error_of(client.call("GET", "/face-sets/no_such_set/persons"), 404, "FRS.0210")
    error_of(client.call("GET", f"/face-sets/{face_set}/persons", query_string={"limit": 0}), 400, "FRS.0100")


def test_erasing_a_person_removes_rows_vectors_images_and_crops_but_keeps_shared_images(
    api: ApiStack, client: ProjectClient, face_set: str, tmp_path: Path
) -> None:
    settings = api.settings
    shared_photo = unique_copy(OBAMA_SMALL, tmp_path)
    doomed = enroll(client, face_set, shared_photo, "leaver") + enroll(client, face_set, unique_copy(WOZNIAK, tmp_path), "leaver")
    # The same photo enrolled for another person: its image object must survive the erasure.
    kept = enroll(client, face_set, shared_photo, "stays")
    rows = face_rows(settings, doomed + kept)
    model_id = rows[0]["model_id"]
    doomed_rows = [row for row in rows if row["face_id"] in doomed]
    store = api.store()
    doomed_keys = {row["image_key"] for row in doomed_rows} | {row["crop_key"] for row in doomed_rows if row["crop_key"]}
    shared_key = next(row["image_key"] for row in rows if row["face_id"] in kept)
    assert shared_key in doomed_keys and all(store.exists(key) for key in doomed_keys)
    assert len(vectors(settings, model_id, doomed)) == 2

    response = client.call("DELETE", f"/face-sets/{face_set}/persons/leaver")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["user_id"] == "leaver" and body["deleted_faces"] == 2
    assert body["verified"] == {
        "faces_remaining": 0,
        "vectors_remaining": 0,
        "objects_remaining": 0,
        "objects_kept_shared": len(doomed_keys & referenced_keys(settings, doomed_keys)),
    }
    assert body["verified"]["objects_kept_shared"] >= 1
    assert face_rows(settings, doomed) == []
    assert vectors(settings, model_id, doomed) == {}
    # Other tests of this shared stack may enroll the same photos: only what no face uses must go.
    unreferenced = doomed_keys - referenced_keys(settings, doomed_keys)
    assert unreferenced and not any(store.exists(key) for key in unreferenced)
    assert store.exists(shared_key), "an image another face uses is kept"
    assert len(vectors(settings, model_id, kept)) == 1
    assert client.ok("GET", f"/face-sets/{face_set}")["face_set_info"]["face_number"] == 1
    assert client.ok("GET", f"/face-sets/{face_set}/persons")["persons"] == [{"user_id": "stays", "face_count": 1}]
    error_of(client.call("DELETE", f"/face-sets/{face_set}/persons/leaver"), 404, "FRS.0214")


def test_project_wide_erasure_is_a_job_across_every_face_set(api: ApiStack, client: ProjectClient) -> None:
    first, second = unique(), unique()
    client.create_face_set(first)
    client.create_face_set(second)
    user = unique("gdpr")
    doomed = enroll(client, first, GUIDO, user) + enroll(client, second, ALLEN, user)
    other_project = api.other
    other_set = unique()
    other_project.create_face_set(other_set)
    untouched = enroll(other_project, other_set, GUIDO, user)  # same user id in another project

    accepted = client.call("DELETE", f"/persons/{user}", headers={"Prefer": "respond-async"})
    assert accepted.status_code == 202, accepted.get_json()
    job = client.wait_job(accepted.get_json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["deleted_faces"] == 2
    assert sorted(item["deleted_faces"] for item in job["result"]["face_sets"]) == [1, 1]
    assert face_rows(api.settings, doomed) == []
    assert len(face_rows(api.settings, untouched)) == 1, "another project's person of the same id is not touched"
    error_of(client.call("DELETE", f"/persons/{user}"), 404, "FRS.0214")
    error_of(other_project.call("DELETE", f"/persons/{user}", headers={"X-Auth-Token": client.api_key}), 404, "FRS.0200")


def test_user_id_is_a_filterable_field_for_search_and_delete(client: ProjectClient, face_set: str) -> None:
    enroll(client, face_set, OBAMA_SMALL, "obama")
    woz = enroll(client, face_set, WOZNIAK, "woz")
    enroll(client, face_set, GUIDO, "guido")
    found = client.search(face_set, OBAMA_SMALL, filter="user_id:woz", top_n=5)["faces"]
    assert [face["face_id"] for face in found] == woz
    either = client.search(face_set, OBAMA_SMALL, filter="user_id:woz || user_id:guido", top_n=5)["faces"]
    assert {face["user_id"] for face in either} == {"woz", "guido"}
    deleted = client.call("DELETE", f"/face-sets/{face_set}/faces", query_string={"filter": "!user_id:obama"})
    assert deleted.status_code == 200 and deleted.get_json()["face_number"] == 2, deleted.get_json()
    assert [person["user_id"] for person in client.ok("GET", f"/face-sets/{face_set}/persons")["persons"]] == ["obama"]
    error_of(client.call("DELETE", f"/face-sets/{face_set}/faces", query_string={"filter": "user_id:[1 TO 2]"}), 400, "FRS.0120")


def test_group_by_person_scores_each_person_on_all_their_faces(client: ProjectClient, face_set: str) -> None:
    enroll(client, face_set, OBAMA_SMALL, "obama")
    enroll(client, face_set, OBAMA_240, "obama")
    enroll(client, face_set, WOZNIAK, "woz")
    people = client.search(face_set, OBAMA_SMALL, group_by="person")["faces"]
    scores = {person["user_id"]: person for person in people}
    assert people[0]["user_id"] == "obama"
    assert scores["obama"]["person_faces"] == 2 and scores["woz"]["person_faces"] == 1
    # The mean of both obama faces: at most the best (the identical photo), far above the others.
    assert scores["obama"]["similarity"] >= scores["obama"]["person_score"] > scores["woz"]["person_score"]
    assert scores["woz"]["person_score"] == scores["woz"]["similarity"]
