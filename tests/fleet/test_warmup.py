"""A worker is warm before its first job: models run once, connections open, collection
loaded, all in the pool child before it reports up (workers/warmup.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.api.photos import OBAMA_SMALL
from tests.support.client import project_client
from tests.support.stack import FAULT_JOBS, start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model]


def test_the_pool_child_is_warm_before_it_receives_its_first_job(tmp_path: Path) -> None:
    with start_stack(tmp_path / "stack", workers=0, jobs=FAULT_JOBS) as stack:
        client = project_client(stack.settings, "warm")
        stack.start_worker("warm")
        deadline = time.monotonic() + 120
        while "worker warmed up" not in stack.worker_log("warm"):
            assert time.monotonic() < deadline, stack.worker_log("warm")[-2000:]
            time.sleep(0.2)
        form = {"image_file": (OBAMA_SMALL.open("rb"), OBAMA_SMALL.name)}
        response = client.call("POST", "/face-detect", data=form, content_type="multipart/form-data")
        assert response.status_code == 200 and len(response.get_json()["faces"]) == 1
        log = stack.worker_log("warm")
    warmed = re.search(r"worker warmed up: (.*)", log)
    assert warmed is not None
    assert {"sql", "object_store", "pipeline", "vector_index", "job_start_thread"} <= {
        part.rsplit(" ", 2)[0] for part in warmed.group(1).split(", ")
    }
    assert "warm-up of" not in log  # no part failed
    assert log.index("worker warmed up") < log.index("Task facefleet.detect")
