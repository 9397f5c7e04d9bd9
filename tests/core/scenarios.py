"""The end-to-end flows of the queue-driven core, run against each stack flavour."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import text

from core.jobs import JobKind
from core.messages import dispatch
from tests.support.photos import FACES, identity_photos, single_face_identities

WOZNIAK = "face_recognition-steve_wozniak"
ALLEN = "face_recognition-paul_allen"
GUIDO = "face_recognition-guido_van_rossum"


def new_face_set(service: Any) -> str:
    name = f"set_{uuid.uuid4().hex[:8]}"
    service.client.create_face_set(name)
    return name


def enroll_then_search_finds_the_face(service: Any) -> None:
    client = service.client
    face_set = new_face_set(service)
    first, second = identity_photos(WOZNIAK)[:2]
    added = client.add_face(face_set, first, external_image_id="woz-1")
    assert added.status_code == 200, added.get_json()
    faces = added.get_json()["faces"]
    assert len(faces) == 1 and faces[0]["external_image_id"] == "woz-1"
    face_id = faces[0]["face_id"]

    same_person = client.search(face_set, second, threshold=0.5)["faces"]
    assert [hit["face_id"] for hit in same_person][:1] == [face_id]
    assert same_person[0]["similarity"] >= 0.5

    other_person = client.search(face_set, identity_photos(ALLEN)[0], threshold=0.5)["faces"]
    assert face_id not in [hit["face_id"] for hit in other_person]


def delete_then_search_misses(service: Any) -> None:
    client = service.client
    face_set = new_face_set(service)
    photos = identity_photos(GUIDO)
    face_id = client.add_face(face_set, photos[0]).get_json()["faces"][0]["face_id"]
    assert [hit["face_id"] for hit in client.search(face_set, photos[1], threshold=0.5)["faces"]] == [face_id]

    deleted = client.ok("DELETE", f"/face-sets/{face_set}/faces", query_string={"face_id": face_id})
    assert deleted["face_number"] == 1
    assert client.search(face_set, photos[1], threshold=0.0)["faces"] == []
    assert client.face_ids(face_set) == []


def redelivered_enrollment_is_a_no_op(service: Any) -> None:
    """Re-sending a finished job does nothing; re-running one whose worker died after
    writing (row reset to `running`) rewrites the same ids and adds no face."""
    client, stack = service.client, service.stack
    face_set = new_face_set(service)
    response = client.call(
        "POST",
        f"/face-sets/{face_set}/faces",
        data={"image_file": identity_photos(ALLEN)[0].open("rb")},
        content_type="multipart/form-data",
        query_string={"async": "true"},
    )
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["job_id"]
    job = client.wait_job(job_id)
    assert job["status"] == "succeeded", job
    face_ids = client.face_ids(face_set)
    assert len(face_ids) == 1

    from infra.celery_config import make_celery
    from infra.db import Database

    producer = make_celery(stack.settings, main="test.redeliver")
    database = Database.from_settings(stack.settings.database)
    payload = _job_payload(database, job_id)

    dispatch(producer, JobKind.ENROLL, job_id, payload)  # finished job: must be ignored
    with database.engine.begin() as connection:  # as if the worker died after its writes
        connection.execute(text("UPDATE jobs SET status = 'running' WHERE id = :id"), {"id": job_id})
    dispatch(producer, JobKind.ENROLL, job_id, payload)
    rerun = client.wait_job(job_id)
    assert rerun["status"] == "succeeded", rerun
    assert [face["face_id"] for face in rerun["result"]["faces"]] == face_ids
    time.sleep(1.0)  # give the first re-send time to (not) act
    assert client.face_ids(face_set) == face_ids
    info = client.ok("GET", f"/face-sets/{face_set}")["face_set_info"]
    assert info["face_number"] == 1


def worker_killed_mid_batch_loses_and_duplicates_nothing(service: Any) -> None:
    client, stack = service.client, service.stack
    face_set = new_face_set(service)
    photos = [p for identity in (WOZNIAK, ALLEN, GUIDO) for p in identity_photos(identity)[:4]]
    accepted = client.enroll_batch(face_set, photos, select="largest")
    job_id = accepted["job_id"]

    # Kill the worker while the batch is half done.
    deadline = time.monotonic() + 120
    while True:
        progress = client.job(job_id).get("progress") or {}
        if progress.get("done", 0) >= 3:
            break
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.1)
    stack.kill_worker(stack.workers[0])
    assert client.job(job_id)["status"] != "succeeded"
    stack.start_worker(name="w-after-kill")

    job = client.wait_job(job_id, timeout=240)
    assert job["status"] == "succeeded", job
    items = job["result"]["items"]
    assert len(items) == len(photos)
    enrolled = [face["face_id"] for item in items for face in item.get("faces", [])]
    assert [item["status"] for item in items] == ["added"] * len(photos), items
    assert len(enrolled) == len(photos) and len(set(enrolled)) == len(photos), items
    assert sorted(client.face_ids(face_set)) == sorted(enrolled)
    assert client.ok("GET", f"/face-sets/{face_set}")["face_set_info"]["face_number"] == len(photos)


def _job_payload(database: Any, job_id: str) -> dict[str, Any]:
    with database.engine.connect() as connection:
        payload = connection.execute(text("SELECT payload FROM jobs WHERE id = :id"), {"id": job_id}).scalar_one()
    if isinstance(payload, str):
        import json

        payload = json.loads(payload)
    return dict(payload)


def updated_fields_are_what_filtered_search_sees(service: Any) -> None:
    client = service.client
    face_set = f"set_{uuid.uuid4().hex[:8]}"
    client.create_face_set(face_set, external_fields={"site": {"type": "string"}})
    photos = identity_photos(WOZNIAK)
    added = client.add_face(face_set, photos[0], external_fields={"site": "north"})
    assert added.status_code == 200, added.get_json()
    face_id = added.get_json()["faces"][0]["face_id"]
    assert [h["face_id"] for h in client.search(face_set, photos[1], filter="site:north")["faces"]] == [face_id]

    client.ok("PUT", f"/face-sets/{face_set}/faces", json={"face_id": face_id, "external_fields": {"site": "south"}})
    assert client.search(face_set, photos[1], filter="site:north")["faces"] == []
    moved = client.search(face_set, photos[1], filter="site:south")["faces"]
    assert [h["face_id"] for h in moved] == [face_id] and moved[0]["external_fields"] == {"site": "south"}


VIDEOS = FACES.parent / "videos"


def live_detect_passes_a_blinking_face_and_fails_a_still_photo(service: Any, tmp_path: Any) -> None:
    import cv2
    import numpy as np
    from PIL import Image

    client = service.client
    talking = VIDEOS / "sadtalker" / "WDA_AlexandriaOcasioCortez_000.mp4"  # blinks marked in videos.csv
    response = client.call(
        "POST",
        "/live-detect",
        data={"video_file": (talking.open("rb"), talking.name), "actions": "blink"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["alive"] is True and body["actions"][0]["action"] == "blink" and body["actions"][0]["passed"]
    assert "image_key" not in body["best_frame"], "a passer-by's face is not stored by default"

    # A printed photo held still: the face is there in every frame, but it never blinks.
    photo = np.asarray(Image.open(identity_photos(WOZNIAK)[1]).convert("RGB"))
    still = tmp_path / "still.avi"
    writer = cv2.VideoWriter(str(still), cv2.VideoWriter_fourcc(*"MJPG"), 15, (photo.shape[1], photo.shape[0]))
    for _ in range(45):
        writer.write(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    writer.release()
    response = client.call(
        "POST",
        "/live-detect",
        data={"video_file": (still.open("rb"), still.name), "actions": "blink"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["alive"] is False

    not_a_video = client.call(
        "POST",
        "/live-detect",
        data={"video_file": (identity_photos(WOZNIAK)[0].open("rb"), "x.mp4"), "actions": "blink"},
        content_type="multipart/form-data",
    )
    assert not_a_video.status_code == 400 and not_a_video.get_json()["error_code"] == "FRS.0116"


def reconciliation_removes_what_a_crash_left_and_keeps_live_faces(service: Any) -> None:
    """A crash between the writes of an enrollment leaves a crop and a vector with no row
    (the row commit is what makes a face exist). Reconciliation removes exactly those; it
    runs as the housekeeper runs it, in a fresh interpreter with the worker's environment."""
    from datetime import timedelta

    import numpy as np

    from facefleet.embedded import child_env
    from infra.vector_index import VectorRecord
    from workers.maintenance import reconcile_in_fresh_process
    from workers.runtime import Runtime

    client = service.client
    face_set = new_face_set(service)
    live = client.add_face(face_set, identity_photos(GUIDO)[0]).get_json()["faces"][0]["face_id"]
    info = client.ok("GET", f"/face-sets/{face_set}")["face_set_info"]
    face_set_id = info["face_set_id"]

    runtime = Runtime(service.stack.settings)
    model_id = info["model"]  # the face set's model holds its vectors
    orphan_crop = runtime.store.put(b"crop of a face whose row never committed", "image/jpeg", prefix="crops")
    vector = np.random.default_rng(7).normal(size=128).astype(np.float32)
    runtime.index.upsert(
        model_id,
        [VectorRecord(face_id="orphan-face", vector=vector / np.linalg.norm(vector),
                      project_id=client.project_id, face_set_id=face_set_id)],
    )
    assert "orphan-face" in runtime.index.get_vectors(model_id, ["orphan-face"])

    assert reconcile_in_fresh_process(grace=timedelta(0), env=child_env(service.stack.settings)) == 0
    assert runtime.index.get_vectors(model_id, ["orphan-face"]) == {}
    assert not runtime.store.exists(orphan_crop)
    # The enrolled face is untouched: row, vector, image and crop.
    row = runtime.faces.get(client.project_id, face_set_id, live)
    assert row is not None and live in runtime.index.get_vectors(model_id, [live])
    assert runtime.store.exists(row.image_key) and (row.crop_key is None or runtime.store.exists(row.crop_key))
    assert [h["face_id"] for h in client.search(face_set, identity_photos(GUIDO)[1], threshold=0.5)["faces"]] == [live]


def a_second_batch_is_not_stuck_behind_the_first(service: Any) -> None:
    """Each batch keeps only a few chunks queued, so a small batch submitted after a big
    one finishes while the big one is still running (one worker)."""
    client = service.client
    big_set, small_set = new_face_set(service), new_face_set(service)
    # Big enough that it cannot finish while the small one is still being uploaded on a
    # loaded machine (12 photos once did, in the full suite).
    big_identities = (WOZNIAK, ALLEN, GUIDO, *single_face_identities()[:4])
    big = [p for identity in big_identities for p in identity_photos(identity)]
    big_job = client.enroll_batch(big_set, big, select="largest")["job_id"]
    small_job = client.enroll_batch(small_set, identity_photos(WOZNIAK)[:3], select="largest")["job_id"]
    small = client.wait_job(small_job, timeout=240)
    assert small["status"] == "succeeded", small
    assert client.job(big_job)["status"] == "running"
    big_done = client.wait_job(big_job, timeout=240)
    assert big_done["status"] == "succeeded" and big_done["result"]["added"] == len(big)
