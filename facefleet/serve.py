"""Serve the API under gunicorn, configured from settings rather than a config file."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

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
    }
    _GunicornApp(settings, options).run()
