"""Regression tests for every class of issue 23's table: each answers the surface's own
documented 4xx (or a correct result), never a 5xx, and a refusal writes nothing.

One real embedded stack serves every surface (``tests/security/conftest.py``).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.security.conftest import D001_APID, D003_APP, Surfaces

pytestmark = [pytest.mark.integration, pytest.mark.model]

DOCS_API = Path(__file__).resolve().parents[2] / "docs" / "API.md"
DOCUMENTED_CODES = set(re.findall(r"`(FRS\.\d{4})`", DOCS_API.read_text()))


def nested(depth: int, leaf: str = '"x"') -> str:
    """JSON text nested ``depth`` arrays deep (the client's encoder would recurse out)."""
    return "[" * depth + leaf + "]" * depth


def raw_json(**fields: str) -> str:
    return "{" + ",".join(f'"{name}":{value}' for name, value in fields.items()) + "}"


def native_error(response: TestResponse, status: int, *codes: str) -> dict[str, Any]:
    body: dict[str, Any] = response.get_json(silent=True) or {}
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:400])
    assert body.get("error_code") in DOCUMENTED_CODES and set(body) >= {"error_code", "error_msg"}, body
    if codes:
        assert body["error_code"] in codes, body
    return body


def d001(surfaces: Surfaces, method: str, path: str, **form: Any) -> dict[str, Any]:
    data = {"Apid": str(D001_APID), "Kvalue": surfaces.d001_key, **form}
    response = surfaces.http.open(path, method=method, data=data)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body: dict[str, Any] = response.get_json()
    return body


def d003(surfaces: Surfaces, endpoint: str, **form: Any) -> TestResponse:
    return surfaces.http.post(
        f"/cv/face/{endpoint}", data=form, headers={"X-GW-Authorization": surfaces.d003_key},
        content_type="multipart/form-data",
    )


# ---------------------------------------------------------------------------- deeply nested JSON


@pytest.mark.parametrize("depth", [100, 1000, 5000])
def test_deeply_nested_json_bodies_are_a_400(surfaces: Surfaces, depth: int) -> None:
    before = surfaces.written()
    native = surfaces.native
    as_json = {"content_type": "application/json"}
    detect = native.call("POST", "/face-detect", data=raw_json(image_base64=nested(depth)), **as_json)
    native_error(detect, 400, "FRS.0100", "FRS.0101")
    body = raw_json(face_set_name='"deep"', external_fields=nested(depth, "{}"))
    native_error(native.call("POST", "/face-sets", data=body, **as_json), 400, "FRS.0100", "FRS.0101")
    search = raw_json(image_base64='"x"', sort=nested(depth))
    native_error(native.call("POST", "/face-sets/deep/search", data=search, **as_json), 400)
    assert surfaces.written() == before


def test_deeply_nested_json_form_fields_are_a_400(surfaces: Surfaces) -> None:
    native = surfaces.native
    native.ok("POST", "/face-sets", json={"face_set_name": "form-deep"})
    before = surfaces.written()
    form = {"image_base64": surfaces.face_b64, "external_fields": nested(1000, "{}")}
    response = native.call("POST", "/face-sets/form-deep/faces", data=form, content_type="multipart/form-data")
    native_error(response, 400, "FRS.0100", "FRS.0101")
    batch_form = {"items": nested(1000, "{}"), "image_file": (io.BytesIO(base64_photo(surfaces)), "a.jpg")}
    batch = native.call("POST", "/face-sets/form-deep/faces/batch", data=batch_form, content_type="multipart/form-data")
    native_error(batch, 400, "FRS.0100", "FRS.0101")
    assert surfaces.written() == before


# ---------------------------------------------------------------------------- dialect lengths, numbers, names


def test_dialect_text_fields_are_bounded_in_bytes(surfaces: Surfaces) -> None:
    before = surfaces.written()
    assert d001(surfaces, "POST", "/api/face", Fimg=surfaces.face_b64, Fname="x" * 300) == {"msg_code": 4}
    emoji = d003(surfaces, "face_register", app_id=D003_APP, user_id="\N{GRINNING FACE}" * 128,
                 image=(io.BytesIO(b"x"), "a.jpg"))
    assert emoji.status_code == 200 and emoji.get_json()["code"] == 40202
    added = surfaces.http.get("/addface", query_string={"face_token": "A" * 24, "face_name": "y" * 300})
    assert added.status_code == 200 and added.get_json()["error_code"] in ("1001", "1006")
    assert {k: v for k, v in surfaces.written().items() if k != "face_sets"} == {
        k: v for k, v in before.items() if k != "face_sets"
    }


@pytest.mark.parametrize("number", ["\N{SUPERSCRIPT TWO}", "\N{ARABIC-INDIC DIGIT THREE}", "\uff11", "9" * 5000, "-1", "1e3"])
def test_dialect_numbers_are_ascii_decimal_within_range(surfaces: Surfaces, number: str) -> None:
    before = surfaces.written()
    assert surfaces.http.get("/api/face", data={"Apid": number, "Kvalue": surfaces.d001_key}).get_json() == {"msg_code": 3}
    assert d001(surfaces, "GET", "/api/singleface", Fid=number) == {"msg_code": 7}
    assert d001(surfaces, "DELETE", "/api/face", Fid=number) == {"msg_code": 7}
    checked = d003(surfaces, "face_check", max_num=number, image=(io.BytesIO(b"x"), "a.jpg"))
    assert checked.status_code == 200 and checked.get_json()["code"] in (40202, 40203)
    deleted = d003(surfaces, "face_delete", app_id=D003_APP, face_id=number)
    assert deleted.status_code == 200 and deleted.get_json()["code"] in (40313, 40316)
    assert surfaces.written() == before


@pytest.mark.parametrize("app_id", ["../../../etc", "x/y", "a b", "<b>", "\N{GRINNING FACE}", "z" * 60])
def test_seed003_app_ids_the_native_api_cannot_name_create_nothing(surfaces: Surfaces, app_id: str) -> None:
    before = surfaces.written()
    image = io.BytesIO(base64_photo(surfaces))
    response = d003(surfaces, "face_register", app_id=app_id, user_id="u-1", image=(image, "face.jpg"))
    assert response.status_code == 200 and response.get_json()["code"] == 40307, response.get_json()
    assert surfaces.written()["face_sets"] == before["face_sets"]
    assert all(name.startswith("d003-") is False or "/" not in name for name in surfaces.face_set_names(surfaces.d003_project))


def test_seed003_a_refused_registration_creates_no_face_set(surfaces: Surfaces) -> None:
    before = surfaces.written()
    response = d003(surfaces, "face_register", app_id="never-made", user_id="u-1", image=(io.BytesIO(b"no"), "a.jpg"))
    assert response.get_json()["code"] == 40308
    assert "d003-never-made" not in surfaces.face_set_names(surfaces.d003_project)
    assert surfaces.written()["face_sets"] == before["face_sets"]


@pytest.mark.parametrize("name", ["<script>x</script>", "../x", "a b", "\x00", "na\N{GRINNING FACE}"])
def test_dialect_names_follow_the_native_user_id_rule(surfaces: Surfaces, name: str) -> None:
    before = surfaces.written()
    assert d001(surfaces, "POST", "/api/face", Fimg=surfaces.face_b64, Fname=name)["msg_code"] == 4
    added = surfaces.http.get("/addface", query_string={"face_token": "A" * 24, "face_name": name})
    assert added.get_json()["error_code"] in ("1001", "1006")
    registered = d003(surfaces, "face_register", app_id=D003_APP, user_id=name, image=(io.BytesIO(b"x"), "a.jpg"))
    assert registered.get_json()["code"] in (40202, 40310)
    after = surfaces.written()
    assert (after["faces"], after["jobs"]) == (before["faces"], before["jobs"])


def base64_photo(surfaces: Surfaces) -> bytes:
    import base64

    return base64.b64decode(surfaces.face_b64)


# ---------------------------------------------------------------------------- filters


@pytest.mark.parametrize("terms", [50, 64])
def test_filters_with_as_many_terms_as_documented_search_sync_and_async(surfaces: Surfaces, terms: int) -> None:
    native = surfaces.native
    name = f"filters-{terms}"
    native.ok("POST", "/face-sets", json={"face_set_name": name, "external_fields": {"city": {"type": "string"}}})
    added = native.call(
        "POST", f"/face-sets/{name}/faces", json={"image_base64": surfaces.face_b64, "external_fields": {"city": "c7"}}
    )
    assert added.status_code == 200, added.get_json()
    text = " || ".join(f"city:c{index}" for index in range(terms))
    found = native.ok("POST", f"/face-sets/{name}/search", json={"image_base64": surfaces.face_b64, "filter": text})
    assert len(found["faces"]) == 1
    accepted = native.call(
        "POST", f"/face-sets/{name}/search?async=true", json={"image_base64": surfaces.face_b64, "filter": text}
    )
    assert accepted.status_code == 202, accepted.get_json()
    job_id = accepted.get_json()["job_id"]
    job = native.wait_job(job_id)
    assert job["status"] == "succeeded", job
    too_many = " || ".join(f"city:c{index}" for index in range(65))
    refused = native.call("POST", f"/face-sets/{name}/search", json={"image_base64": surfaces.face_b64, "filter": too_many})
    native_error(refused, 400)
