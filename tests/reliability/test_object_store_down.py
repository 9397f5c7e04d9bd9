"""Fault 3: the S3 server stops during enrollment (issue 8).

The API answers 503 FRS.0602 at once while the store is down (never 500, never a hang);
jobs whose images sit in the stopped store retry with backoff and then fail clearly, per
item; after the store is back, reconciliation leaves no face row without its image and
vector, and no vector without its row.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from infra.settings import ObjectStoreKind, ObjectStoreSettings
from tests.conftest import free_port
from tests.support.client import project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.stack import FAULT_JOBS, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model]


def test_enrollment_with_the_object_store_stopped_fails_clearly_and_leaves_nothing_dangling(
    tmp_path: Path,
) -> None:
    from moto.server import ThreadedMotoServer

    from workers.maintenance import reconcile
    from workers.runtime import Runtime

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    object_store = ObjectStoreSettings(
        kind=ObjectStoreKind.S3,
        endpoint=f"127.0.0.1:{port}",
        access_key="testing",
        secret_key="testing-secret",
        bucket=f"faults-{uuid.uuid4().hex[:8]}",
    )
    photos = [p for identity in single_face_identities()[:3] for p in identity_photos(identity)[:2]]
    try:
        with start_stack(tmp_path, workers=0, jobs=FAULT_JOBS, object_store=object_store) as stack:
            client = project_client(stack.settings)
            client.create_face_set("s3")
            # Images uploaded while the store is up; the worker only starts once it is down.
            job = client.enroll_batch("s3", photos)
            server.stop()

            started = time.monotonic()
            response = client.add_face("s3", photos[0])
            api_seconds = time.monotonic() - started
            assert response.status_code == 503, response.get_json()
            assert response.get_json()["error_code"] == "FRS.0602"
            assert api_seconds < 15, f"the API took {api_seconds:.1f} s to refuse"

            stack.start_worker("w1")
            started = time.monotonic()
            while "gives up after" not in stack.worker_log("w1"):
                assert time.monotonic() - started < 90, "the chunks never gave up"
                time.sleep(0.3)
            give_up_seconds = time.monotonic() - started
            log = stack.worker_log("w1")
            retries = log.count("transient error (object store")
            assert retries >= FAULT_JOBS.max_retries, log[-2000:]
            print(
                f"\nAPI refusal {api_seconds:.2f} s; chunk gave up after {retries} retries in {give_up_seconds:.1f} s"
            )

            # The store comes back (moto keeps its objects in this process) and service resumes.
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            rerun = client.wait_job(client.enroll_batch("s3", photos[:2])["job_id"], timeout=120)
            assert rerun["status"] == "succeeded", rerun

            runtime = Runtime(stack.settings)
            report = reconcile(runtime, grace=timedelta(0))
            print(f"reconcile: {report}")
            face_ids = client.face_ids("s3")
            # The rerun adds 2; a chunk still retrying when the store came back may add its own.
            assert len(face_ids) >= 2, face_ids
            stored = {fid for batch in runtime.index.iter_face_ids(_model(runtime)) for fid in batch}
            assert stored == set(face_ids), (stored, face_ids)
            assert not runtime.faces.missing_face_ids(list(stored))
            store = runtime.store
            for face_id in face_ids:
                face = client.ok("GET", "/face-sets/s3/faces", query_string={"face_id": face_id})
                assert face, face_id
            assert all(
                store.exists(key) for key in runtime.faces.referenced_keys(list(store.list_keys("images")))
            )

            # The batch whose chunks gave up must end as failed (or per-item errors), not hang.
            deadline = time.monotonic() + 10
            first = client.job(job["job_id"])
            while first["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
                time.sleep(0.5)
                first = client.job(job["job_id"])
            # A chunk that gave up hands on: the batch ends, its items rejected as unavailable.
            assert first["status"] == "succeeded", first
            reasons = first["result"]["rejected_by_reason"]
            assert set(reasons) <= {"unavailable"} and first["result"]["total"] == len(photos), first[
                "result"
            ]
            assert "Traceback" not in str(first)
    finally:
        server.stop()


def _model(runtime: object) -> str:
    collections = runtime.index.collections()  # type: ignore[attr-defined]
    assert len(collections) == 1, collections
    return str(collections[0])
