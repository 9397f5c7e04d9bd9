"""face-detect and face-compare with every image source, sync and async, and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ApiStack, error_of
from tests.api.photos import CORRUPT, GUIDO, NO_FACE, OBAMA, OBAMA_SMALL, TWO_PEOPLE, WOZNIAK, b64
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]


def _assert_face(face: dict[str, Any], width: int, height: int) -> None:
    box = face["bounding_box"]
    assert set(box) == {"top_left_x", "top_left_y", "width", "height"}
    assert 0 <= box["top_left_x"] < width and 0 <= box["top_left_y"] < height
    assert box["width"] > 20 and box["height"] > 20
    assert 0 < face["confidence"]
    assert len(face["landmarks"]) >= 5
    for point in face["landmarks"]:
        assert box["top_left_x"] - box["width"] <= point["x"] <= box["top_left_x"] + 2 * box["width"]


def test_detect_multipart_finds_one_face(client: ProjectClient) -> None:
    body = client.ok(
        "POST", "/face-detect", data={"image_file": (OBAMA.open("rb"), OBAMA.name)}, content_type="multipart/form-data"
    )
    assert len(body["faces"]) == 1
    _assert_face(body["faces"][0], 853, 480)


def test_detect_base64_with_and_without_data_url_prefix_agree(client: ProjectClient) -> None:
    plain = client.ok("POST", "/face-detect", json={"image_base64": b64(OBAMA)})
    prefixed = client.ok("POST", "/face-detect", json={"image_base64": b64(OBAMA, data_url=True)})
    assert plain == prefixed
    assert len(plain["faces"]) == 1


def test_detect_image_url_reads_only_our_own_store(api: ApiStack, client: ProjectClient) -> None:
    url = api.image_url(OBAMA.read_bytes())
    by_url = client.ok("POST", "/face-detect", json={"image_url": url})
    assert by_url == client.ok("POST", "/face-detect", json={"image_base64": b64(OBAMA)})

    bucket = api.settings.object_store.bucket
    for refused in (
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/face.jpg",
        "//evil.example/x.jpg",
        f"/other-bucket/{url.split('/', 2)[2]}",
        f"/{bucket}/../../etc/passwd",
        f"/{bucket}/",
        "file:///etc/passwd",
    ):
        error_of(client.call("POST", "/face-detect", json={"image_url": refused}), 400, "FRS.0104")
    error_of(client.call("POST", "/face-detect", json={"image_url": f"/{bucket}/images/{'0' * 64}"}), 400, "FRS.0105")


def test_detect_group_photo_and_empty_photo(client: ProjectClient) -> None:
    group = client.ok("POST", "/face-detect", json={"image_base64": b64(TWO_PEOPLE)})
    assert len(group["faces"]) == 2
    empty = client.ok("POST", "/face-detect", json={"image_base64": b64(NO_FACE)})
    assert empty == {"faces": []}


def test_detect_with_attributes_in_the_seed_shape(client: ProjectClient) -> None:
    body = client.ok("POST", "/face-detect", json={"image_base64": b64(OBAMA), "attributes": "0,1,2,3,4,5"})
    [face] = body["faces"]
    attributes = face["attributes"]
    assert set(attributes["headpose"]) == {"pitch_angle", "roll_angle", "yaw_angle"}
    assert all(abs(angle) < 30 for angle in attributes["headpose"].values())  # a frontal portrait
    assert attributes["gender"] == "male"
    assert 20 <= attributes["age"] <= 80
    assert attributes["smile"] in ("yes", "no")
    assert set(attributes["dress"]) == {"glass", "hat"}
    contours = face["landmark"]
    assert "eyebrow_contour" in contours and len(contours["eyebrow_contour"]["point"]) >= 5
    assert face["attributes_detail"]["gender"]["reliability"]
    # Only measured numbers travel: no confidence for gender, age or head pose.
    detail = face["attributes_detail"]
    assert "confidence" not in detail["gender"] and "confidence" not in detail["age"]
    assert set(detail["headpose"]) == {"yaw", "pitch", "roll", "estimated"}
    assert detail["headpose"]["estimated"] is True
    assert detail["dress"]["glass"] == detail["dress"]["hat"] == "unknown"

    only_pose = client.ok("POST", "/face-detect", json={"image_base64": b64(OBAMA), "attributes": "0"})["faces"][0]
    assert set(only_pose["attributes"]) == {"headpose"}
    assert "landmark" not in only_pose
    assert "attributes" not in client.ok("POST", "/face-detect", json={"image_base64": b64(OBAMA)})["faces"][0]


def test_detect_rejects_bad_input_in_the_error_format(client: ProjectClient) -> None:
    error_of(client.call("POST", "/face-detect", json={}), 400, "FRS.0102")
    both = {"image_base64": b64(OBAMA_SMALL), "image_url": "/facefleet/x"}
    error_of(client.call("POST", "/face-detect", json=both), 400, "FRS.0102")
    error_of(client.call("POST", "/face-detect", json={"image_base64": "%%% not base64 %%%"}), 400, "FRS.0103")
    error_of(client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL), "attributes": "7"}), 400, "FRS.0100")
    error_of(client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL), "unknown": 1}), 400, "FRS.0100")
    error_of(client.call("POST", "/face-detect", data=b"{not json", content_type="application/json"), 400, "FRS.0101")
    error_of(client.call("POST", "/face-detect", data=b"[1, 2]", content_type="application/json"), 400, "FRS.0101")
    error_of(client.call("POST", "/face-detect", data=b"abc", content_type="text/plain"), 400, "FRS.0107")
    corrupt = client.call("POST", "/face-detect", json={"image_base64": _b64_bytes(CORRUPT)})
    error_of(corrupt, 400, "FRS.0110")


def test_compare_same_person_is_similar_and_strangers_are_not(client: ProjectClient) -> None:
    same = client.ok(
        "POST",
        "/face-compare",
        data={"image1_file": (OBAMA.open("rb"), "a.jpg"), "image2_file": (OBAMA_SMALL.open("rb"), "b.jpg")},
        content_type="multipart/form-data",
    )
    other = client.ok("POST", "/face-compare", json={"image1_base64": b64(OBAMA), "image2_base64": b64(GUIDO)})
    assert 0.0 <= other["similarity"] < same["similarity"] <= 1.0
    assert same["distance"] < 0.6 < other["distance"]
    for body in (same, other):
        assert set(body["image1_face"]["bounding_box"]) == {"top_left_x", "top_left_y", "width", "height"}
        assert "bounding_box" in body["image2_face"]


def test_compare_takes_the_largest_face_and_urls(api: ApiStack, client: ProjectClient) -> None:
    body = client.ok(
        "POST",
        "/face-compare",
        json={"image1_url": api.image_url(WOZNIAK.read_bytes()), "image2_base64": b64(TWO_PEOPLE, data_url=True)},
    )
    faces = client.ok("POST", "/face-detect", json={"image_base64": b64(TWO_PEOPLE)})["faces"]
    largest = max(faces, key=lambda face: face["bounding_box"]["width"] * face["bounding_box"]["height"])
    assert body["image2_face"]["bounding_box"] == largest["bounding_box"]


def test_compare_errors(client: ProjectClient) -> None:
    error_of(client.call("POST", "/face-compare", json={"image1_base64": b64(OBAMA_SMALL)}), 400, "FRS.0102")
    no_face = client.call("POST", "/face-compare", json={"image1_base64": b64(OBAMA_SMALL), "image2_base64": b64(NO_FACE)})
    body = error_of(no_face, 400, "FRS.0501")
    assert body["error_details"] == {"image": "image2"}


def test_async_detect_answers_202_with_location_then_the_job_holds_the_result(client: ProjectClient) -> None:
    for async_call in (
        {"headers": {"Prefer": "respond-async"}},
        {"query_string": {"async": "true"}},
    ):
        accepted = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL)}, **async_call)
        assert accepted.status_code == 202, accepted.get_json()
        job_id = accepted.get_json()["job_id"]
        location = f"/v1/{client.project_id}/jobs/{job_id}"
        assert accepted.headers["Location"] == location
        assert accepted.get_json()["location"] == location
        assert accepted.get_json()["status"] in ("pending", "running", "succeeded")
        job = client.wait_job(job_id)
        assert job["status"] == "succeeded" and job["kind"] == "detect"
        assert len(job["result"]["faces"]) == 1
        assert job["created_at"] and job["updated_at"]


def test_failed_async_job_shows_the_error_format(client: ProjectClient) -> None:
    accepted = client.call(
        "POST", "/face-compare", query_string={"async": "1"},
        json={"image1_base64": b64(NO_FACE), "image2_base64": b64(OBAMA_SMALL)},
    )
    assert accepted.status_code == 202
    job = client.wait_job(accepted.get_json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"]["error_code"] == "FRS.0501"
    assert job["error"]["error_details"] == {"image": "image1"}
    assert "result" not in job


def test_idempotency_key_returns_the_same_job_and_refuses_another_request(client: ProjectClient) -> None:
    key = "detect-retry-" + client.project_id[:8]
    first = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL)}, headers={"Idempotency-Key": key})
    retry = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL)}, headers={"Idempotency-Key": key})
    assert first.status_code == retry.status_code == 200
    assert first.get_json() == retry.get_json()
    async_retry = client.call(
        "POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL)},
        headers={"Idempotency-Key": key, "Prefer": "respond-async"},
    )
    assert async_retry.status_code == 202  # an async retry gets the same, already finished job
    assert client.job(async_retry.get_json()["job_id"])["result"]["faces"] == first.get_json()["faces"]

    different = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA)}, headers={"Idempotency-Key": key})
    error_of(different, 400, "FRS.0131")
    bad_key = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA)}, headers={"Idempotency-Key": "no spaces!"})
    error_of(bad_key, 400, "FRS.0130")


def test_get_job_of_unknown_id_is_404(client: ProjectClient) -> None:
    error_of(client.call("GET", "/jobs/does-not-exist"), 404, "FRS.0212")


def _b64_bytes(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_sync_call_past_the_bounded_wait_answers_202(api: ApiStack) -> None:
    from api.app import create_app

    impatient = api.settings.model_copy(
        update={"jobs": api.settings.jobs.model_copy(update={"sync_wait_seconds": 0.0})}
    )
    client = api.new_client(create_app(impatient))
    response = client.call("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL)})
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"] == f"/v1/{client.project_id}/jobs/{response.get_json()['job_id']}"
    assert len(client.wait_job(response.get_json()["job_id"])["result"]["faces"]) == 1
