"""Seed-dialect probes leave the object store with their job, as the native API's do: a
count of every object before and after each dialect's detect, search, compare, embed and
recognise calls (every probe stored, none held) finds only the enrolled faces' images and
crops added, and seed 002's token-named probes, kept until their tokens expire."""

from __future__ import annotations

import base64
import hashlib
import random
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from infra.settings import Settings
from tests.dialects.conftest import HOPKINS, ROB, DialectService, photo

pytestmark = [pytest.mark.model, pytest.mark.integration]

PREFIXES = ("images/", "crops/", "probes/")


def objects(settings: Settings) -> set[str]:
    from infra.object_store import object_store_from_settings

    store = object_store_from_settings(settings.object_store)
    return {key for prefix in PREFIXES for key in store.list_keys(prefix)}


def referenced_by_faces(settings: Settings, keys: set[str]) -> set[str]:
    from infra.db import Database
    from infra.db.repositories import FaceRepo

    database = Database.from_settings(settings.database)
    try:
        return FaceRepo(database).referenced_keys(keys)
    finally:
        database.dispose()


def fresh_copy(source: Path, folder: Path) -> Path:
    """New bytes (one pixel changed) no other test has sent, so a stray `images/` object
    of them could only come from this test."""
    image = Image.open(source).convert("RGB")
    image.putpixel((0, 0), tuple(random.randrange(256) for _ in range(3)))
    copy = folder / f"{random.getrandbits(64):016x}.png"
    image.save(copy)
    return copy


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def content_key(path: Path) -> str:
    return f"images/{hashlib.sha256(path.read_bytes()).hexdigest()}"


def ok_json(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def test_dialect_probes_are_deleted_with_their_job_and_only_enrollments_stay(
    dialects: DialectService, tmp_path: Path
) -> None:
    from api.app import create_app

    # Every probe stored, none held for the request: the store path is the one under test.
    settings = dialects.settings.model_copy(
        update={"api": dialects.settings.api.model_copy(update={"inline_probe_max_bytes": 0})}
    )
    http: FlaskClient = create_app(settings).test_client()
    app7 = {"Apid": 7, "Kvalue": dialects.app7.api_key}
    gateway = {"X-GW-Authorization": dialects.tenant_a.api_key}
    rob = [fresh_copy(photo(ROB, index % 2), tmp_path) for index in range(12)]
    hopkins = fresh_copy(photo(HOPKINS, 0), tmp_path)
    before = objects(settings)

    # Enrollments: seed 001 and seed 003 (kept, under their content keys).
    enrolled = ok_json(http.post("/api/face", data={**app7, "Fimg": b64(hopkins), "Fname": "probes"}))
    fid = enrolled["Fid"]
    registered = ok_json(
        http.post(
            "/cv/face/face_register",
            data={"app_id": "probes-gate", "user_id": "u-hopkins", "image": (hopkins.open("rb"), "h.png")},
            headers=gateway,
        )
    )
    assert registered["code"] == 200, registered

    # Probes of every dialect, each a photo no one enrolled.
    descriptor = http.post("/get_face_descriptor", data={"file": (rob[0].open("rb"), "rob.png")})
    assert ok_json(descriptor)["success"] is True
    similarity = ok_json(
        http.post("/api/similarity", data={**app7, "Fimg1": b64(rob[1]), "Fimg2": b64(rob[2])})
    )
    assert similarity["msg_code"] == 1 and len(similarity["similarity"]) == 1
    assert ok_json(http.post("/api/detection", data={**app7, "Fimg": b64(rob[3])}))["msg_code"] == 1
    match = ok_json(http.post("/api/match", data={**app7, "Fid": fid, "Fimg": b64(rob[4])}))
    assert match["msg_code"] == 1 and match["match"] is False
    for endpoint, fields in (
        ("face_check", {"image": rob[5]}),
        ("face_recognise", {"image": rob[6], "app_id": "probes-gate"}),
        ("face_compare", {"image": rob[7], "image_1": rob[8]}),
        ("face_compare", {"image": rob[9], "app_id": "probes-gate", "user_id": "u-hopkins"}),
    ):
        form = {
            name: (value.open("rb"), value.name) if isinstance(value, Path) else value
            for name, value in fields.items()
        }
        answer = ok_json(http.post(f"/cv/face/{endpoint}", data=form, headers=gateway))
        assert answer["code"] in (200, 40312), (endpoint, answer)

    # Seed 002: its tokens name the detect's and the search's images after the call.
    detected = ok_json(http.post("/detect", data={"image_file": (rob[10].open("rb"), "rob.png")}))
    token = detected["faces"][0]["face_token"]
    searched = ok_json(
        http.post("/search", data={"image_file": (rob[11].open("rb"), "rob.png"), "threshold": "0.6"})
    )
    by_token = ok_json(
        http.get("/search", query_string={"face_token": searched["face_token"], "threshold": "0.6"})
    )
    assert by_token["success"] is True
    assert ok_json(http.get("/addface", query_string={"face_token": token, "face_name": "rob-002"}))[
        "success"
    ]

    deadline = time.monotonic() + 20
    while any(
        key.startswith("probes/") and not key.startswith("probes/named/")
        for key in objects(settings) - before
    ):
        assert time.monotonic() < deadline, "probes were left behind"
        time.sleep(0.2)

    added = objects(settings) - before
    named = {key for key in added if key.startswith("probes/named/")}
    assert len(named) == 2, "the detect's and the search's images stay while their tokens are valid"
    kept = added - named
    assert kept == referenced_by_faces(settings, kept), f"only enrolled faces' objects: {kept}"
    assert content_key(hopkins) in kept, "the enrolled photo, under its content key"
    assert content_key(rob[10]) in kept, "/addface enrolled the token's image under its content key"
    for probe in rob[:10] + rob[11:]:
        assert content_key(probe) not in added, f"{probe.name} was stored as an image, not as a probe"

    # The shared dialect face sets as the other tests expect them.
    assert ok_json(http.delete("/api/face", data={**app7, "Fid": fid}))["msg_code"] == 1
    removed = http.post(
        "/cv/face/face_delete",
        data={"app_id": "probes-gate", "face_id": str(registered["face_id"])},
        headers=gateway,
    )
    assert ok_json(removed)["code"] == 200
    assert ok_json(http.get("/removeface", query_string={"face_token": token}))["success"]
