"""Sync calls and the completion push (infra/completion.py) when things go wrong.

- a worker's pushes are lost (switched off): the call still answers, after the fallback;
- the worker is SIGKILLed in the middle of a sync call's job: the broker redelivers the job
  to a new worker, and the same call answers with its result;
- the API process is killed while calls wait: a new API process answers the retried calls
  (same Idempotency-Key, so nothing runs twice) as soon as a worker finishes them.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from api.jobs import JobGateway
from facefleet.embedded import child_env
from infra.settings import BrokerSettings, DatabaseSettings
from tests.api.photos import NO_FACE, OBAMA_SMALL
from tests.conftest import S3Server, free_port
from tests.support.client import project_client
from tests.support.stack import FAULT_JOBS, Stack, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]

FALLBACK = 2.0
JOBS = FAULT_JOBS.model_copy(update={"sync_wait_seconds": 90.0, "completion_fallback_poll_seconds": FALLBACK})
NO_PUSH = {"FACEFLEET_JOBS__COMPLETION_PUSH": "false"}


def slow_photo() -> bytes:
    """A large photo without a face: the HOG fallback scans all of it (about a second), a
    window wide enough to kill the worker in."""
    image = Image.open(NO_FACE).convert("RGB")
    image = image.resize((3600, int(3600 * image.height / image.width)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


@pytest.fixture
def distributed(tmp_path: Path, postgres_url: str, rabbitmq_url: str, s3_server: S3Server) -> Iterator[Stack]:
    overrides = {
        "jobs": JOBS,
        "database": DatabaseSettings(url=postgres_url),
        "broker": BrokerSettings(url=rabbitmq_url),
        "object_store": s3_server.settings(),
    }
    with start_stack(tmp_path / "stack", workers=0, **overrides) as stack:
        yield stack


def timed_detect(client: Any, data: bytes, **headers: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = client.call(
        "POST",
        "/face-detect",
        data={"image_file": (io.BytesIO(data), "probe.jpg")},
        content_type="multipart/form-data",
        headers=headers,
    )
    return response.status_code, response.get_json(), time.monotonic() - started


def test_lost_pushes_cost_the_fallback_not_the_answer(tmp_path: Path) -> None:
    probe = OBAMA_SMALL.read_bytes()
    with start_stack(tmp_path / "stack", workers=0, jobs=JOBS) as stack:
        client = project_client(stack.settings)
        stack.start_worker("pushing")
        assert timed_detect(client, probe)[0] == 200  # the worker has loaded its models
        pushed = [timed_detect(client, probe) for _ in range(3)]
        assert all(status == 200 and len(body["faces"]) == 1 for status, body, _ in pushed)
        stack.stop_workers()

        stack.start_worker("silent", extra_env=NO_PUSH)
        assert timed_detect(client, probe)[0] == 200
        silent = [timed_detect(client, probe) for _ in range(3)]
        assert all(status == 200 and len(body["faces"]) == 1 for status, body, _ in silent)
    fastest_pushed = min(seconds for _, _, seconds in pushed)
    # Without a push the waiter only learns on its fallback re-read, and always does.
    assert all(FALLBACK * 0.9 <= seconds < FALLBACK + 3.0 for _, _, seconds in silent), silent
    assert fastest_pushed < FALLBACK / 2, pushed


def test_worker_killed_mid_job_during_a_sync_call(distributed: Stack) -> None:
    client = project_client(distributed.settings, f"killed-{uuid.uuid4().hex[:6]}")
    distributed.start_worker("first")
    assert timed_detect(client, OBAMA_SMALL.read_bytes())[0] == 200  # models loaded
    key = "killed-mid-job"
    job_id = JobGateway.job_id_for(client.project_id, key)
    answer: dict[str, Any] = {}
    call = threading.Thread(
        target=lambda: answer.update(result=timed_detect(client, slow_photo(), **{"Idempotency-Key": key}))
    )
    call.start()
    jobs = job_repo(distributed)
    deadline = time.monotonic() + 60
    while (job := jobs.get(job_id)) is None or job.status != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.005)
    distributed.kill_worker(distributed.workers[0])
    assert jobs.get(job_id).status == "running"  # killed mid-job, not after it
    distributed.start_worker("second")
    call.join(timeout=120)
    status, body, _ = answer["result"]
    assert status == 200, body
    assert body["faces"] == []
    assert jobs.get(job_id).status == "succeeded"
    assert "second" in (jobs.get(job_id).worker or "")


def test_api_process_restarted_while_calls_wait(distributed: Stack) -> None:
    created = project_client(distributed.settings, f"restart-{uuid.uuid4().hex[:6]}")
    project_id, api_key = created.project_id, created.api_key
    probe = OBAMA_SMALL.read_bytes()
    first = ApiProcess(distributed)
    waiting = [
        threading.Thread(target=first.detect_quietly, args=(project_id, api_key, probe, f"restart-{i}"))
        for i in range(3)
    ]
    for thread in waiting:
        thread.start()
    jobs = job_repo(distributed)
    ids = [JobGateway.job_id_for(project_id, f"restart-{i}") for i in range(3)]
    deadline = time.monotonic() + 30
    while any(jobs.get(job_id) is None for job_id in ids):  # every call is waiting on its job
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.kill()
    for thread in waiting:
        thread.join(timeout=30)

    second = ApiProcess(distributed)
    try:
        distributed.start_worker("after-restart")
        for index in range(3):
            response = second.detect(project_id, api_key, probe, f"restart-{index}")
            assert response.status_code == 200, response.text
            assert len(response.json()["faces"]) == 1
        assert {jobs.get(job_id).status for job_id in ids} == {"succeeded"}
        # The new process's listener is live: a fresh call is answered by a push.
        started = time.monotonic()
        assert second.detect(project_id, api_key, probe, "after-restart-fresh").status_code == 200
        assert time.monotonic() - started < FALLBACK, "the answer waited for the fallback re-read"
    finally:
        second.kill()


def job_repo(stack: Stack) -> Any:
    from infra.db import Database
    from infra.db.repositories import JobRepo

    return JobRepo(Database(stack.settings.database.url, pool_size=2))


class ApiProcess:
    """The API under gunicorn (one worker process), as `facefleet api` serves it."""

    def __init__(self, stack: Stack) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        env = child_env(stack.settings, {"FACEFLEET_API__GUNICORN_WORKERS": "1"})
        log = open(stack.home / "api.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "facefleet.cli", "api", f"--bind={self.url.removeprefix('http://')}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)

    def detect(self, project_id: str, api_key: str, data: bytes, key: str) -> requests.Response:
        return requests.post(
            f"{self.url}/v1/{project_id}/face-detect",
            files={"image_file": ("probe.jpg", data, "image/jpeg")},
            headers={"X-Auth-Token": api_key, "Idempotency-Key": key},
            timeout=120,
        )

    def detect_quietly(self, project_id: str, api_key: str, data: bytes, key: str) -> None:
        try:
            self.detect(project_id, api_key, data, key)
        except requests.RequestException:
            pass  # the process is killed under this call

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
