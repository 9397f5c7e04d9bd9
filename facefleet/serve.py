"""Serve the API under gunicorn, configured from settings rather than a config file.

Several worker processes each count their own requests; prometheus_client's
multi-process mode (``PROMETHEUS_MULTIPROC_DIR``, set before any worker starts:
facefleet.metrics_dir) makes /metrics aggregate all of them, and a worker that exits is
marked dead so its live gauges go with it.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from facefleet.metrics_dir import multiprocess_metrics
from infra.settings import Settings


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


def serve_api(settings: Settings, bind: str, workers: int | None = None) -> None:
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
    with multiprocess_metrics(shared=settings.metrics.shared_multiprocess_dir):
        _GunicornApp(settings, options).run()
