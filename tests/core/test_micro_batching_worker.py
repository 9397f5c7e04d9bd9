"""Micro-batching in a real worker (issue 10): a threads-pool worker runs several chunk jobs
of a batch at once, their chips share ONNX calls, and every stored vector is the one the
image gets when it is processed alone."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from infra.settings import JobSettings, PipelineSettings
from infra.vector_index.index import VectorIndex
from pipelines.catalog import with_model
from pipelines.image import ImageLimits, decode_image
from tests.support.client import project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.stack import start_stack
from workers.models import build_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.model]

# One image per chunk and four chunks queued at once: four jobs for four worker threads.
ONE_IMAGE_CHUNKS = JobSettings(
    batch_chunk_size=1, batch_chunks_in_flight=4, housekeeping_interval_seconds=1.0
)
# A wide window makes merging certain in a test; deployments use a few milliseconds.
WIDE_WINDOW = PipelineSettings(micro_batch_wait_ms=400, micro_batch_max_faces=32)


def test_a_threads_worker_merges_concurrent_jobs_chips_and_stores_the_same_vectors(tmp_path: Path) -> None:
    photos = [photo for identity in single_face_identities()[:6] for photo in identity_photos(identity)[:2]]
    with start_stack(tmp_path, workers=0, jobs=ONE_IMAGE_CHUNKS, pipeline=WIDE_WINDOW) as stack:
        stack.start_worker("threads", concurrency=4, pool="threads")
        client = project_client(stack.settings, "microbatch")
        client.create_face_set("people")
        job = client.wait_job(client.enroll_batch("people", photos)["job_id"], timeout=240)
        assert job["status"] == "succeeded", job
        items = job["result"]["items"]
        assert [item["status"] for item in items] == ["added"] * len(photos), items

        # the face set's model (flip: two chips per face, both through the merging backend)
        model = client.ok("GET", "/face-sets/people")["face_set_info"]["model"]
        alone = with_model(
            build_pipeline(stack.settings.model_copy(update={"pipeline": PipelineSettings()})), model
        )
        index = VectorIndex.from_settings(stack.settings.vector_store)
        try:
            for item, photo in zip(sorted(items, key=lambda i: i["index"]), photos, strict=True):
                face_ids = [face["face_id"] for face in item["faces"]]
                stored = index.get_vectors(alone.model_id, face_ids)
                expected = [
                    result.embedding.vector
                    for result in alone.process(decode_image(photo.read_bytes(), ImageLimits()))
                ]
                assert len(stored) == len(expected) == len(face_ids), photo
                for face_id, vector in zip(face_ids, expected, strict=True):
                    assert np.max(np.abs(stored[face_id] - vector)) <= 1e-4, photo
        finally:
            index.close()
        stack.stop()  # the worker logs its micro-batching counters on shutdown

    log = stack.worker_log("threads")
    match = re.search(r"micro-batching: (\d+) embedding requests in (\d+) backend calls", log)
    assert match, log[-3000:]
    requests, calls = int(match[1]), int(match[2])
    assert requests >= len(photos) and calls < requests, (requests, calls)
    print(f"\n{requests} embedding requests in {calls} ONNX calls")
