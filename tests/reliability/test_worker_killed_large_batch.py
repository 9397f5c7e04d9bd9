"""Fault 1: SIGKILL a worker in the middle of a 500-image batch (issue 8).

Every image ends as exactly one item (a face or a per-item error), the job finishes, and no
face is enrolled twice. Images are small re-encodings of the shared photos (each distinct,
so content hashing does not fold them) to keep the run short on 2 cores.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image

from tests.support.client import project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.stack import FAULT_JOBS, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]

BATCH = 500


def small_distinct_photos(folder: Path, count: int) -> list[Path]:
    sources = [p for identity in single_face_identities() for p in identity_photos(identity)]
    folder.mkdir()
    made: list[Path] = []
    for index in range(count):
        image = Image.open(sources[index % len(sources)]).convert("RGB")
        image.thumbnail((240, 240))
        shift = index // len(sources)  # a few pixels of crop make every file distinct
        image = image.crop((shift, shift, image.width, image.height))
        path = folder / f"{index:04d}.jpg"
        image.save(path, "JPEG", quality=85)
        made.append(path)
    return made


def test_sigkill_mid_500_image_batch_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    photos = small_distinct_photos(tmp_path / "photos", BATCH)
    with start_stack(
        tmp_path / "stack", workers=2, jobs=FAULT_JOBS.model_copy(update={"batch_chunk_size": 10})
    ) as stack:
        client = project_client(stack.settings)
        client.create_face_set("big")
        started = time.monotonic()
        job_id = client.enroll_batch("big", photos, select="largest")["job_id"]
        while (client.job(job_id).get("progress") or {}).get("done", 0) < BATCH // 4:
            assert time.monotonic() - started < 300, "the batch made no progress"
            time.sleep(0.2)
        stack.kill_worker(stack.workers[0])
        killed_at = (client.job(job_id).get("progress") or {}).get("done", 0)
        stack.start_worker(name="w-after-kill")

        job = client.wait_job(job_id, timeout=400)
        elapsed = time.monotonic() - started
        assert job["status"] == "succeeded", job
        items = job["result"]["items"]
        assert sorted(item["index"] for item in items) == list(range(BATCH))
        assert all(item["status"] in ("added", "duplicate", "rejected") for item in items)
        enrolled = [face["face_id"] for item in items for face in item.get("faces", [])]
        assert all(len(item.get("faces", [])) <= 1 for item in items)
        assert len(enrolled) == len(set(enrolled))
        assert sorted(client.face_ids("big")) == sorted(enrolled)
        rejected = sum(item["status"] == "rejected" for item in items)
        print(
            f"\nkilled at {killed_at}/{BATCH}; {len(enrolled)} faces, {rejected} per-item errors, {elapsed:.0f} s"
        )
