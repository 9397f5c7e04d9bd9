"""Serve the API under gunicorn, configured from settings rather than a config file.

Several worker processes each count their own requests; prometheus_client's
multi-process mode (``PROMETHEUS_MULTIPROC_DIR``, set here before any worker starts,
emptied on start so counts of a previous run do not leak in) makes /metrics aggregate
all of them, and a worker that exits is marked dead so its live gauges go with it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from infra.settings import Settings

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _GunicornApp(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from api.app import create_app
        from api.fleet_history import start_fleet_sampler

        app = create_app(self._settings)
        start_fleet_sampler(app)
        return app


def _worker_exited(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def prepare_multiprocess_metrics() -> tuple[Path, bool]:
    """The folder the workers' metric files go to (the operator's, emptied, or a new
    temporary one) and whether it was made here."""
    configured = os.environ.get(MULTIPROCESS_ENV)
    if configured:
        folder = Path(configured)
        if folder.is_dir():
            for entry in folder.glob("*.db"):
                entry.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        made_here = False
    else:
        folder = Path(tempfile.mkdtemp(prefix="facefleet-metrics-"))
        os.environ[MULTIPROCESS_ENV] = str(folder)
        made_here = True
    if "prometheus_client" in sys.modules:
        # Its value class is chosen at import: imported before the variable was set, the
        # workers would keep per-process counts.
        raise RuntimeError(f"set {MULTIPROCESS_ENV} before prometheus_client is imported")
    return folder, made_here


def serve_api(settings: Settings, bind: str, workers: int | None = None) -> None:
    folder, made_here = prepare_multiprocess_metrics()
    options = {
        "bind": bind,
        "workers": workers or settings.api.gunicorn_workers,
        "threads": settings.api.gunicorn_threads,
        "worker_class": "gthread",
        # Sync waits are bounded by jobs.sync_wait_seconds; leave head-room above it.
        "timeout": int(settings.jobs.sync_wait_seconds) + 30,
        "accesslog": "-",
        "limit_request_line": 8190,
        "child_exit": _worker_exited,
    }
    try:
        _GunicornApp(settings, options).run()
    finally:
        if made_here:
            shutil.rmtree(folder, ignore_errors=True)
