"""Probe images leave the object store when their job's result is stored: a count of
every object before and after a few hundred mixed calls (detect, compare, search, live
detect; sync and async; uploads, base64 and image_url) finds exactly the enrolled faces'
images and crops added, and nothing else, while an enrolled image whose bytes were also
sent as a probe, or named as one by image_url, stays."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ApiStack, unique
from tests.api.photos import ALLEN, GUIDO, OBAMA_240, OBAMA_SMALL, WOZNIAK, unique_copy
from tests.support.client import ProjectClient
from tests.support.photos import FACES

pytestmark = [pytest.mark.integration, pytest.mark.model]

PREFIXES = ("images", "crops", "probes", "liveness")
VIDEO = FACES.parent / "videos" / "sadtalker" / "WDA_AlexandriaOcasioCortez_000.mp4"


def objects(api: ApiStack) -> set[str]:
    store = api.store()
    return {key for prefix in PREFIXES for key in store.list_keys(prefix)}


def wait_for_probe_deletes(api: ApiStack, before: set[str]) -> None:
    """The worker deletes a probe right after storing the result the API answers with."""
    deadline = time.monotonic() + 15
    while any(key.startswith("probes/") for key in objects(api) - before) and time.monotonic() < deadline:
        time.sleep(0.2)


def referenced_by_faces(api: ApiStack, keys: set[str]) -> set[str]:
    from infra.db import Database
    from infra.db.repositories import FaceRepo

    database = Database.from_settings(api.settings.database)
    try:
        return FaceRepo(database).referenced_keys(keys)
    finally:
        database.dispose()


def b64(photo: Path) -> str:
    return base64.b64encode(photo.read_bytes()).decode()


def test_a_few_hundred_mixed_calls_leave_only_the_enrolled_faces_objects(
    api: ApiStack, client: ProjectClient, tmp_path: Path
) -> None:
    face_set = unique("probes")
    client.create_face_set(face_set)
    # New bytes: other tests of this shared stack enroll the plain photos too.
    obama, woz, guido = (unique_copy(photo, tmp_path) for photo in (OBAMA_SMALL, WOZNIAK, GUIDO))
    before = objects(api)
    enrolled = []
    for photo, user in ((obama, "obama"), (woz, "woz"), (guido, "guido")):
        response = client.add_face(face_set, photo, user_id=user, select="largest")
        assert response.status_code == 200, response.get_json()
        enrolled += response.get_json()["faces"]
    enrolled_objects = objects(api) - before
    assert len(enrolled_objects) >= 3, "the enrolled faces' images (and crops, unless shared)"
    enrolled_url = api.image_url(obama.read_bytes())  # the enrolled photo, named by URL

    # The enrolled photos themselves are probes too: same bytes as an enrolled image.
    photos = [obama, OBAMA_240, woz, guido, ALLEN]
    async_jobs: list[str] = []
    calls = 0
    for round_number in range(40):
        photo = photos[round_number % len(photos)]
        async_headers = {"Prefer": "respond-async"} if round_number % 4 == 0 else {}
        detect = client.call("POST", "/face-detect", json={"image_base64": b64(photo)}, headers=async_headers)
        search = client.call(
            "POST",
            f"/face-sets/{face_set}/search",
            data={"image_file": (photo.open("rb"), photo.name)},
            content_type="multipart/form-data",
        )
        compare = client.call(
            "POST",
            "/face-compare",
            json={"image1_base64": b64(OBAMA_SMALL), "image2_url": enrolled_url}
            if round_number % 5 == 0
            else {"image1_base64": b64(photo), "image2_base64": b64(OBAMA_240)},
        )
        by_face = client.call("POST", f"/face-sets/{face_set}/search", json={"face_id": enrolled[0]["face_id"]})
        for response in (detect, search, compare, by_face):
            assert response.status_code in (200, 202), response.get_json()
            if response.status_code == 202:
                async_jobs.append(response.get_json()["job_id"])
        calls += 4
    failing = client.call("POST", "/face-detect", json={"image_base64": b64(FACES.parent / "videos" / "MANIFEST.md")})
    assert failing.status_code == 400, failing.get_json()  # a failed job's probe goes too
    live = client.call(
        "POST",
        "/live-detect",
        data={"video_file": (VIDEO.open("rb"), VIDEO.name), "actions": "blink"},
        content_type="multipart/form-data",
    )
    assert live.status_code == 200, live.get_json()
    assert "image_key" not in live.get_json()["best_frame"]
    calls += 2
    assert calls >= 160
    for job_id in async_jobs:
        assert client.wait_job(job_id)["status"] == "succeeded"
    wait_for_probe_deletes(api, before)

    after = objects(api)
    assert enrolled_objects <= after
    # Every new object is some face's image or crop (this test's, or a face another test's
    # late job enrolled meanwhile): no probe, no liveness frame.
    new = after - before
    assert new - referenced_by_faces(api, new) == set(), f"left behind: {sorted(new - enrolled_objects)[:10]}"
    assert not [key for key in new if key.startswith(("probes/", "liveness/"))]
    # The enrolled image sent again as a probe (same bytes) and by URL is still there and usable.
    assert client.search(face_set, obama)["faces"][0]["face_id"] == enrolled[0]["face_id"]
    wait_for_probe_deletes(api, before)
    assert not [key for key in objects(api) - before if key.startswith("probes/")]
    probe_root = api.settings.object_store.local_root / "probes"
    empty = [folder for folder in probe_root.glob("*") if folder.is_dir() and not any(folder.iterdir())]
    assert empty == [], "no empty per-request folders either"


def test_reconciliation_removes_probes_left_behind_and_keeps_retained_ones(api: ApiStack) -> None:
    from datetime import timedelta

    from workers.maintenance import reconcile
    from workers.runtime import Runtime

    runtime = Runtime(api.settings)
    left_by_a_crash = runtime.store.put(b"probe of a job whose worker died", "image/jpeg", prefix="probes/crashed")
    retained = api.settings.model_copy(
        update={"jobs": api.settings.jobs.model_copy(update={"probe_retention_seconds": 3600})}
    )
    reconcile(Runtime(retained), grace=timedelta(0))
    assert runtime.store.exists(left_by_a_crash), "younger than the retention: kept"
    reconcile(runtime, grace=timedelta(0))
    assert not runtime.store.exists(left_by_a_crash), "past the retention (0) and the grace: removed"


def test_a_retry_of_a_finished_job_leaves_no_probe(api: ApiStack, client: ProjectClient) -> None:
    key = unique("retry")
    body = {"image_base64": b64(OBAMA_240)}
    first = client.call("POST", "/face-detect", json=body, headers={"Idempotency-Key": key})
    again = client.call("POST", "/face-detect", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 200 and first.get_json() == again.get_json()
    # The probe key of a request with an Idempotency-Key derives from it (api.images).
    nonce = hashlib.sha256(f"{client.project_id}\0{key}".encode()).hexdigest()[:32]
    left = [name for name in objects(api) if name.startswith(f"probes/{nonce}/")]
    assert left == [], "the retry's upload is deleted, as the first request's was"
