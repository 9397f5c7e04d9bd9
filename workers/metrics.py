"""The workers' Prometheus metrics: what only a worker sees of a job.

- ``facefleet_worker_jobs_started_total{kind}``: every time a worker starts running a job,
  retries and redeliveries included.
- ``facefleet_worker_jobs_finished_total{kind,status}``: counted where a job becomes final,
  only by the update that made it final (``JobLifecycle``), the same event and labels as the
  durable ``facefleet_jobs_finished_total`` the API exports from the database: per worker
  process and since its start, where that one is fleet-wide and permanent. Never add the two.
- ``facefleet_worker_job_seconds{kind,status}``: from the job's last start to its end, from
  the job row (a batch: from its split to its last chunk).
- ``facefleet_worker_queue_wait_seconds{kind}``: from the enqueued-at header the sender
  stamps to the start of the job's first run (a retry's wait would include its backoff).

The pool's children count in prometheus_client's multi-process files
(``PROMETHEUS_MULTIPROC_DIR``, set by ``facefleet worker`` or ``facefleet up``); the main
process serves their sum (``serve_worker_metrics``), and under ``facefleet up`` the API's
/metrics reads the same folder.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

from core.messages import ENQUEUED_AT_HEADER
from infra.prometheus import MULTIPROCESS_ENV, multiprocess_registry

log = logging.getLogger(__name__)

# From a cached interactive search (tens of ms) to a large batch (an hour).
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

STARTED = Counter(
    "facefleet_worker_jobs_started_total",
    "Job runs a worker started, by kind (retries and redeliveries count again)",
    ["kind"],
)
FINISHED = Counter(
    "facefleet_worker_jobs_finished_total",
    "Jobs this worker made final, by kind and status (the per-worker view of "
    "facefleet_jobs_finished_total: do not add the two)",
    ["kind", "status"],
)
DURATION = Histogram(
    "facefleet_worker_job_seconds",
    "Job duration from its last start to its end, by kind and final status",
    ["kind", "status"],
    buckets=DURATION_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "facefleet_worker_queue_wait_seconds",
    "Time from a job's enqueue to the start of its first run, by kind",
    ["kind"],
    buckets=WAIT_BUCKETS,
)


def job_started(kind: str, request: Any, now: float) -> None:
    """Count a run of ``kind`` starting now (epoch seconds); ``request`` is the task's."""
    STARTED.labels(kind).inc()
    enqueued_at = _enqueued_at(request)
    delivery = getattr(request, "delivery_info", None) or {}
    retries: int = getattr(request, "retries", 0) or 0
    if enqueued_at is None or retries > 0 or delivery.get("redelivered"):
        return
    QUEUE_WAIT.labels(kind).observe(max(0.0, now - enqueued_at))


def job_finished(kind: str, status: str, started_at: datetime | None, finished_at: datetime | None) -> None:
    FINISHED.labels(kind, status).inc()
    if started_at is not None and finished_at is not None:
        DURATION.labels(kind, status).observe(max(0.0, (finished_at - started_at).total_seconds()))


def _enqueued_at(request: Any) -> float | None:
    # Celery keeps the custom headers of a message both in request.headers and as attributes.
    headers = getattr(request, "headers", None) or {}
    stamp = headers.get(ENQUEUED_AT_HEADER, getattr(request, ENQUEUED_AT_HEADER, None))
    try:
        return None if stamp is None else float(stamp)
    except (TypeError, ValueError):
        return None


def exposition_registry() -> CollectorRegistry:
    """What the worker's main process serves: the sum of every process's files in
    multi-process mode, else this process's own counts (a threads or solo pool)."""
    registry = multiprocess_registry()
    if registry is None:
        log.warning(
            "%s is not set: the exporter sees only this process's jobs, none of a prefork "
            "pool's (`facefleet worker` sets it)",
            MULTIPROCESS_ENV,
        )
        return REGISTRY
    return registry


def serve_worker_metrics(host: str, port: int) -> None:
    """Serve /metrics from the worker's main process (it runs no job, so the server never
    competes with one; prometheus_client's server runs on a daemon thread)."""
    start_http_server(port, addr=host, registry=exposition_registry())
    log.info("worker metrics on http://%s:%d/metrics", host, port)
