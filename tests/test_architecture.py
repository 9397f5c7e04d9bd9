"""The package rules of docs/ARCHITECTURE.md hold: import-linter contracts (pyproject.toml)
and mypy --strict on ``core``, ``infra``, ``api`` and ``workers`` (``pipelines`` has its own test in tests/pipelines)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_import_contracts_are_kept() -> None:
    done = _run(str(BIN / "lint-imports"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_core_infra_api_and_workers_pass_mypy_strict() -> None:
    done = _run(sys.executable, "-m", "mypy", "core", "infra", "api", "workers")
    assert done.returncode == 0, done.stdout + done.stderr
