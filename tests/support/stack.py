"""A real FaceFleet stack for end-to-end tests: real worker processes, real stores.

`EmbeddedStack` is what `facefleet up` runs (SQLite, local objects, milvus-lite, SQL broker
transport); `start_stack` also accepts overrides that point it at RabbitMQ, PostgreSQL, a
Milvus server and an S3 server for the distributed flavour.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facefleet.embedded import child_env, prepare_embedded, worker_command
from infra.settings import JobSettings, Settings

# Short enough that a test sees a killed worker's job recovered within seconds, long
# enough that no healthy job in these tests (all well under 10 s) is ever re-sent.
FAST_JOBS = JobSettings(
    stale_after_seconds=20,
    housekeeping_interval_seconds=1.0,
    sync_wait_seconds=60.0,
    retry_backoff_seconds=0.2,
    retry_backoff_max_seconds=1.0,
)
# The fault tests': retries short enough that a job gives up within seconds when a store
# stays down, and batches in small chunks so a fault lands between two of them.
FAULT_JOBS = JobSettings(
    stale_after_seconds=20,
    housekeeping_interval_seconds=1.0,
    batch_chunk_size=4,
    batch_chunks_in_flight=2,
    sync_wait_seconds=30.0,
    max_retries=3,
    retry_backoff_seconds=0.3,
    retry_backoff_max_seconds=1.0,
)

ALL_QUEUES = (
    "facefleet.interactive",
    "facefleet.enroll",
    "facefleet.batch",
    "facefleet.liveness",
    "facefleet.maintenance",
)


@dataclass
class Stack:
    settings: Settings
    home: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _stop_milvus: Callable[[], None] | None = None

    def start_worker(
        self,
        name: str = "w1",
        concurrency: int = 1,
        extra_env: dict[str, str] | None = None,
        pool: str = "prefork",
    ) -> subprocess.Popen[bytes]:
        log = open(self.home / f"worker-{name}.log", "ab")
        process = subprocess.Popen(
            worker_command(concurrency, ALL_QUEUES, name=name, pool=pool),
            env=child_env(self.settings, extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(process)
        return process

    def kill_worker(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Kill the worker and its pool children (they share its process group)."""
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def worker_log(self, name: str = "w1") -> str:
        path = self.home / f"worker-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        self.stop_workers()
        if self._stop_milvus is not None:
            self._stop_milvus()
            self._stop_milvus = None

    def stop_workers(self) -> None:
        # SIGTERM to the main process only: it stops its pool children itself (a signal to
        # the whole group kills them mid-shutdown). What is left after the grace is killed.
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.workers:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self.kill_worker(process)
        self.workers.clear()


@contextmanager
def start_stack(home: Path, workers: int = 1, concurrency: int = 1, **overrides: Any) -> Iterator[Stack]:
    """Prepare stores under ``home`` and start ``workers`` worker processes."""
    settings, stop_milvus = prepare_embedded(home, **overrides)
    stack = Stack(settings=settings, home=home, _stop_milvus=stop_milvus)
    try:
        for index in range(workers):
            stack.start_worker(name=f"w{index + 1}", concurrency=concurrency)
        yield stack
    finally:
        stack.stop()
