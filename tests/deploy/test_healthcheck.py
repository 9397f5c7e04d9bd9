"""infra/deploy/healthcheck.py, the probe both images run: against a real HTTP server and a
real Celery worker on the local RabbitMQ, healthy and with a pool that cannot start work."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import pytest
from kombu import Connection

from infra.celery_config import make_celery
from infra.settings import Settings
from tests.deploy.support import DEPLOY_DIR, REPO_ROOT
from tests.support.processes import the_pool_child

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"


def _load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "facefleet_deploy_healthcheck", DEPLOY_DIR / "healthcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load_healthcheck()


class _StatusHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_probe_passes_on_2xx_and_fails_otherwise(http_server: str) -> None:
    assert healthcheck.check_http(f"{http_server}/readyz", timeout=2) is None
    assert "503" in healthcheck.check_http(f"{http_server}/broken", timeout=2)
    assert healthcheck.main(["http", f"{http_server}/readyz"]) == 0
    assert healthcheck.main(["http", f"{http_server}/broken"]) == 1


def test_http_probe_fails_when_nothing_listens() -> None:
    assert healthcheck.check_http("http://127.0.0.1:9/readyz", timeout=2) is not None


def _start_worker(prefix: str, queue: str, stall_seconds: float) -> subprocess.Popen[bytes]:
    """The real worker (workers.app, prefork, one child), on a private queue: it registers
    FaceFleet's tasks but must never take real jobs."""
    env = {
        **os.environ,
        "FACEFLEET_BROKER__URL": BROKER_URL,
        "FACEFLEET_JOBS__POOL_STALL_SECONDS": str(stall_seconds),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool=prefork", "--concurrency=1",
        f"--queues={queue}", f"--hostname={prefix}@%h", "--without-gossip", "--without-mingle",
        "--loglevel=WARNING",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)


def _wait_healthy(prefix: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    problem = healthcheck.check_worker(prefix, timeout=2.0)
    while problem is not None and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.5)
        problem = healthcheck.check_worker(prefix, timeout=2.0)
    assert problem is None, problem


def _stop_worker(worker: subprocess.Popen[bytes], queue: str) -> None:
    try:
        os.killpg(worker.pid, signal.SIGKILL)  # the pool child may be stopped: no warm shutdown
    except ProcessLookupError:
        pass
    worker.wait(timeout=30)
    with Connection(BROKER_URL) as connection:
        connection.default_channel.queue_delete(queue)


@pytest.mark.integration
def test_worker_probe_follows_a_real_worker_on_rabbitmq(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEFLEET_BROKER__URL", BROKER_URL)
    prefix = f"hc{uuid.uuid4().hex[:8]}"
    queue = f"facefleet.test.{prefix}"
    assert healthcheck.check_worker(prefix, timeout=1.0) is not None  # nobody answers yet
    worker = _start_worker(prefix, queue, stall_seconds=600)
    try:
        _wait_healthy(prefix, worker)
    finally:
        _stop_worker(worker, queue)
    assert healthcheck.check_worker(prefix, timeout=1.0) is not None


@pytest.mark.integration
def test_worker_probe_fails_while_the_pool_cannot_start_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stopped pool child is a deadlocked pool seen from outside: the main process still
    answers pings, and only the probe through the pool tells the difference."""
    monkeypatch.setenv("FACEFLEET_BROKER__URL", BROKER_URL)
    prefix = f"hc{uuid.uuid4().hex[:8]}"
    queue = f"facefleet.test.{prefix}"
    worker = _start_worker(prefix, queue, stall_seconds=600)  # the watchdog must not step in here
    try:
        _wait_healthy(prefix, worker)
        child = the_pool_child(worker.pid)
        os.kill(child, signal.SIGSTOP)
        node = f"{prefix}@{socket.gethostname()}"
        app = make_celery(Settings())
        try:
            assert app.control.ping(destination=[node], timeout=3.0), "the main process should still answer"
        finally:
            app.close()

        command = subprocess.run(
            [sys.executable, str(DEPLOY_DIR / "healthcheck.py"), "--timeout", "4", "worker", prefix],
            cwd=REPO_ROOT,
            env={**os.environ, "FACEFLEET_BROKER__URL": BROKER_URL, "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert command.returncode == 1, command
        assert "the pool started nothing" in command.stderr and "1 of 1 slots free" in command.stderr

        os.kill(child, signal.SIGCONT)  # the same worker, its pool able to work again
        _wait_healthy(prefix, worker)
    finally:
        _stop_worker(worker, queue)
