"""Seed 001: ``/api/*`` with ``Apid`` + ``Kvalue``, parameters as form data on every method
(the document's clients call ``requests.get(url, data=...)``), answers by ``msg_code``."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.dialects.conftest import (
    HOPKINS,
    NO_FACE,
    NOT_AN_IMAGE,
    OBAMA_240P,
    OBAMA_SMALL,
    ROB,
    TWO_PEOPLE,
    DialectService,
    Tenant,
    b64,
    photo,
)

pytestmark = [pytest.mark.model, pytest.mark.integration]


def call(dialects: DialectService, method: str, path: str, app: Tenant | None, apid: int = 7, **form: Any) -> Any:
    data = {**({"Apid": apid, "Kvalue": app.api_key} if app is not None else {}), **form}
    # as the document's clients do: requests.<method>(url, data=...), form body on every method
    response = requests.request(method, f"{dialects.url}{path}", data=data, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def test_face_lifecycle_add_list_get_update_match_delete(dialects: DialectService) -> None:
    app = dialects.app7
    added = call(dialects, "POST", "/api/face", app, Fimg=b64(photo(ROB, 0)), Fname="woz")
    assert set(added) == {"msg_code", "Fid", "Fname"}
    assert added["msg_code"] == 1 and added["Fname"] == "woz" and isinstance(added["Fid"], int)
    fid = added["Fid"]

    unnamed = call(dialects, "POST", "/api/face", app, Fimg=b64(photo(HOPKINS, 0)))
    assert unnamed["msg_code"] == 1 and unnamed["Fname"].isdigit()  # a timestamp

    listed = call(dialects, "GET", "/api/face", app)
    assert listed["msg_code"] == 1
    assert {"Fid": fid, "Fname": "woz", "Apid": 7} in listed["faces"]
    assert {face["Fid"] for face in listed["faces"]} >= {fid, unnamed["Fid"]}

    single = call(dialects, "GET", "/api/singleface", app, Fid=fid)
    assert single == {"msg_code": 1, "Fid": fid, "Fname": "woz"}

    same = call(dialects, "GET", "/api/match", app, Fid=fid, Fimg=b64(photo(ROB, 1)))
    other = call(dialects, "GET", "/api/match", app, Fid=fid, Fimg=b64(photo(HOPKINS, 1)), Threshold=0.5)
    assert same == {"msg_code": 1, "match": True}
    assert other == {"msg_code": 1, "match": False}

    renamed = call(dialects, "PUT", "/api/face", app, Fid=fid, Fname="steve")
    assert renamed == {"msg_code": 1, "Fid": fid, "Fname": "steve"}
    # a new image replaces the face under the same Fid
    replaced = call(dialects, "PUT", "/api/face", app, Fid=fid, Fimg=b64(photo(HOPKINS, 0)))
    assert replaced == {"msg_code": 1, "Fid": fid, "Fname": "steve"}
    now_allen = call(dialects, "GET", "/api/match", app, Fid=fid, Fimg=b64(photo(HOPKINS, 1)))
    assert now_allen["match"] is True

    deleted = call(dialects, "DELETE", "/api/face", app, Fid=fid)
    assert deleted == {"msg_code": 1, "Fid": fid, "Fname": "steve"}
    assert call(dialects, "GET", "/api/singleface", app, Fid=fid) == {"msg_code": 7}
    assert call(dialects, "DELETE", "/api/face", app, Fid=fid) == {"msg_code": 7}


def test_similarity_and_detection(dialects: DialectService) -> None:
    app = dialects.app7
    similar = call(
        dialects, "POST", "/api/similarity", app,
        Fimg1=b64(photo(ROB, 0)), Fimg2=b64(photo(ROB, 1)), Fimg3=b64(photo(HOPKINS, 0)),
    )
    assert similar["msg_code"] == 1 and len(similar["similarity"]) == 2
    same_person, other_person = similar["similarity"]
    assert same_person > other_person

    detected = call(dialects, "POST", "/api/detection", app, Fimg=b64(TWO_PEOPLE))
    assert detected["msg_code"] == 1 and len(detected["location"]) == 2
    for top, right, bottom, left in detected["location"]:  # face_recognition's order
        assert 0 <= top < bottom and 0 <= left < right


def test_auth_codes_and_app_isolation(dialects: DialectService) -> None:
    app7, app8 = dialects.app7, dialects.app8
    assert call(dialects, "GET", "/api/face", None, Kvalue=app7.api_key) == {"msg_code": 3}
    assert call(dialects, "GET", "/api/face", app7, apid=999) == {"msg_code": 3}
    assert call(dialects, "GET", "/api/face", None, Apid=7, Kvalue="wrong") == {"msg_code": 2}
    # app 8's key opens app 8 only
    assert call(dialects, "GET", "/api/face", app8, apid=7) == {"msg_code": 2}
    fid = call(dialects, "POST", "/api/face", app7, Fimg=b64(OBAMA_SMALL), Fname="iso")["Fid"]
    assert call(dialects, "GET", "/api/singleface", app8, apid=8, Fid=fid) == {"msg_code": 7}
    assert all(face["Fid"] != fid for face in call(dialects, "GET", "/api/face", app8, apid=8)["faces"])


def test_documented_error_codes_for_bad_input(dialects: DialectService) -> None:
    app = dialects.app7
    not_image = call(dialects, "POST", "/api/face", app, Fimg="bm90IGFuIGltYWdl")  # base64 of text
    assert not_image == {"msg_code": 4}
    assert call(dialects, "POST", "/api/face", app, Fimg="%%% not base64 %%%") == {"msg_code": 4}
    assert call(dialects, "POST", "/api/face", app) == {"msg_code": 4}
    assert call(dialects, "POST", "/api/face", app, Fimg=b64(NO_FACE)) == {"msg_code": 5}
    assert call(dialects, "POST", "/api/face", app, Fimg=b64(TWO_PEOPLE)) == {"msg_code": 6}
    assert call(dialects, "POST", "/api/detection", app, Fimg=b64(NO_FACE)) == {"msg_code": 5}
    assert call(dialects, "GET", "/api/singleface", app, Fid=123456789) == {"msg_code": 7}
    assert call(dialects, "GET", "/api/singleface", app) == {"msg_code": 7}
    assert call(dialects, "GET", "/api/match", app, Fid=1, Fimg=b64(photo(ROB))) == {"msg_code": 7}
    fid = call(dialects, "POST", "/api/face", app, Fimg=b64(OBAMA_240P))["Fid"]
    bad_video = call(dialects, "POST", "/api/living", app, Fid=fid, Action=1, Fvideo="%%%")
    assert bad_video == {"msg_code": 8}
    assert call(dialects, "POST", "/api/living", app, Fid=424242, Action=1, Fvideo="AAAA") == {"msg_code": 7}
    assert NOT_AN_IMAGE  # the base64 above encodes text of the same kind


def test_living_checks_the_action_and_matches_the_enrolled_face(dialects: DialectService) -> None:
    import base64

    import cv2

    from tests.support.photos import FACES

    app = dialects.app7
    video = FACES.parent / "videos" / "sadtalker" / "WDA_AlexandriaOcasioCortez_000.mp4"  # blinks marked
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 100)
    ok, frame = capture.read()
    capture.release()
    assert ok
    still = cv2.imencode(".jpg", frame)[1].tobytes()
    fid = call(dialects, "POST", "/api/face", app, Fimg=base64.b64encode(still).decode(), Fname="aoc")["Fid"]
    clip = base64.b64encode(video.read_bytes()).decode()

    living = call(dialects, "POST", "/api/living", app, Fid=fid, Action=1, Fvideo=clip)
    assert living == {"msg_code": 1, "match": True, "real": True}

    stranger = call(dialects, "POST", "/api/face", app, Fimg=b64(photo(ROB, 0)), Fname="other")["Fid"]
    mismatch = call(dialects, "POST", "/api/living", app, Fid=stranger, Action=1, Fvideo=clip)
    assert mismatch["msg_code"] == 1 and mismatch["match"] is False
