"""`kill -9` of a worker's pool child (what the OOM killer does), idle and busy, on both stacks.

Embedded mode used to die silently here: on the SQL broker Celery ran billiard's blocking
pool, whose children share one inqueue semaphore; an idle child waits for work holding it,
so the replacement child of a killed idle child blocked forever while the main process kept
answering. Now the SQL transport runs in Celery's event loop (asynchronous pool, a pipe per
child, as on RabbitMQ), and a pool watchdog replaces any pool that stops starting jobs.

After each kill a sync detect must answer within 30 s, and a batch whose child was killed
mid-chunk must finish with every photo enrolled exactly once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.settings import BrokerSettings, DatabaseSettings, VectorStoreSettings
from tests.conftest import S3Server
from tests.support.client import ProjectClient, project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.processes import pool_child_pids, the_pool_child
from tests.support.stack import FAULT_JOBS, Stack, start_stack
from workers.pool_watchdog import dump_stacks

pytestmark = [pytest.mark.integration, pytest.mark.model]

SYNC_DETECT_BOUND_SECONDS = 30.0
# The native threads grpcio starts in a process that made a call (names as /proc shows them).
GRPC_THREAD_PREFIXES = ("grpc_", "event_engine")
# Under the project's rate limit (600 a minute) even when a stalled batch keeps the test polling.
POLL_SECONDS = 0.15
# No healthy job here runs for long: re-sending by housekeeping would only blur what the
# pool itself recovered.
POOL_JOBS = FAULT_JOBS.model_copy(
    update={"stale_after_seconds": 300, "batch_chunk_size": 3, "batch_chunks_in_flight": 2}
)


@dataclass
class Service:
    stack: Stack
    client: ProjectClient


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # One worker with one pool child: `facefleet up --workers 1`, the case that stalled.
    with start_stack(tmp_path_factory.mktemp("pool-embedded"), workers=1, jobs=POOL_JOBS) as stack:
        yield Service(stack, project_client(stack.settings, "pool-embedded"))


@pytest.fixture(scope="module")
def distributed(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    rabbitmq_url: str,
    milvus_server_uri: str,
    s3_server: S3Server,
) -> Iterator[Service]:
    overrides = {
        "jobs": POOL_JOBS,
        "database": DatabaseSettings(url=postgres_url),
        "broker": BrokerSettings(url=rabbitmq_url),
        "vector_store": VectorStoreSettings(uri=milvus_server_uri, collection_prefix="poolkill"),
        "object_store": s3_server.settings(),
    }
    with start_stack(tmp_path_factory.mktemp("pool-distributed"), workers=1, **overrides) as stack:
        yield Service(stack, project_client(stack.settings, "pool-distributed"))


@pytest.fixture(params=["embedded", "distributed"])
def service(request: pytest.FixtureRequest) -> Service:
    found: Service = request.getfixturevalue(request.param)
    return found


def kill_the_pool_child(stack: Stack) -> int:
    worker = stack.workers[0]
    assert worker.poll() is None, "the worker's main process must be running"
    child = the_pool_child(worker.pid)
    os.kill(child, signal.SIGKILL)
    return child


def kill_a_running_chunk(stack: Stack, items_done: Callable[[], int], attempts: int = 6) -> int:
    """Kill the pool child until a kill lands inside a running chunk (the worker logs
    WorkerLostError). A chunk takes a fraction of a second, so a kill can fall between two
    chunks; the pool survives that without losing a job, and the next kill waits until the
    replacement child has enrolled more photos."""
    deadline = time.monotonic() + 120
    while items_done() < 3:
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(POLL_SECONDS)
    for _ in range(attempts):
        done = items_done()
        killed = kill_the_pool_child(stack)
        time.sleep(1.0)  # the main process logs the lost job as soon as it sees the child die
        if "WorkerLostError" in stack.worker_log():
            return killed
        deadline = time.monotonic() + 60
        while items_done() <= done:
            assert time.monotonic() < deadline, "the batch stopped or finished before a kill hit a chunk"
            time.sleep(POLL_SECONDS)
    raise AssertionError(f"none of {attempts} kills landed inside a running chunk")


def sync_detect_seconds(client: ProjectClient, stack: Stack) -> float:
    photo = identity_photos(single_face_identities()[0])[0]
    started = time.monotonic()
    response = client.call(
        "POST",
        "/face-detect",
        data={"image_file": (photo.open("rb"), photo.name)},
        content_type="multipart/form-data",
    )
    elapsed = time.monotonic() - started
    if response.status_code != 200:
        # Where the pool's children are stuck, written to the worker log before it is read.
        dump_stacks([child for worker in stack.workers for child in pool_child_pids(worker.pid)])
    assert response.status_code == 200, (
        response.status_code,
        response.get_json(),
        f"{elapsed:.1f} s",
        stack.worker_log()[-8000:],  # what the pool did: the only trace a CI failure leaves
    )
    assert len(response.get_json()["faces"]) == 1
    return elapsed


def test_idle_pool_child_killed_then_sync_detect_answers(service: Service) -> None:
    client, stack = service.client, service.stack
    sync_detect_seconds(client, stack)  # the child is up and has run a job
    time.sleep(1.0)  # back to waiting for work: the state that held the shared lock
    killed = kill_the_pool_child(stack)

    elapsed = sync_detect_seconds(client, stack)

    print(f"\nidle child killed: sync detect answered in {elapsed:.1f} s")
    assert elapsed < SYNC_DETECT_BOUND_SECONDS
    assert f"pid:{killed} exited with 'signal 9 (SIGKILL)'" in stack.worker_log()
    assert stack.workers[0].poll() is None, "the same worker survived with a new child"


def test_busy_pool_child_killed_then_its_job_completes_exactly_once(service: Service) -> None:
    client, stack = service.client, service.stack
    face_set = f"busy-{time.monotonic_ns()}"
    client.create_face_set(face_set)
    # Eight rounds of nine photos: batched chunks of 3 take a fraction of a second, so the
    # batch must last long enough for a kill to land inside a running chunk.
    photos = [p for identity in single_face_identities()[:3] for p in identity_photos(identity)[:3]] * 8
    job_id = client.enroll_batch(face_set, photos, select="largest")["job_id"]

    killed = kill_a_running_chunk(stack, lambda: (client.job(job_id).get("progress") or {}).get("done", 0))

    elapsed = sync_detect_seconds(client, stack)
    job = client.wait_job(job_id, timeout=180)

    log = stack.worker_log()
    print(f"\nbusy child killed: sync detect answered in {elapsed:.1f} s; batch {job['status']}")
    assert f"pid:{killed} exited with 'signal 9 (SIGKILL)'" in log
    assert "WorkerLostError" in log, "the kill must have hit a running chunk"
    assert elapsed < SYNC_DETECT_BOUND_SECONDS
    assert job["status"] == "succeeded", job
    items = job["result"]["items"]
    assert sorted(item["index"] for item in items) == list(range(len(photos)))
    assert [item["status"] for item in items] == ["added"] * len(photos), items
    enrolled = [face["face_id"] for item in items for face in item.get("faces", [])]
    assert len(enrolled) == len(set(enrolled)) == len(photos)
    assert sorted(client.face_ids(face_set)) == sorted(enrolled)
    assert client.ok("GET", f"/face-sets/{face_set}")["face_set_info"]["face_number"] == len(photos)


def test_the_worker_main_process_opens_no_grpc_client(service: Service) -> None:
    """The main process forks every replacement child; a child forked while a gRPC call is in
    flight there hangs on its own first Milvus call. So the housekeeper's reconcile pass
    (every 20 rounds: 20 s here) runs in a fresh interpreter, and no gRPC thread ever
    appears in the main process (before: grpc_global_tim and four event_engine threads
    after the first pass)."""
    stack = service.stack
    deadline = time.monotonic() + 90
    while "reconcile pass:" not in stack.worker_log():
        assert time.monotonic() < deadline, "no reconcile pass in 90 s"
        time.sleep(0.5)
    tasks = Path(f"/proc/{stack.workers[0].pid}/task")
    threads = [(task / "comm").read_text().strip() for task in tasks.iterdir()]
    assert not [name for name in threads if name.startswith(GRPC_THREAD_PREFIXES)], threads
