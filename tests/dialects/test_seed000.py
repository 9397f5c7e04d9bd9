"""Seed 000: ``POST /get_face_descriptor`` with a multipart ``file``."""

from __future__ import annotations

import io
import math

import pytest
import requests

from tests.dialects.conftest import NO_FACE, NOT_AN_IMAGE, ROB, TWO_PEOPLE, DialectService, photo

pytestmark = [pytest.mark.model, pytest.mark.integration]


def post_file(dialects: DialectService, data: bytes, name: str) -> requests.Response:
    return requests.post(f"{dialects.url}/get_face_descriptor", files={"file": (name, data)}, timeout=120)


def test_descriptor_of_one_face_is_one_list_of_128_floats(dialects: DialectService) -> None:
    response = post_file(dialects, photo(ROB).read_bytes(), "woz.jpg")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "face_descriptor"}
    assert body["success"] is True
    assert len(body["face_descriptor"]) == 1
    descriptor = body["face_descriptor"][0]
    assert len(descriptor) == 128 and all(isinstance(x, float) for x in descriptor)
    assert all(math.isfinite(x) for x in descriptor) and any(abs(x) > 1e-3 for x in descriptor)


def test_same_person_descriptors_are_close_and_every_face_gets_one(dialects: DialectService) -> None:
    first = post_file(dialects, photo(ROB, 0).read_bytes(), "a.jpg").json()["face_descriptor"][0]
    second = post_file(dialects, photo(ROB, 1).read_bytes(), "b.png").json()["face_descriptor"][0]
    assert math.dist(first, second) < 0.6
    two = post_file(dialects, TWO_PEOPLE.read_bytes(), "two.jpg").json()
    assert two["success"] is True and len(two["face_descriptor"]) == 2


def test_no_face_answers_the_documented_error(dialects: DialectService) -> None:
    response = post_file(dialects, NO_FACE.read_bytes(), "landscape.jpg")
    assert response.status_code == 200
    assert response.json() == {"error": "未检测到人脸"}


def test_bad_inputs_answer_an_error_in_the_same_shape(dialects: DialectService) -> None:
    missing = requests.post(f"{dialects.url}/get_face_descriptor", data={"other": "x"}, timeout=60)
    not_image = post_file(dialects, NOT_AN_IMAGE, "photo.jpg")
    wrong_type = post_file(dialects, photo(ROB).read_bytes(), "photo.gif")
    for response in (missing, not_image, wrong_type):
        assert response.status_code == 400
        body = response.json()
        assert list(body) == ["error"] and body["error"]


def test_off_unless_bound_to_a_project(dialects: DialectService) -> None:
    from api.app import create_app

    unbound = create_app(dialects.stack.settings).test_client()  # no dialects.d000_project_id
    response = unbound.post(
        "/get_face_descriptor", data={"file": (io.BytesIO(b"x"), "a.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 404
