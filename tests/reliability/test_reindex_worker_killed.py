"""Reindex with a worker SIGKILLed mid-way: 200 faces move from dlib-resnet-v1 to
dlib-resnet-flip-v1; the re-sent job resumes (faces already re-embedded are skipped), searches
answer throughout from the old vectors, no face is lost or doubled, and the old vectors go
only on cleanup."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from infra.vector_index import VectorIndex
from tests.reliability.test_worker_killed_large_batch import small_distinct_photos
from tests.support.client import ProjectClient, project_client
from tests.support.stack import FAULT_JOBS, Stack, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]

FACES = 200
PHOTOS = 210  # a few of the small re-encodings hold no face


def test_reindex_survives_a_worker_kill(tmp_path: Path) -> None:
    photos = small_distinct_photos(tmp_path / "photos", PHOTOS)
    jobs = FAULT_JOBS.model_copy(update={"batch_chunk_size": 20})
    with start_stack(tmp_path / "stack", workers=2, jobs=jobs) as stack:
        client = project_client(stack.settings)
        client.create_face_set("gallery", model="dlib-resnet-v1")
        enrolled = client.wait_job(
            client.enroll_batch("gallery", photos, select="largest")["job_id"], timeout=600
        )
        assert enrolled["status"] == "succeeded", enrolled
        face_ids = sorted(client.face_ids("gallery"))
        assert len(face_ids) >= FACES

        started = time.monotonic()
        accepted = client.call("POST", "/face-sets/gallery/reindex", json={"model": "dlib-resnet-flip-v1"})
        assert accepted.status_code == 202, accepted.get_json()
        job_id = accepted.get_json()["job_id"]
        searches = 0
        while (client.job(job_id).get("progress") or {}).get("done", 0) < len(face_ids) // 4:
            assert time.monotonic() - started < 300, "the reindex made no progress"
            hits = client.search("gallery", face_id=face_ids[0], top_n=5)
            assert hits["faces"] and hits["model_id"] == "dlib-resnet-v1", _story(stack, client, job_id, hits)
            searches += 1
        stack.kill_worker(stack.workers[0])
        stack.kill_worker(stack.workers[1])
        killed_at = (client.job(job_id).get("progress") or {}).get("done", 0)
        assert killed_at < len(face_ids)
        stack.start_worker(name="w-after-kill")
        while client.job(job_id)["status"] not in ("succeeded", "failed"):
            assert time.monotonic() - started < 600, "the reindex did not finish"
            hits = client.search("gallery", face_id=face_ids[0], top_n=5)
            assert hits["faces"], hits  # answered throughout, by one model or the other
            searches += 1
            time.sleep(0.5)

        job = client.job(job_id)
        assert job["status"] == "succeeded", job
        info = client.ok("GET", "/face-sets/gallery")["face_set_info"]
        assert (info["model"], info["previous_model"]) == ("dlib-resnet-flip-v1", "dlib-resnet-v1")
        assert info["face_number"] == len(face_ids)
        assert sorted(client.face_ids("gallery")) == face_ids
        index = VectorIndex.from_settings(stack.settings.vector_store)
        assert sorted(index.get_vectors("dlib-resnet-flip-v1", face_ids)) == face_ids  # none lost
        assert index.count("dlib-resnet-flip-v1") == len(face_ids)  # none doubled
        assert sorted(index.get_vectors("dlib-resnet-v1", face_ids)) == face_ids  # old ones kept
        hits = client.search("gallery", face_id=face_ids[0], top_n=len(face_ids))
        assert hits["model_id"] == "dlib-resnet-flip-v1"
        assert len({hit["face_id"] for hit in hits["faces"]}) == len(hits["faces"]) == len(face_ids)

        assert client.ok("POST", "/face-sets/gallery/reindex/cleanup")["dropped_model"] == "dlib-resnet-v1"
        assert index.count("dlib-resnet-v1") == 0
        print(f"\nkilled at {killed_at}/{len(face_ids)}; {job['result']}; {searches} searches during the job")


def _story(stack: Stack, client: ProjectClient, job_id: str, hits: dict[str, Any]) -> str:
    """What a failure needs to be understood: the job, the face set, and what every worker
    did with the reindex and the searches."""
    lines = [f"search answered by {hits.get('model_id')}", f"job: {client.job(job_id)}"]
    lines.append(f"face set: {client.ok('GET', '/face-sets/gallery')['face_set_info']}")
    for name in ("w1", "w2"):
        lines += [f"--- {name}"] + [
            line
            for line in stack.worker_log(name).splitlines()[-400:]
            if any(word in line for word in ("reindex", "stale", "search", "ERROR", "WARNING"))
        ][-60:]
    return "\n".join(lines)
