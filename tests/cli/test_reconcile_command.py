"""`facefleet reconcile`: an operator's pass by hand, with the environment's settings (the
same entry the workers' housekeeper starts as a process of its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from facefleet.embedded import child_env, prepare_embedded
from workers.runtime import Runtime

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration]


def test_reconcile_removes_an_orphan_past_the_grace_and_keeps_a_young_one(tmp_path: Path) -> None:
    settings, stop_milvus = prepare_embedded(tmp_path / "home")
    try:
        store = Runtime(settings).store
        orphan = store.put(b"crop of a face whose row never committed", "image/jpeg", prefix="crops")

        def reconcile(*options: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "facefleet.cli", "reconcile", *options],
                cwd=REPO_ROOT,
                env=child_env(settings),
                capture_output=True,
                text=True,
                timeout=120,
            )

        default_grace = reconcile()
        assert default_grace.returncode == 0, default_grace.stderr
        assert "reconcile pass: 0 vector(s) and 0 object(s) removed" in default_grace.stderr
        assert store.exists(orphan), "younger than the 10-minute grace: it may belong to work in flight"

        no_grace = reconcile("--grace-minutes", "0")
        assert no_grace.returncode == 0, no_grace.stderr
        assert "reconcile pass: 0 vector(s) and 1 object(s) removed" in no_grace.stderr
        assert not store.exists(orphan)

        refused = reconcile("--grace-minutes", "-1")
        assert refused.returncode == 2 and "--grace-minutes" in refused.stderr
    finally:
        stop_milvus()
