"""A worker whose model files are missing (its models home deleted or moved after `make
install`) stops before it takes a job and names the command that builds them, instead of
failing every job as `internal`; `facefleet up` does not restart it in a loop."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import pytest

from facefleet.supervision import Supervisor
from infra.settings import ModelSettings
from tests.support.stack import start_stack

pytestmark = [pytest.mark.integration]


def test_a_worker_without_its_model_files_exits_with_ex_config_and_says_what_to_run(tmp_path: Path) -> None:
    empty_home = tmp_path / "moved-home"
    with start_stack(tmp_path / "stack", workers=0, models=ModelSettings(home=empty_home)) as stack:
        worker = stack.start_worker("no-models")
        assert worker.wait(timeout=120) == os.EX_CONFIG
        log = stack.worker_log("no-models")
    assert "model files missing" in log
    assert str(empty_home / "models" / "dlib_resnet_v1.onnx") in log
    assert str(empty_home / "models" / "blazeface_back.onnx") in log
    assert f"python -m facefleet.models_setup --home {empty_home}" in log
    assert "ForkPoolWorker" not in log, "it stopped before its pool started"


def test_facefleet_up_stops_at_once_when_a_worker_exits_with_ex_config() -> None:
    out = io.StringIO()
    supervisor = Supervisor({}, backoff_seconds=0.01, out=out)
    supervisor.start("worker", [sys.executable, "-c", f"raise SystemExit({os.EX_CONFIG})"])
    deadline = time.monotonic() + 20
    while (stopped := supervisor.check()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert stopped == os.EX_CONFIG
    assert "a configuration fault that restarting will not cure" in out.getvalue()
    assert "starting it again" not in out.getvalue()
    supervisor.stop()
