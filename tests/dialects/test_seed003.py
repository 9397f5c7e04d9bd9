"""Seed 003: ``/cv/face/*`` multipart calls with ``X-GW-Authorization``, answers
``{"code", "message", ...}`` with codes 200 and 40201-40318."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from api.dialects.face_gateway_codes import MESSAGES
from tests.dialects.conftest import (
    CLAPTON,
    HOPKINS,
    NO_FACE,
    NOT_AN_IMAGE,
    ROB,
    TWO_PEOPLE,
    DialectService,
    Tenant,
    photo,
)

pytestmark = [pytest.mark.model, pytest.mark.integration]


def call(dialects: DialectService, endpoint: str, tenant: Tenant | None, **fields: Any) -> dict[str, Any]:
    files: dict[str, Any] = {}
    form: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, Path):
            files[name] = (value.name, value.read_bytes())
        elif isinstance(value, bytes):
            files[name] = ("image.jpg", value)
        else:
            form[name] = value
    headers = {"X-GW-Authorization": tenant.api_key} if tenant is not None else {}
    if not files:
        files = {"_": ("", b"")}  # multipart/form-data, as the document's header table says
    response = requests.post(
        f"{dialects.url}/cv/face/{endpoint}", files=files, data=form, headers=headers, timeout=120
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == (200 if tenant is not None else 401), body
    assert body["message"] == ("success" if body["code"] == 200 else MESSAGES.get(body["code"], body["message"]))
    return body


def test_register_search_recognise_compare_update_delete(dialects: DialectService) -> None:
    a = dialects.tenant_a
    rob = call(dialects, "face_register", a, image=photo(ROB, 0), app_id="gate", user_id="u-rob", face_direction="")
    assert rob["code"] == 200 and rob["check_result"] == 0 and rob["register_result"] == 0
    assert isinstance(rob["face_id"], int) and rob["face_id"] > 0
    same_photo = call(dialects, "face_register", a, image=photo(ROB, 0), app_id="gate", user_id="u-rob")
    assert same_photo["code"] == 40315 and same_photo["face_id"] == rob["face_id"]
    second = call(dialects, "face_register", a, image=photo(ROB, 1), app_id="gate", user_id="u-rob")
    assert second["code"] == 200 and second["face_id"] != rob["face_id"]  # one user, several faces
    impostor = call(dialects, "face_register", a, image=photo(ROB, 1), app_id="gate", user_id="u-other")
    assert impostor["code"] == 40315 and impostor["face_id"] in (rob["face_id"], second["face_id"])
    hop = call(dialects, "face_register", a, image=photo(HOPKINS, 0), app_id="gate", user_id="u-hop")
    assert hop["code"] == 200

    found = call(dialects, "face_search", a, app_id="gate", user_id="u-rob")
    assert found["code"] == 200 and sorted(found["result"]) == sorted([rob["face_id"], second["face_id"]])
    assert call(dialects, "face_search", a, app_id="gate", user_id="nobody") == {
        "code": 40317, "message": "Dababase has no userid", "result": []
    }

    recognised = call(dialects, "face_recognise", a, image=photo(HOPKINS, 1), app_id="gate")
    assert recognised["code"] == 200 and recognised["check_result"] == 0 and recognised["user_id"] == "u-hop"
    assert 0 < recognised["score"] <= 1
    stranger = call(dialects, "face_recognise", a, image=CLAPTON, app_id="gate")
    assert (stranger["code"], stranger["user_id"], stranger["score"]) == (40312, "-1", -1)

    pair = call(dialects, "face_compare", a, image=photo(HOPKINS, 1), image_1=photo(HOPKINS, 0))
    assert pair["code"] == 200 and pair["result"] is True and pair["check_result"] == 0
    other = call(dialects, "face_compare", a, image=photo(HOPKINS, 1), image_1=photo(ROB, 0))
    assert other["result"] is False and other["score"] < pair["score"]
    by_user = call(dialects, "face_compare", a, image=photo(ROB, 1), app_id="gate", user_id="u-rob")
    assert by_user["code"] == 200 and by_user["result"] is True

    updated = call(dialects, "face_update", a, image=photo(HOPKINS, 1), app_id="gate", face_id=str(hop["face_id"]))
    assert updated["code"] == 200 and updated["face_id"] == hop["face_id"]
    assert call(dialects, "face_search", a, app_id="gate", user_id="u-hop")["result"] == [hop["face_id"]]
    removed = call(dialects, "face_update", a, app_id="gate", face_id=str(hop["face_id"]))  # no image: delete
    assert removed["code"] == 200
    assert call(dialects, "face_search", a, app_id="gate", user_id="u-hop")["code"] == 40317

    deleted = call(dialects, "face_delete", a, app_id="gate", face_id=str(second["face_id"]))
    assert deleted == {"code": 200, "message": "success", "face_id": second["face_id"]}
    again = call(dialects, "face_delete", a, app_id="gate", face_id=str(second["face_id"]))
    assert again == {"code": 40313, "message": "Delete faceid failed", "face_id": -1}

    # Another tenant's app of the same name is another library.
    b = dialects.tenant_b
    assert call(dialects, "face_search", b, app_id="gate", user_id="u-rob")["code"] == 40316
    assert call(dialects, "face_register", b, image=CLAPTON, app_id="gate", user_id="eric")["code"] == 200
    assert call(dialects, "face_recognise", b, image=photo(ROB, 1), app_id="gate")["code"] == 40312


def test_face_check_locations_probability_landmarks(dialects: DialectService) -> None:
    a = dialects.tenant_a
    one = call(dialects, "face_check", a, image=TWO_PEOPLE)
    assert one["code"] == 200 and one["face_num"] == 2 and len(one["face_information"]) == 1
    both = call(dialects, "face_check", a, image=TWO_PEOPLE, max_num="5")["face_information"]
    assert len(both) == 2
    for face in both:
        assert set(face) == {"check_result", "face_location", "face_probability", "landmark"}
        assert face["face_location"].startswith("(") and face["face_location"].count(",") == 3
        assert 0 <= face["face_probability"] <= 1
        assert face["landmark"] and {"x", "y"} == set(face["landmark"][0])
    assert call(dialects, "face_check", a, image=NO_FACE) == {
        "code": 40304, "message": "No face", "face_num": 0, "check_result": 10, "face_information": []
    }
    assert call(dialects, "face_check", a, image=TWO_PEOPLE, max_num="0")["code"] == 40203


def test_documented_error_codes(dialects: DialectService) -> None:
    a = dialects.tenant_a
    register = {"image": photo(ROB, 0), "app_id": "errors", "user_id": "someone"}

    def code(endpoint: str, **fields: Any) -> int:
        return int(call(dialects, endpoint, a, **fields)["code"])

    assert code("face_register", **{**register, "app_id": ""}) == 40307
    assert code("face_register", image=photo(ROB, 0), app_id="errors") == 40310
    assert code("face_register", app_id="errors", user_id="someone") == 40300
    assert code("face_register", **{**register, "image": b""}) == 40300
    assert code("face_register", **{**register, "image": NOT_AN_IMAGE}) == 40308
    assert code("face_register", **{**register, "user_id": "u" * 200}) == 40202
    assert code("face_register", **{**register, "face_direction": "9"}) == 40203
    assert code("face_register", **{**register, "image": TWO_PEOPLE}) == 40306
    no_face = call(dialects, "face_register", a, **{**register, "image": NO_FACE})
    assert (no_face["code"], no_face["check_result"], no_face["face_id"]) == (40304, 10, -1)
    assert code("face_recognise", image=photo(ROB, 0), app_id="never-registered") == 40316
    assert code("face_delete", app_id="errors") == 40316  # refused registrations created no app
    assert code("face_register", **register) == 200
    assert code("face_delete", app_id="errors") == 40318
    assert code("face_update", app_id="errors", face_id="424242") == 40318
    assert code("face_compare", image=photo(ROB, 0)) == 40201
    assert code("face_compare", image=photo(ROB, 0), app_id="errors") == 40310
    assert code("face_compare", image=photo(ROB, 0), app_id="errors", user_id="nobody") == 40309
    unauthorized = call(dialects, "face_check", None, image=photo(ROB, 0))
    assert unauthorized["code"] == 401



def test_image_as_a_base64_form_field_is_accepted(dialects: DialectService) -> None:
    import base64

    text = base64.b64encode(photo(HOPKINS, 0).read_bytes()).decode()
    checked = call(dialects, "face_check", dialects.tenant_a, image=text)
    assert checked["code"] == 200 and checked["face_num"] == 1
    assert call(dialects, "face_check", dialects.tenant_a, image="not base64 %%%")["code"] == 40308


def test_register_refuses_a_dark_photo_with_its_quality_code(dialects: DialectService) -> None:
    import io

    from PIL import Image, ImageEnhance

    original = Image.open(photo(HOPKINS, 0)).convert("RGB")
    buffer = io.BytesIO()
    ImageEnhance.Brightness(original).enhance(0.15).save(buffer, format="JPEG", quality=92)
    dark = call(dialects, "face_register", dialects.tenant_a, image=buffer.getvalue(), app_id="gate-q", user_id="u-dark")
    assert (dark["code"], dark["check_result"]) == (40301, 31), dark
