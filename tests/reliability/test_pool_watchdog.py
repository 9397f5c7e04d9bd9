"""A worker whose pool cannot start jobs is found and replaced, in both modes.

A stopped pool child (SIGSTOP) stands for any wedged pool: the main process keeps
receiving jobs and answering, and no job starts. The watchdog must notice, kill the pool
and exit, handing back the job it held, and whatever supervises the worker (`facefleet up`
here; the container's restart policy in compose, played by the test) starts a fresh one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from infra.settings import BrokerSettings, DatabaseSettings, VectorStoreSettings
from tests.conftest import S3Server, free_port
from tests.reliability.test_pool_child_killed import sync_detect_seconds
from tests.support.client import project_client
from tests.support.photos import identity_photos, single_face_identities
from tests.support.processes import child_pids, command_line, the_pool_child
from tests.support.stack import FAULT_JOBS, start_stack
from workers.pool_watchdog import EXIT_POOL_STALLED

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]


def _process_children(pid: int) -> dict[int, str]:
    """The running children of ``pid`` and their command lines (one that exits meanwhile is left out)."""
    children = {}
    for child in child_pids(pid, alive_only=True):
        command = command_line(child)
        if command is not None:
            children[child] = command.replace(b"\0", b" ").decode()
    return children


class RunningService:
    """`facefleet up` as a user runs it, over real HTTP."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        home.mkdir(parents=True, exist_ok=True)
        self.output = home / "up.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facefleet.cli",
                "up",
                f"--home={home}",
                f"--port={self.port}",
                "--workers=1",
            ],
            cwd=REPO_ROOT,
            stdout=self.output.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()  # never leave a half-started service behind
            raise

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in self.log():
            assert self.process.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.5)
        fields = dict(
            line.strip().split(":", 1)
            for line in self.log().splitlines()
            if line.strip().startswith(("project_id:", "api_key:"))
        )
        self.project_id = fields["project_id"].strip()
        self.api_key = fields["api_key"].split()[0]
        while not self._ready():
            assert self.process.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.5)

    def _ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or its workers still loading
            return False

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def worker_pid(self) -> int:
        (pid,) = [
            pid for pid, command in _process_children(self.process.pid).items() if " celery " in command
        ]
        return pid

    def detect(self) -> requests.Response:
        photo = identity_photos(single_face_identities()[0])[0]
        with photo.open("rb") as image:
            return requests.post(
                f"http://127.0.0.1:{self.port}/v1/{self.project_id}/face-detect",
                headers={"X-Auth-Token": self.api_key},
                files={"image_file": (photo.name, image)},
                timeout=60,
            )

    def job(self, job_id: str) -> dict[str, object]:
        response = requests.get(
            f"http://127.0.0.1:{self.port}/v1/{self.project_id}/jobs/{job_id}",
            headers={"X-Auth-Token": self.api_key},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


def _wait_for_finished_task(worker_log: Callable[[], str]) -> None:
    """Waits until the worker's pool has handed its first task back.

    The answer is pushed once the job row is stored, a moment before the child hands the
    task back and its message is acknowledged. Stopped in that moment, the child would hold
    its job as a running one: that is a hung job, for the task time limit, not a stalled pool."""
    deadline = time.monotonic() + 30
    while " succeeded in " not in worker_log():
        assert time.monotonic() < deadline, "the first detect never finished in the worker"
        time.sleep(0.05)


@pytest.fixture
def running_up(tmp_path: Path) -> Iterator[RunningService]:
    service = RunningService(tmp_path / "home")
    try:
        yield service
    finally:
        if service.process.poll() is None:
            service.stop()


def test_facefleet_up_replaces_a_worker_whose_pool_stopped_starting_jobs(running_up: RunningService) -> None:
    service = running_up
    assert service.detect().status_code == 200
    _wait_for_finished_task(service.log)
    stalled_worker = service.worker_pid()
    child = the_pool_child(stalled_worker)
    os.kill(child, signal.SIGSTOP)

    # Received by the stalled worker; with the default 30 s bound the replacement worker
    # may answer after the 30 s sync wait, so the job may come back as 202 first.
    response = service.detect()
    assert response.status_code in (200, 202), response.text
    if response.status_code == 202:
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 120
        while (job := service.job(job_id))["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
        assert job["status"] == "succeeded", job

    log = service.log()
    assert "the pool started no job for" in log
    assert f"the FaceFleet worker exited with {EXIT_POOL_STALLED}; starting it again" in log
    assert service.worker_pid() != stalled_worker
    started = time.monotonic()
    assert service.detect().status_code == 200
    assert time.monotonic() - started < 30
    assert service.stop() == 0


def test_distributed_worker_exits_and_its_job_runs_on_the_replacement(
    tmp_path: Path,
    postgres_url: str,
    rabbitmq_url: str,
    milvus_server_uri: str,
    s3_server: S3Server,
) -> None:
    overrides = {
        "jobs": FAULT_JOBS.model_copy(update={"stale_after_seconds": 300, "pool_stall_seconds": 5.0}),
        "database": DatabaseSettings(url=postgres_url),
        "broker": BrokerSettings(url=rabbitmq_url),
        "vector_store": VectorStoreSettings(uri=milvus_server_uri, collection_prefix="watchdog"),
        "object_store": s3_server.settings(),
    }
    with start_stack(tmp_path / "stack", workers=1, **overrides) as stack:
        client = project_client(stack.settings, "watchdog")
        sync_detect_seconds(client, stack)
        _wait_for_finished_task(lambda: stack.worker_log("w1"))
        stalled = stack.workers[0]
        child = the_pool_child(stalled.pid)
        os.kill(child, signal.SIGSTOP)

        with ThreadPoolExecutor(1) as waiting:
            detect = waiting.submit(sync_detect_seconds, client, stack)
            # The compose restart policy's part: a worker that exits is started again.
            assert stalled.wait(timeout=60) == EXIT_POOL_STALLED
            stack.start_worker(name="w-replacement")
            assert detect.result(timeout=60) < 30

        assert "the pool started no job for" in stack.worker_log("w1")
        assert "facefleet.detect" in stack.worker_log("w-replacement")
