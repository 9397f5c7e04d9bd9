"""Distributed enrollment throughput: the API and 1, then 2, worker processes.

Everything runs as separate processes on the real engines, the way docker-compose.yml runs
them: `facefleet migrate`, `facefleet api` (gunicorn) and `facefleet worker`, against RabbitMQ
(a private vhost), PostgreSQL (a scratch database), the `milvus` package's Milvus server and
moto's S3 server. Images go in through the HTTP API as async enrollments; throughput is
measured from the first submission to the last finished job, after a warm-up that lets every
worker process load its models.

    .venv/bin/python -m bench.distributed --images 48
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests
from minio import Minio

from bench.common import save_report
from facefleet.embedded import child_env
from facefleet.worker_args import ALL_CPU_QUEUES
from infra.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DIR = (REPO_ROOT / ".." / "shared" / "data" / "faces").resolve()
RESULTS = REPO_ROOT / "bench" / "results" / "distributed.json"
CPU_QUEUES = ",".join(ALL_CPU_QUEUES)
FACEFLEET = str(Path(sys.executable).parent / "facefleet")
S3_KEY = "bench-access"
S3_SECRET = "bench-secret-key"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: object, what: str, timeout: float = 120.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


# --- the engines --------------------------------------------------------------------------


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    vhost = f"facefleet-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True
        )
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"facefleet_bench_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def milvus_server(base_dir: Path) -> Iterator[str]:
    # Ports of its own (the package's embedded etcd otherwise takes a fixed one).
    from tests.support.milvus import milvus_server as start_milvus

    with start_milvus(base_dir) as uri:
        yield uri


@contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """moto's S3 in a gunicorn process of its own, with keep-alive connections (bench/s3_app.py)."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "bench.s3_app:app",
            f"--bind=127.0.0.1:{port}", "--workers=1", "--worker-class=gthread", "--threads=16",
            "--keep-alive=30", "--log-level=warning", "--timeout=120",
        ],
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    try:
        # Serving once it answers HTTP at all (a refused connection is retried).
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code < 500, "S3 server", 60)
        Minio(f"127.0.0.1:{port}", access_key=S3_KEY, secret_key=S3_SECRET, secure=False).make_bucket(bucket)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- FaceFleet processes ------------------------------------------------------------------


LOG_ARCHIVE = REPO_ROOT / "bench" / "results" / "logs"


@dataclass
class Processes:
    env: dict[str, str]
    logs: Path
    running: dict[str, subprocess.Popen[bytes]]
    # Set by a bench that saw failed requests: the processes' logs outlive the run.
    keep_logs: bool = False

    def archive_logs(self) -> Path:
        """Copy every process log (and Milvus's) to bench/results/logs/<time>/."""
        target = LOG_ARCHIVE / time.strftime("%Y%m%dT%H%M%S")
        target.mkdir(parents=True, exist_ok=True)
        for log in [*self.logs.glob("*.log"), *self.logs.glob("milvus/**/*.log")]:
            shutil.copy2(log, target / log.name)
        print(f"logs kept in {target}", file=sys.stderr)
        return target

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [FACEFLEET, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def run_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [FACEFLEET, *args], check=False, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"facefleet {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def created_project(output: str) -> tuple[str, str]:
    fields = {
        key.strip(): value.split()[0]
        for key, _, value in (line.partition(":") for line in output.splitlines())
        if value
    }
    return fields["project_id"], fields["api_key"]


# --- the measurement ----------------------------------------------------------------------


@dataclass
class Client:
    base: str
    project_id: str
    api_key: str

    def _url(self, path: str) -> str:
        return f"{self.base}/v1/{self.project_id}/{path}"

    def create_face_set(self, name: str) -> None:
        response = requests.post(
            self._url("face-sets"),
            json={"face_set_name": name},
            headers={"X-Auth-Token": self.api_key},
            timeout=30,
        )
        response.raise_for_status()

    def enroll_async(self, face_set: str, image: Path, external_id: str) -> str:
        with image.open("rb") as handle:
            response = requests.post(
                self._url(f"face-sets/{face_set}/faces"),
                files={"image_file": (image.name, handle, "image/jpeg")},
                data={"external_image_id": external_id},
                headers={"X-Auth-Token": self.api_key, "Prefer": "respond-async"},
                timeout=60,
            )
        if response.status_code != 202:
            raise RuntimeError(f"enroll answered {response.status_code}: {response.text[:300]}")
        return str(response.json()["job_id"])

    def status(self, job_id: str) -> str:
        response = requests.get(
            self._url(f"jobs/{job_id}"), headers={"X-Auth-Token": self.api_key}, timeout=30
        )
        response.raise_for_status()
        return str(response.json()["status"])


def enroll_all(client: Client, face_set: str, images: list[Path]) -> tuple[float, int]:
    """Submit every image, then wait for every job; (seconds, failed jobs).

    Jobs are awaited one at a time in submission order: polling all pending jobs in a
    loop would flood the API with status calls on the very cores the workers measure."""
    started = time.perf_counter()
    job_ids = [client.enroll_async(face_set, image, f"img{index}") for index, image in enumerate(images)]
    failed = 0
    for job_id in job_ids:
        while (status := client.status(job_id)) not in {"succeeded", "failed"}:
            time.sleep(0.05)
        failed += status == "failed"
    return time.perf_counter() - started, failed


def face_set_pipeline() -> Any:
    """The computation the stack runs for a face set created without a model: the worker's
    detector with the native API's default face-set model (``pipeline.face_set_model``,
    flip test-time augmentation: two network passes a face), as ``Runtime.pipeline_for``
    builds it. A baseline on the worker's own model (``dlib-resnet-v1``, one pass) would
    time less work than the stack does."""
    from pipelines.catalog import with_model
    from workers.models import build_pipeline

    settings = Settings.model_validate({"models": {"home": REPO_ROOT / ".facefleet"}})
    return with_model(build_pipeline(settings), settings.pipeline.face_set_model)


def single_face_images(count: int) -> list[Path]:
    """Identity photos (one person each), never the _misc sets, in a fixed order."""
    candidates = sorted(
        path
        for path in FACES_DIR.glob("*/*")
        if path.suffix.lower() in {".jpg", ".jpeg", ".png"} and not path.parent.name.startswith("_")
    )
    if len(candidates) < count:
        raise SystemExit(f"only {len(candidates)} images under {FACES_DIR}")
    step = len(candidates) / count
    return [candidates[int(index * step)] for index in range(count)]


@dataclass
class Run:
    workers: int
    images: int
    seconds: float
    failed_jobs: int
    upload_seconds: float | None = None  # the batch endpoint's call alone (intake and stores)
    cpu: dict[str, Any] | None = None  # bench.cpu_share's report of the run

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds


def measure(
    client: Client, processes: Processes, images: list[Path], warmup: list[Path], workers: int
) -> Run:
    for index in range(workers):
        name = f"worker{index + 1}"
        if name not in processes.running:
            processes.start(
                name, "worker", "--queues", CPU_QUEUES, "--concurrency", "1", "--name", f"bench{index + 1}@%h"
            )
    face_set = f"bench-{workers}w"
    client.create_face_set(face_set)
    # Enough warm-up jobs that every process has loaded its models before the clock starts.
    enroll_all(client, face_set, warmup * workers)
    seconds, failed = enroll_all(client, face_set, images)
    return Run(workers=workers, images=len(images), seconds=seconds, failed_jobs=failed)


@contextmanager
def distributed_service() -> Iterator[tuple[Client, Processes]]:
    """RabbitMQ, PostgreSQL, Milvus and S3 engines, migrated, with a project and the API up;
    workers are started by the caller through the returned ``Processes``."""
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="facefleet-bench-")))
        bucket = "facefleet-bench"
        settings = Settings.model_validate(
            {
                "mode": "distributed",
                "data_dir": home / "data",
                "database": {"url": stack.enter_context(postgres_database())},
                "broker": {"url": stack.enter_context(rabbitmq_vhost())},
                "vector_store": {"uri": stack.enter_context(milvus_server(home / "milvus"))},
                "object_store": {
                    "kind": "s3",
                    "endpoint": stack.enter_context(s3_server(bucket)),
                    "access_key": S3_KEY,
                    "secret_key": S3_SECRET,
                    "bucket": bucket,
                },
                "models": {"home": REPO_ROOT / ".facefleet"},
                # A benchmark client polls its jobs far above any per-key limit.
                "api": {"gunicorn_workers": 1, "rate_limit_per_minute": 0},
            }
        )
        env = child_env(settings)
        run_cli(env, "migrate")
        yield stack.enter_context(api_serving(env, home))


@contextmanager
def api_serving(env: dict[str, str], home: Path) -> Iterator[tuple[Client, Processes]]:
    """A project, and the API up, on the stack that ``env`` names. On the way out every
    process it or the caller started is stopped, and their logs are kept in
    bench/results/logs when the bench failed or asked for them (``Processes.keep_logs``)."""
    project_id, api_key = created_project(run_cli(env, "project", "create", "bench"))
    processes = Processes(env=env, logs=home, running={})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        processes.start("api", "api", "--bind", f"127.0.0.1:{port}")
        wait_until(lambda: requests.get(f"{base}/healthz", timeout=2).ok, "API")
        yield Client(base=base, project_id=project_id, api_key=api_key), processes
    except BaseException:
        processes.stop_all()
        processes.archive_logs()
        raise
    processes.stop_all()
    if processes.keep_logs:
        processes.archive_logs()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--warmup", type=int, default=3, help="warm-up images per worker")
    args = parser.parse_args(argv)
    chosen = single_face_images(args.images + args.warmup)
    warmup, images = chosen[: args.warmup], chosen[args.warmup :]

    with distributed_service() as (client, processes):
        runs = [measure(client, processes, images, warmup, workers) for workers in (1, 2)]

    report = {
        "runs": [{**asdict(run), "images_per_second": round(run.images_per_second, 3)} for run in runs],
        "ratio_2_over_1": round(runs[1].images_per_second / runs[0].images_per_second, 3),
        "cpu_count": os.cpu_count(),
    }
    save_report(RESULTS, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
