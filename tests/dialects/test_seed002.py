"""Seed 002: ``/detect`` -> face_token, ``/search`` by token (GET) or image (POST),
``/addface`` and ``/removeface`` by GET query, errors 1001-1007 (HTTP 200, ``sucess``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.dialects.conftest import HOPKINS, NO_FACE, NOT_AN_IMAGE, ROB, TWO_PEOPLE, DialectService, photo

pytestmark = [pytest.mark.model, pytest.mark.integration]


def body_of(response: Any) -> Any:
    return response.json() if isinstance(response, requests.Response) else response.get_json()


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200
    body: dict[str, Any] = body_of(response)
    assert body["sucess"] is True and body["success"] is True, body
    return body


def error(response: Any, code: str, message: str) -> None:
    assert response.status_code == 200
    assert body_of(response) == {"sucess": False, "success": False, "error_code": code, "error_msg": message}


def upload(dialects: DialectService, path: str, image: Path | bytes, name: str = "face.jpg", **form: Any) -> Any:
    data = image if isinstance(image, bytes) else image.read_bytes()
    return requests.post(f"{dialects.url}{path}", files={"image_file": (name, data)}, data=form, timeout=120)


def get(dialects: DialectService, path: str, **params: str) -> requests.Response:
    return requests.get(f"{dialects.url}{path}", params=params, timeout=120)


def detect_one(dialects: DialectService, image: Path) -> str:
    body = ok(upload(dialects, "/detect", image))
    assert body["face_num"] == 1
    token: str = body["faces"][0]["face_token"]
    return token


def test_detect_returns_a_token_name_and_corners_per_face(dialects: DialectService) -> None:
    body = ok(upload(dialects, "/detect", TWO_PEOPLE))
    assert set(body) == {"sucess", "success", "face_num", "faces"}
    assert body["face_num"] == 2 and len(body["faces"]) == 2
    for face in body["faces"]:
        assert set(face) == {"face_token", "face_name", "top_left", "bottom_right"}
        assert len(face["face_token"]) == 24 and face["face_token"].isalnum()
        assert face["face_name"].endswith(".jpg")
        (left, top), (right, bottom) = face["top_left"], face["bottom_right"]
        assert 0 <= left < right and 0 <= top < bottom
    assert len({face["face_token"] for face in body["faces"]}) == 2
    empty = ok(upload(dialects, "/detect", NO_FACE))
    assert empty["face_num"] == 0 and empty["faces"] == []


def test_add_search_remove_flow(dialects: DialectService) -> None:
    rob = detect_one(dialects, photo(ROB, 0))
    hopkins = detect_one(dialects, photo(HOPKINS, 0))
    added = ok(get(dialects, "/addface", face_token=rob, face_name="rob"))
    assert added == {"sucess": True, "success": True, "face_token": rob, "face_neme": "rob", "face_name": "rob"}
    default_name = ok(get(dialects, "/addface", face_token=hopkins))
    assert default_name["face_neme"] == "unknown"

    # POST: a new photo of Rob finds the saved Rob face, not Hopkins
    found = ok(upload(dialects, "/search", photo(ROB, 1), threshold="0.6"))
    assert set(found) == {"sucess", "success", "face_token", "threshold", "threshlod", "cmp_result"}
    assert found["threshold"] == "0.6" and len(found["face_token"]) == 24
    assert [(hit["face_token"], hit["face_name"]) for hit in found["cmp_result"]] == [(rob, "rob")]
    assert 0 <= found["cmp_result"][0]["distant"] <= 0.6

    # GET by the token the POST search issued (a temporary one), then by a saved one
    again = ok(get(dialects, "/search", face_token=found["face_token"], threshold="0.6"))
    assert [hit["face_token"] for hit in again["cmp_result"]] == [rob]
    by_saved = ok(get(dialects, "/search", face_token=rob, threshold="2.0"))
    assert [hit["face_token"] for hit in by_saved["cmp_result"]] == [hopkins]  # never the probe itself

    # one face of a two-face photo: only that face is saved
    two = ok(upload(dialects, "/detect", TWO_PEOPLE))["faces"]
    ok(get(dialects, "/addface", face_token=two[1]["face_token"], face_name="right"))
    near = ok(get(dialects, "/search", face_token=two[1]["face_token"], threshold="0.3"))
    assert near["cmp_result"] == []  # the saved face is the probe itself, so excluded
    everyone = ok(upload(dialects, "/search", TWO_PEOPLE, threshold="10"))["cmp_result"]
    assert sorted(hit["face_name"] for hit in everyone) == ["right", "rob", "unknown"]  # one face kept

    removed = ok(get(dialects, "/removeface", face_token=rob))
    assert removed == {"sucess": True, "success": True, "face_token": rob}
    after = ok(upload(dialects, "/search", photo(ROB, 1), threshold="0.6"))
    assert after["cmp_result"] == []
    error(get(dialects, "/removeface", face_token=rob), "1006", "FACE_TOKEN_ERROR")


def test_documented_error_codes(dialects: DialectService) -> None:
    error(get(dialects, "/search", face_token="x" * 24, threshold="abc"), "1001", "BAD_ARGUMENTS")
    error(get(dialects, "/search", face_token="x" * 24), "1002", "MISSING_ARGUMENTS")
    error(get(dialects, "/addface"), "1002", "MISSING_ARGUMENTS")
    error(get(dialects, "/removeface"), "1002", "MISSING_ARGUMENTS")
    error(requests.post(f"{dialects.url}/detect", data={"x": "1"}, timeout=60), "1002", "MISSING_ARGUMENTS")
    error(upload(dialects, "/detect", NOT_AN_IMAGE), "1004", "FIlE_ERROR")
    error(upload(dialects, "/detect", photo(ROB, 0), name="face.gif"), "1004", "FIlE_ERROR")
    error(upload(dialects, "/detect", b""), "1005", "UPLOAD_ERROR")
    error(get(dialects, "/addface", face_token="A" * 24), "1006", "FACE_TOKEN_ERROR")
    unknown = {"face_token": "nope", "threshold": "0.6"}
    error(get(dialects, "/search", **unknown), "1006", "FACE_TOKEN_ERROR")
    error(upload(dialects, "/search", NO_FACE, threshold="0.6"), "1007", "FACE_INFO_ERROR")


def test_temporary_tokens_expire_and_the_dialect_is_off_unless_bound(dialects: DialectService) -> None:
    from api.app import create_app

    expiring = dialects.settings.dialects.model_copy(update={"d002_token_ttl_seconds": 0})
    app = create_app(dialects.settings.model_copy(update={"dialects": expiring}))
    http = app.test_client()
    body = ok(http.post("/detect", data={"image_file": (io.BytesIO(photo(HOPKINS, 1).read_bytes()), "h.jpg")},
                        content_type="multipart/form-data"))
    token = body["faces"][0]["face_token"]
    error(http.get("/addface", query_string={"face_token": token}), "1006", "FACE_TOKEN_ERROR")

    unbound = create_app(dialects.stack.settings).test_client()  # no dialects.d002_project_id
    assert unbound.get("/addface", query_string={"face_token": token}).status_code == 404
