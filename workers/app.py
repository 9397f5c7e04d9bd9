"""The Celery app the workers run: `celery -A workers.app worker` or `facefleet worker`."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from infra.celery_config import make_celery
from infra.settings import Settings


def create_worker_app(settings: Settings | None = None) -> Celery:
    app = make_celery(settings or Settings(), main="facefleet.worker")
    app.conf.include = ["workers.tasks"]
    return app


app = create_worker_app()


@worker_process_init.connect
def _fresh_resources_after_fork(**_: object) -> None:
    # Connections and model sessions must not be shared across a fork (Superset does the same).
    from workers.runtime import reset_runtime

    reset_runtime()
