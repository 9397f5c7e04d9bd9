"""Prometheus metrics, served at /metrics to the operator's admin token only (the
numbers span every tenant).

- HTTP requests and latency, and how job requests were answered, are counted in the API
  process. Under gunicorn (``facefleet api``) ``PROMETHEUS_MULTIPROC_DIR`` is set before
  the workers start and the exposition aggregates every worker's files, as
  prometheus_client documents for multi-process servers: a counter read through any
  worker is the sum over all of them, so it never goes backwards between scrapes.
- Job outcomes (``facefleet_jobs_finished_total``) are counted where a job finishes, in
  the database transaction that makes it final (``infra.db.jobs``): once per job, however
  the caller waited (sync, 202 + polling, callback), whichever process finished it.
- Live collectors (queue gauges) are read at scrape time in the scraped process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from infra.prometheus import multiprocess_registry

REGISTRY_KEY = "facefleet_metrics"


class JobOutcomeCollector(Collector):
    """``facefleet_jobs_finished_total{kind,status}`` from the durable outcome counts."""

    def __init__(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "facefleet_jobs_finished",
            "Jobs that finished, by kind and final status, counted once where they finished",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(self._counts().items()):
            family.add_metric([kind, status], count)
        yield family


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # Read at scrape time in the scraped process (also in multi-process mode).
        self.live_collectors: list[Collector] = []
        self.requests = Counter(
            "facefleet_http_requests_total",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "facefleet_http_request_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.jobs = Counter(
            "facefleet_api_jobs_total",
            "Job requests by kind and how the API answered them (succeeded/failed: a synchronous "
            "answer; accepted: 202). Outcomes of every job: facefleet_jobs_finished_total",
            ["kind", "outcome"],
            registry=self.registry,
        )

    def add_live_collector(self, collector: Collector) -> None:
        self.registry.register(collector)
        self.live_collectors.append(collector)

    def exposition(self) -> bytes:
        registry = multiprocess_registry()
        if registry is not None:
            for collector in self.live_collectors:
                registry.register(collector)
            return generate_latest(registry)
        return generate_latest(self.registry)


def install(app: Flask, job_outcomes: Callable[[], dict[tuple[str, str], int]] | None = None) -> HttpMetrics:
    metrics = HttpMetrics()
    app.extensions[REGISTRY_KEY] = metrics
    if job_outcomes is not None:
        metrics.add_live_collector(JobOutcomeCollector(job_outcomes))

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        # The route template, never the concrete path: ids would explode the label set.
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        route = g.get("metrics_route") or route  # one route serving several operations names them
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        started = g.get("request_started")
        if started is not None:
            metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
        return response

    def serve_metrics() -> Response:
        from api.auth import authenticate_admin

        authenticate_admin()
        return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", serve_metrics)
    return metrics


def record_job(app: Flask, kind: str, outcome: str) -> None:
    metrics: HttpMetrics | None = app.extensions.get(REGISTRY_KEY)
    if metrics is not None:
        metrics.jobs.labels(kind, outcome).inc()

