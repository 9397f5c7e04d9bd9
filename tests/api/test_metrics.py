"""/metrics through a real 2-worker gunicorn (`facefleet api`): counters never go
backwards between scrapes whichever worker answers, job outcomes are counted once however
the caller waited, and only the operator's admin token may read them. A real Celery worker
counts the jobs it runs, served by its own exporter and, on a shared metrics folder as under
`facefleet up`, by the API's /metrics."""

from __future__ import annotations

import base64
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from facefleet.embedded import child_env, shared_metrics
from infra.settings import Settings
from tests.api.conftest import API_JOBS, ApiStack, new_project
from tests.api.photos import NO_FACE, OBAMA_SMALL, b64
from tests.conftest import free_port
from tests.support.stack import start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model]

ADMIN_TOKEN = "metrics-admin-0123456789abcdef0123"


# What 3 detects and 1 failing compare move on the worker's metrics.
EXPECTED_WORKER_DELTAS: list[tuple[tuple[str, dict[str, str]], float]] = [
    (("facefleet_worker_jobs_started_total", {"kind": "detect"}), 3),
    (("facefleet_worker_jobs_started_total", {"kind": "compare"}), 1),
    (("facefleet_worker_jobs_finished_total", {"kind": "detect", "status": "succeeded"}), 3),
    (("facefleet_worker_jobs_finished_total", {"kind": "compare", "status": "failed"}), 1),
    (("facefleet_worker_jobs_finished_total", {"kind": "detect", "status": "failed"}), 0),
    (("facefleet_worker_job_seconds_count", {"kind": "detect", "status": "succeeded"}), 3),
    (("facefleet_worker_job_seconds_count", {"kind": "compare", "status": "failed"}), 1),
    (("facefleet_worker_queue_wait_seconds_count", {"kind": "detect"}), 3),
]


@contextmanager
def serve_gunicorn(settings: Settings, extra_env: dict[str, str]) -> Iterator[str]:
    """``facefleet api`` with 2 workers; its URL once it answers."""
    port = free_port()
    env = child_env(
        settings,
        {
            "FACEFLEET_API__ADMIN_TOKEN": ADMIN_TOKEN,
            "FACEFLEET_API__GUNICORN_WORKERS": "2",
            "FACEFLEET_API__GUNICORN_THREADS": "2",
            **extra_env,
        },
    )
    if "PROMETHEUS_MULTIPROC_DIR" not in extra_env:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "facefleet.cli", "api", f"--bind=127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/healthz", process, "gunicorn")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert process.poll() is None, f"{what} exited"
        assert time.monotonic() < deadline, f"{what} did not start"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def gunicorn(api: ApiStack) -> Iterator[str]:
    with serve_gunicorn(api.settings, {}) as url:
        yield url


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        if family.type in ("counter", "histogram")
        for sample in family.samples
        if sample.name.endswith(("_total", "_count", "_sum", "_bucket"))
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


def test_counters_are_monotonic_across_workers_and_jobs_are_counted_once(
    api: ApiStack, gunicorn: str
) -> None:
    headers = {"X-Auth-Token": api.client.api_key}
    base = f"{gunicorn}/v1/{api.client.project_id}"
    image = {"image_base64": base64.b64encode(OBAMA_SMALL.read_bytes()).decode()}
    before = scrape(gunicorn)
    scrapes = [before]
    sync_jobs, async_jobs = 2, 3
    for _ in range(sync_jobs):
        assert (
            requests.post(f"{base}/face-detect", json=image, headers=headers, timeout=60).status_code == 200
        )
    accepted = [
        requests.post(
            f"{base}/face-detect", json=image, headers={**headers, "Prefer": "respond-async"}, timeout=60
        )
        for _ in range(async_jobs)
    ]
    job_ids = [response.json()["job_id"] for response in accepted]
    for _ in range(30):
        requests.get(f"{base}/face-sets", headers=headers, timeout=10)
        scrapes.append(scrape(gunicorn))
    deadline = time.monotonic() + 60
    while any(
        requests.get(f"{base}/jobs/{job}", headers=headers, timeout=10).json()["status"] != "succeeded"
        for job in job_ids
    ):
        assert time.monotonic() < deadline, "the async jobs did not finish"
        time.sleep(0.2)
    after = scrape(gunicorn)
    scrapes.append(after)

    for earlier, later in itertools.pairwise(scrapes):
        went_back = {
            key: (earlier[key], later.get(key)) for key in earlier if later.get(key, -1) < earlier[key]
        }
        assert not went_back, f"counters went backwards between scrapes: {went_back}"
    route = "/v1/<project_id>/face-sets"
    assert (
        total(after, "facefleet_http_requests_total", route=route, method="GET")
        - total(before, "facefleet_http_requests_total", route=route, method="GET")
        == 30
    ), "every request counted once, whichever worker served it"
    finished = total(after, "facefleet_jobs_finished_total", kind="detect", status="succeeded") - total(
        before, "facefleet_jobs_finished_total", kind="detect", status="succeeded"
    )
    assert finished >= sync_jobs + async_jobs, "async outcomes are counted too"
    assert (
        total(after, "facefleet_api_jobs_total", kind="detect", outcome="accepted")
        - total(before, "facefleet_api_jobs_total", kind="detect", outcome="accepted")
        == async_jobs
    )


def test_metrics_need_the_admin_token(api: ApiStack, gunicorn: str) -> None:
    assert requests.get(f"{gunicorn}/metrics", timeout=10).status_code == 401
    by_project_key = requests.get(
        f"{gunicorn}/metrics", headers={"X-Auth-Token": api.client.api_key}, timeout=10
    )
    assert by_project_key.status_code == 403 and "facefleet_" not in by_project_key.text


# --- the workers' metrics ---------------------------------------------------------------


@dataclass
class EmbeddedService:
    """A worker and the API on one metrics folder, as `facefleet up` starts them, the
    worker also serving its exporter as a compose worker does."""

    api_url: str
    worker_url: str
    headers: dict[str, str]
    base: str


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    home = tmp_path_factory.mktemp("worker-metrics")
    with start_stack(home, workers=0, jobs=API_JOBS) as stack:
        stack.settings, metrics_env = shared_metrics(stack.settings)
        worker_port = free_port()
        exporter = {
            "FACEFLEET_METRICS__WORKER_PORT": str(worker_port),
            "FACEFLEET_METRICS__WORKER_HOST": "127.0.0.1",
        }
        worker = stack.start_worker("metrics", concurrency=1, extra_env={**metrics_env, **exporter})
        worker_url = f"http://127.0.0.1:{worker_port}"
        wait_until_answering(f"{worker_url}/metrics", worker, "the worker's exporter", seconds=180)
        project_id, api_key = new_project(stack.settings, "worker-metrics")
        with serve_gunicorn(stack.settings, metrics_env) as api_url:
            yield EmbeddedService(
                api_url, worker_url, {"X-Auth-Token": api_key}, f"{api_url}/v1/{project_id}"
            )


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_worker_job_metrics_count_each_job_once_where_it_finished(embedded: EmbeddedService) -> None:
    service = embedded
    scrapes = [(scrape(service.worker_url), scrape(service.api_url))]
    detect = {"image_base64": base64.b64encode(OBAMA_SMALL.read_bytes()).decode()}
    for _ in range(3):
        answer = requests.post(
            f"{service.base}/face-detect", json=detect, headers=service.headers, timeout=90
        )
        assert answer.status_code == 200, answer.text
        scrapes.append((scrape(service.worker_url), scrape(service.api_url)))
    no_face = {"image1_base64": b64(OBAMA_SMALL), "image2_base64": b64(NO_FACE)}
    answer = requests.post(f"{service.base}/face-compare", json=no_face, headers=service.headers, timeout=90)
    assert answer.status_code == 400 and answer.json()["error_code"] == "FRS.0501", answer.text
    scrapes.append((scrape(service.worker_url), scrape(service.api_url)))

    for (worker_before, api_before), (worker_after, api_after) in itertools.pairwise(scrapes):
        for earlier, later in ((worker_before, worker_after), (api_before, api_after)):
            went_back = {
                key: (value, later.get(key)) for key, value in earlier.items() if later.get(key, -1) < value
            }
            assert not went_back, f"counters went backwards between scrapes: {went_back}"
    (worker_before, api_before), (worker_after, api_after) = scrapes[0], scrapes[-1]
    for samples, before in ((worker_after, worker_before), (api_after, api_before)):
        # The exporter and the API's /metrics read the same files: the same numbers.
        moved = {
            (name, tuple(sorted(labels.items()))): delta(samples, before, name, **labels)
            for name, labels in (spec for spec, _ in EXPECTED_WORKER_DELTAS)
        }
        assert moved == {(name, tuple(sorted(labels.items()))): n for (name, labels), n in EXPECTED_WORKER_DELTAS}
        assert delta(samples, before, "facefleet_worker_queue_wait_seconds_count", kind="compare") == 1
        for histogram in ("facefleet_worker_job_seconds", "facefleet_worker_queue_wait_seconds"):
            took = delta(samples, before, f"{histogram}_sum", kind="detect")
            assert 0 < took < 90, (histogram, took)
            # Every observation is in the +Inf bucket, and the buckets are cumulative.
            assert delta(samples, before, f"{histogram}_bucket", kind="detect", le="+Inf") == 3
    # The durable count the API exports moved by exactly what the worker counted: one event,
    # two views (per worker since its start; fleet-wide and permanent), never summed.
    assert (
        delta(api_after, api_before, "facefleet_jobs_finished_total", kind="detect", status="succeeded") == 3
    )
    assert delta(api_after, api_before, "facefleet_jobs_finished_total", kind="compare", status="failed") == 1


def test_a_command_empties_its_own_metrics_folder_but_never_a_shared_one(tmp_path: Path) -> None:
    """`facefleet api` and `facefleet worker` start on an empty folder, except under
    `facefleet up`, where the other process already counts in it."""
    script = (
        "import sys; from facefleet.metrics_dir import prepare_multiprocess_metrics; "
        "prepare_multiprocess_metrics(shared=sys.argv[1] == 'shared'); import prometheus_client"
    )
    for mode, kept in (("shared", True), ("own", False)):
        folder = tmp_path / mode
        folder.mkdir()
        (folder / "counter_123.db").write_bytes(b"counts of a running process")
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
        subprocess.run([sys.executable, "-c", script, mode], env=env, check=True)
        assert (folder / "counter_123.db").exists() is kept, mode
