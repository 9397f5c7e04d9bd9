"""/metrics through a real 2-worker gunicorn (`facefleet api`): counters never go
backwards between scrapes whichever worker answers, job outcomes are counted once however
the caller waited, and only the operator's admin token may read them."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from facefleet.embedded import child_env
from tests.api.conftest import ApiStack
from tests.api.photos import OBAMA_SMALL

pytestmark = [pytest.mark.integration, pytest.mark.model]

ADMIN_TOKEN = "metrics-admin-0123456789abcdef0123"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def gunicorn(api: ApiStack) -> Iterator[str]:
    port = free_port()
    env = child_env(
        api.settings,
        {"FACEFLEET_API__ADMIN_TOKEN": ADMIN_TOKEN, "FACEFLEET_API__GUNICORN_WORKERS": "2", "FACEFLEET_API__GUNICORN_THREADS": "2"},
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "facefleet.cli", "api", f"--bind=127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        if family.type in ("counter", "histogram")
        for sample in family.samples
        if sample.name.endswith(("_total", "_count", "_sum", "_bucket"))
    }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


def test_counters_are_monotonic_across_workers_and_jobs_are_counted_once(api: ApiStack, gunicorn: str) -> None:
    headers = {"X-Auth-Token": api.client.api_key}
    base = f"{gunicorn}/v1/{api.client.project_id}"
    image = {"image_base64": base64.b64encode(OBAMA_SMALL.read_bytes()).decode()}
    before = scrape(gunicorn)
    scrapes = [before]
    sync_jobs, async_jobs = 2, 3
    for _ in range(sync_jobs):
        assert requests.post(f"{base}/face-detect", json=image, headers=headers, timeout=60).status_code == 200
    accepted = [
        requests.post(f"{base}/face-detect", json=image, headers={**headers, "Prefer": "respond-async"}, timeout=60)
        for _ in range(async_jobs)
    ]
    job_ids = [response.json()["job_id"] for response in accepted]
    for _ in range(30):
        requests.get(f"{base}/face-sets", headers=headers, timeout=10)
        scrapes.append(scrape(gunicorn))
    deadline = time.monotonic() + 60
    while any(requests.get(f"{base}/jobs/{job}", headers=headers, timeout=10).json()["status"] != "succeeded" for job in job_ids):
        assert time.monotonic() < deadline, "the async jobs did not finish"
        time.sleep(0.2)
    after = scrape(gunicorn)
    scrapes.append(after)

    for earlier, later in zip(scrapes, scrapes[1:], strict=False):
        went_back = {key: (earlier[key], later.get(key)) for key in earlier if later.get(key, -1) < earlier[key]}
        assert not went_back, f"counters went backwards between scrapes: {went_back}"
    route = "/v1/<project_id>/face-sets"
    assert total(after, "facefleet_http_requests_total", route=route, method="GET") - total(
        before, "facefleet_http_requests_total", route=route, method="GET"
    ) == 30, "every request counted once, whichever worker served it"
    finished = total(after, "facefleet_jobs_finished_total", kind="detect", status="succeeded") - total(
        before, "facefleet_jobs_finished_total", kind="detect", status="succeeded"
    )
    assert finished >= sync_jobs + async_jobs, "async outcomes are counted too"
    assert total(after, "facefleet_api_jobs_total", kind="detect", outcome="accepted") - total(
        before, "facefleet_api_jobs_total", kind="detect", outcome="accepted"
    ) == async_jobs


def test_metrics_need_the_admin_token(api: ApiStack, gunicorn: str) -> None:
    assert requests.get(f"{gunicorn}/metrics", timeout=10).status_code == 401
    by_project_key = requests.get(f"{gunicorn}/metrics", headers={"X-Auth-Token": api.client.api_key}, timeout=10)
    assert by_project_key.status_code == 403 and "facefleet_" not in by_project_key.text
