"""The Celery app the workers run: `celery -A workers.app worker` or `facefleet worker`."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

from infra.celery_config import make_celery
from infra.settings import Settings


def create_worker_app(settings: Settings | None = None) -> Celery:
    from workers.pool_watchdog import PoolWatchdogStep

    app = make_celery(settings or Settings(), main="facefleet.worker")
    app.conf.include = ["workers.tasks"]
    app.steps["consumer"].add(PoolWatchdogStep)
    return app


log = logging.getLogger(__name__)
app = create_worker_app()
_housekeeper: Any = None


@worker_process_init.connect
def _fresh_resources_after_fork(**_: object) -> None:
    # Connections and model sessions must not be shared across a fork (Superset does the same).
    from workers.pool_watchdog import enable_stack_dumps
    from workers.runtime import get_runtime, reset_runtime
    from workers.warmup import warm_up

    enable_stack_dumps()  # first: a warm-up that hangs is the case to see
    reset_runtime()
    warm_up(get_runtime(), _consumed_queues(app))


def _consumed_queues(celery_app: Celery) -> Any:
    """The queues this worker takes jobs from: those named by ``--queues``, else all of them."""
    return celery_app.amqp.queues.consume_from or celery_app.amqp.queues


@worker_init.connect
def _refuse_to_start_without_models(sender: Any, **_: object) -> None:
    """Runs in the main process before the pool starts. Without its model files (a home
    deleted or moved after `make install`) every job would fail as ``internal``; the worker
    stops instead and says what to run. EX_CONFIG tells `facefleet up` not to restart it."""
    from workers.runtime import get_runtime
    from workers.warmup import missing_model_files, runs_pipeline

    settings = get_runtime().settings
    pipeline_worker = runs_pipeline(_consumed_queues(sender.app))  # sender: the WorkController
    missing = missing_model_files(settings) if pipeline_worker else []
    if missing:
        log.critical(
            "model files missing: %s; build them with `python -m facefleet.models_setup --home %s` "
            "(`make install` does) and start the worker again",
            ", ".join(str(path) for path in missing),
            settings.models.home,
        )
        logging.shutdown()
        os._exit(os.EX_CONFIG)


@worker_ready.connect
def _start_housekeeping(**_: object) -> None:
    """Runs in the worker's main process, which executes no task, so housekeeping never
    competes with jobs for a pool slot."""
    global _housekeeper
    from workers.maintenance import Housekeeper
    from workers.runtime import get_runtime

    runtime = get_runtime()
    _housekeeper = Housekeeper(runtime, interval_seconds=runtime.settings.jobs.housekeeping_interval_seconds)
    _housekeeper.start()


@worker_ready.connect
def _serve_metrics(**_: object) -> None:
    """The pool's job metrics on ``metrics.worker_port``, from the main process."""
    from workers.metrics import serve_worker_metrics
    from workers.runtime import get_runtime

    settings = get_runtime().settings.metrics
    if settings.worker_port is None:
        return
    try:
        serve_worker_metrics(settings.worker_host, settings.worker_port)
    except OSError:  # a taken port costs the exporter, never the jobs
        log.exception("cannot serve worker metrics on %s:%d", settings.worker_host, settings.worker_port)


@worker_shutdown.connect
def _stop_housekeeping(**_: object) -> None:
    if _housekeeper is not None:
        _housekeeper.stop()
    from workers.runtime import get_runtime

    stats = get_runtime().micro_batching_stats()
    if stats is not None:  # how much merging the workload allowed: the number to tune the window by
        log.info(
            "micro-batching: %d embedding requests in %d backend calls (%d chips, largest batch %d)",
            stats.requests,
            stats.backend_calls,
            stats.chips,
            stats.largest_batch,
        )
