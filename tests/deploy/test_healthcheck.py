"""infra/deploy/healthcheck.py, the probe both images run: against a real HTTP server and a
real Celery worker on the local RabbitMQ."""

from __future__ import annotations

import importlib.util
import os
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

from tests.deploy.support import DEPLOY_DIR, REPO_ROOT

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


_WORKER = """
import sys
from infra.celery_config import make_celery
from infra.settings import Settings
app = make_celery(Settings())
app.worker_main(["worker", "--pool=solo", "--queues", sys.argv[1], "--hostname", sys.argv[2] + "@%h",
                 "--without-gossip", "--without-mingle", "--loglevel=WARNING"])
"""


@pytest.mark.integration
def test_worker_probe_follows_a_real_worker_on_rabbitmq(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEFLEET_BROKER__URL", BROKER_URL)
    prefix = f"hc{uuid.uuid4().hex[:8]}"
    # A private queue: this worker registers no task and must never take real jobs.
    queue = f"facefleet.test.{prefix}"
    assert healthcheck.check_worker(prefix, timeout=1.0) is not None  # nobody answers yet
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, queue, prefix],
        cwd=REPO_ROOT,
        env={**os.environ, "FACEFLEET_BROKER__URL": BROKER_URL},
    )
    try:
        deadline = time.monotonic() + 60
        problem = healthcheck.check_worker(prefix, timeout=2.0)
        while problem is not None and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.5)
            problem = healthcheck.check_worker(prefix, timeout=2.0)
        assert problem is None, problem
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        with Connection(BROKER_URL) as connection:
            connection.default_channel.queue_delete(queue)
    assert healthcheck.check_worker(prefix, timeout=1.0) is not None
