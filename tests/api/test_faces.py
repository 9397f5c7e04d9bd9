"""Faces of a face set: add (every source and option), get, list, update, delete, duplicates."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import ApiStack, error_of, unique
from tests.api.photos import (
    ALLEN,
    GUIDO,
    KIT,
    NO_FACE,
    OBAMA,
    OBAMA_240,
    OBAMA_SMALL,
    TWO_PEOPLE,
    WOZNIAK,
    b64,
    misc,
)
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]

SCHEMA = {"timestamp": {"type": "long"}, "id": {"type": "string"}, "vip": {"type": "boolean"}}


@pytest.fixture
def typed_set(client: ProjectClient) -> str:
    name = unique()
    client.create_face_set(name, external_fields=SCHEMA)
    return name


def test_add_with_each_image_source(api: ApiStack, client: ProjectClient, typed_set: str) -> None:
    fields = {"timestamp": 12, "id": "home"}
    multipart = client.add_face(typed_set, WOZNIAK, external_image_id="woz", external_fields=fields)
    assert multipart.status_code == 200, multipart.get_json()
    body = multipart.get_json()
    assert body["face_set_name"] == typed_set and body["face_set_id"]
    [face] = body["faces"]
    assert face["external_image_id"] == "woz"
    assert face["external_fields"] == fields
    assert set(face["bounding_box"]) == {"top_left_x", "top_left_y", "width", "height"}

    by_base64 = client.ok(
        "POST", f"/face-sets/{typed_set}/faces", json={"image_base64": b64(GUIDO, data_url=True), "user_id": "guido"}
    )
    [guido] = by_base64["faces"]
    assert re.fullmatch(r"[A-Za-z0-9]{8}", guido["external_image_id"])  # generated as in the seed
    assert guido["user_id"] == "guido"

    by_url = client.ok("POST", f"/face-sets/{typed_set}/faces", json={"image_url": api.image_url(ALLEN.read_bytes())})
    assert len(by_url["faces"]) == 1
    info = client.ok("GET", f"/face-sets/{typed_set}")["face_set_info"]
    assert info["face_number"] == 3


def test_add_every_face_of_a_group_photo_or_only_the_largest(client: ProjectClient, face_set: str) -> None:
    every = client.add_face(face_set, TWO_PEOPLE).get_json()["faces"]
    assert len(every) == 2
    assert len({face["face_id"] for face in every}) == 2
    largest = client.add_face(face_set, TWO_PEOPLE, select="largest").get_json()["faces"]
    assert len(largest) == 1
    error_of(client.add_face(face_set, TWO_PEOPLE, select="single"), 400, "FRS.0113")


def test_add_errors(client: ProjectClient, typed_set: str) -> None:
    error_of(client.add_face(typed_set, NO_FACE), 400, "FRS.0404")
    error_of(client.add_face(typed_set, OBAMA_SMALL, external_image_id="x" * 37), 400, "FRS.0100")
    error_of(client.add_face(typed_set, OBAMA_SMALL, external_image_id="bad id"), 400, "FRS.0100")
    error_of(client.add_face(typed_set, OBAMA_SMALL, external_fields={"unknown": 1}), 400, "FRS.0121")
    error_of(client.add_face(typed_set, OBAMA_SMALL, external_fields={"timestamp": "soon"}), 400, "FRS.0121")
    error_of(client.add_face(typed_set, OBAMA_SMALL, external_fields={"id": "x" * 257}), 400, "FRS.0121")
    error_of(client.add_face(typed_set, OBAMA_SMALL, on_duplicate="maybe"), 400, "FRS.0100")
    error_of(client.add_face("no_such_set", OBAMA_SMALL), 404, "FRS.0210")
    assert client.face_ids(typed_set) == []


def test_get_list_and_page_faces(client: ProjectClient, face_set: str) -> None:
    added = [client.add_face(face_set, photo).get_json()["faces"][0] for photo in (WOZNIAK, GUIDO, ALLEN)]
    one = client.ok("GET", f"/face-sets/{face_set}/faces", query_string={"face_id": added[1]["face_id"]})
    assert [face["face_id"] for face in one["faces"]] == [added[1]["face_id"]]
    assert one["faces"][0]["bounding_box"] == added[1]["bounding_box"]

    every = client.ok("GET", f"/face-sets/{face_set}/faces")
    assert every["total"] == 3
    assert sorted(face["face_id"] for face in every["faces"]) == sorted(face["face_id"] for face in added)
    first = client.ok("GET", f"/face-sets/{face_set}/faces", query_string={"offset": 0, "limit": 2})["faces"]
    rest = client.ok("GET", f"/face-sets/{face_set}/faces", query_string={"offset": 2, "limit": 2})["faces"]
    assert len(first) == 2 and len(rest) == 1
    assert {f["face_id"] for f in first + rest} == {f["face_id"] for f in added}

    error_of(client.call("GET", f"/face-sets/{face_set}/faces", query_string={"face_id": "nope"}), 404, "FRS.0211")
    error_of(client.call("GET", f"/face-sets/{face_set}/faces", query_string={"limit": 0}), 400, "FRS.0100")
    error_of(client.call("GET", f"/face-sets/{face_set}/faces", query_string={"offset": -1}), 400, "FRS.0100")


def test_update_a_face(client: ProjectClient, typed_set: str) -> None:
    face_id = client.add_face(typed_set, KIT, external_fields={"id": "a"}).get_json()["faces"][0]["face_id"]
    updated = client.ok(
        "PUT",
        f"/face-sets/{typed_set}/faces",
        json={"face_id": face_id, "external_image_id": "kit-1", "external_fields": {"id": "b", "vip": True}, "user_id": "kit"},
    )
    assert updated["face_number"] == 1 and updated["face_set_name"] == typed_set
    face = client.ok("GET", f"/face-sets/{typed_set}/faces", query_string={"face_id": face_id})["faces"][0]
    assert face["external_image_id"] == "kit-1"
    assert face["external_fields"] == {"id": "b", "vip": True}
    assert face["user_id"] == "kit"

    put = f"/face-sets/{typed_set}/faces"
    error_of(client.call("PUT", put, json={"face_id": face_id}), 400, "FRS.0100")
    error_of(client.call("PUT", put, json={"face_id": "missing", "user_id": "x"}), 404, "FRS.0211")
    error_of(client.call("PUT", put, json={"face_id": face_id, "external_fields": {"vip": "perhaps"}}), 400, "FRS.0121")


def test_delete_by_face_id_external_image_id_and_filter(client: ProjectClient, typed_set: str) -> None:
    def add(photo, **fields):  # type: ignore[no-untyped-def]
        response = client.add_face(typed_set, photo, **fields)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["faces"][0]["face_id"]

    woz = add(WOZNIAK, external_fields={"timestamp": 1})
    guido = add(GUIDO, external_image_id="guido", external_fields={"timestamp": 5})
    allen = add(ALLEN, external_fields={"timestamp": 10, "id": "keep"})
    obama = add(OBAMA_240, external_fields={"timestamp": 20})
    path = f"/face-sets/{typed_set}/faces"

    assert client.ok("DELETE", path, query_string={"face_id": woz})["face_number"] == 1
    error_of(client.call("DELETE", path, query_string={"face_id": woz}), 404, "FRS.0211")
    assert client.ok("DELETE", path, query_string={"external_image_id": "guido"})["face_number"] == 1
    assert client.ok("DELETE", path, query_string={"external_image_id": "guido"})["face_number"] == 0
    by_filter = client.ok("DELETE", path, query_string={"filter": "timestamp:[15 TO *]"})
    assert by_filter["face_number"] == 1
    assert client.face_ids(typed_set) == [allen]
    assert obama not in client.face_ids(typed_set) and guido not in client.face_ids(typed_set)

    error_of(client.call("DELETE", path), 400, "FRS.0100")
    error_of(client.call("DELETE", path, query_string={"face_id": allen, "external_image_id": "x"}), 400, "FRS.0100")
    error_of(client.call("DELETE", path, query_string={"filter": "nope:1"}), 400, "FRS.0120")
    error_of(client.call("DELETE", path, query_string={"filter": "timestamp:[1 TO"}), 400, "FRS.0120")

    # The seed's batch delete: a filter in the body.
    batch = client.ok("DELETE", f"{path}/batch", json={"filter": 'id:"keep" && timestamp:10'})
    assert batch["face_number"] == 1
    assert client.face_ids(typed_set) == []
    assert client.search(typed_set, ALLEN)["faces"] == []


def test_duplicate_check_reject_flag_allow(client: ProjectClient, face_set: str) -> None:
    original = client.add_face(face_set, OBAMA, external_image_id="first", user_id="obama").get_json()["faces"][0]

    rejected = error_of(client.add_face(face_set, OBAMA_SMALL, on_duplicate="reject"), 400, "FRS.0115")
    [duplicate] = rejected["error_details"]["duplicates"]
    assert duplicate["face_id"] == original["face_id"]
    assert duplicate["external_image_id"] == "first" and duplicate["user_id"] == "obama"
    assert 0.5 < duplicate["similarity"] <= 1.0
    assert client.face_ids(face_set) == [original["face_id"]]

    flagged = client.add_face(face_set, OBAMA_SMALL, on_duplicate="flag").get_json()["faces"][0]
    assert flagged["duplicate_of"]["face_id"] == original["face_id"]
    allowed = client.add_face(face_set, OBAMA_240, on_duplicate="allow").get_json()["faces"][0]
    assert "duplicate_of" not in allowed
    stranger = client.add_face(face_set, GUIDO, on_duplicate="reject").get_json()["faces"][0]
    assert "duplicate_of" not in stranger
    assert len(client.face_ids(face_set)) == 4


def test_add_async_with_idempotency_key_enrolls_once(client: ProjectClient, face_set: str) -> None:
    headers = {"Idempotency-Key": f"enroll-{face_set}", "Prefer": "respond-async"}
    calls = [
        client.call(
            "POST", f"/face-sets/{face_set}/faces", json={"image_base64": b64(ALLEN), "external_image_id": "allen"},
            headers=headers,
        )
        for _ in range(3)
    ]
    assert {call.status_code for call in calls} == {202}
    assert len({call.get_json()["job_id"] for call in calls}) == 1
    job = client.wait_job(calls[0].get_json()["job_id"])
    assert job["status"] == "succeeded" and job["kind"] == "enroll"
    sync_retry = client.call(
        "POST", f"/face-sets/{face_set}/faces", json={"image_base64": b64(ALLEN), "external_image_id": "allen"},
        headers={"Idempotency-Key": headers["Idempotency-Key"]},
    )
    assert sync_retry.status_code == 200
    assert sync_retry.get_json()["faces"] == job["result"]["faces"]
    assert client.face_ids(face_set) == [face["face_id"] for face in job["result"]["faces"]]


def test_quality_gate_refuses_a_blurred_face(client: ProjectClient, face_set: str) -> None:
    blurred = misc("attributes", "inspireface__blur.jpg")
    body = error_of(client.add_face(face_set, blurred, quality_gate="true"), 400, "FRS.0114")
    assert body["error_details"]["reasons"]
    sharp = client.add_face(face_set, OBAMA, quality_gate="true")
    assert sharp.status_code == 200, sharp.get_json()
    assert len(client.face_ids(face_set)) == 1


def test_retry_without_external_image_id_finds_the_first_job(client: ProjectClient, face_set: str) -> None:
    """The generated external_image_id derives from the Idempotency-Key: a retry builds the
    same request, so it is recognised instead of refused as a different one."""
    headers = {"Idempotency-Key": f"noid-{face_set}"}
    body = {"image_base64": b64(KIT)}
    first = client.call("POST", f"/face-sets/{face_set}/faces", json=body, headers=headers)
    retry = client.call("POST", f"/face-sets/{face_set}/faces", json=body, headers=headers)
    assert first.status_code == retry.status_code == 200, retry.get_json()
    assert first.get_json() == retry.get_json()
    assert len(client.face_ids(face_set)) == 1
