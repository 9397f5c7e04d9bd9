"""The folder prometheus_client's multi-process mode keeps its counts in.

Several processes (gunicorn's API workers, a Celery worker's pool children) each count in
their own memory-mapped files under ``PROMETHEUS_MULTIPROC_DIR``, and an exposition sums
them all, so a counter never goes backwards whichever process is scraped or replaced. The
variable must be set before prometheus_client is imported (its value class is chosen at
import), so the command that starts the processes sets it here, first.

Whoever starts the processes owns the folder: it empties it once (counts of a previous run
must not leak in). Under ``facefleet up`` that is the supervisor, which gives the API and
the worker the same folder, so the API's /metrics includes the worker's job metrics; the
API and the worker then leave it as it is (``metrics.shared_multiprocess_dir``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.prometheus import MULTIPROCESS_ENV


def empty_metrics_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.glob("*.db"):
        entry.unlink()


def prepare_multiprocess_metrics(shared: bool = False) -> tuple[Path, bool]:
    """The folder this process's children count in (the operator's, emptied unless it is
    ``shared`` with processes already running, or a new temporary one) and whether it was
    made here."""
    configured = os.environ.get(MULTIPROCESS_ENV)
    if configured:
        folder = Path(configured)
        if shared:
            folder.mkdir(parents=True, exist_ok=True)
        else:
            empty_metrics_dir(folder)
        made_here = False
    else:
        folder = Path(tempfile.mkdtemp(prefix="facefleet-metrics-"))
        os.environ[MULTIPROCESS_ENV] = str(folder)
        made_here = True
    if "prometheus_client" in sys.modules:
        # Imported before the variable was set, the children would keep per-process counts.
        raise RuntimeError(f"set {MULTIPROCESS_ENV} before prometheus_client is imported")
    return folder, made_here


@contextmanager
def multiprocess_metrics(shared: bool = False) -> Iterator[Path]:
    """``prepare_multiprocess_metrics`` for the life of a command; a folder made here is
    removed when it ends."""
    folder, made_here = prepare_multiprocess_metrics(shared)
    try:
        yield folder
    finally:
        if made_here:
            shutil.rmtree(folder, ignore_errors=True)
