"""Prometheus metrics of the HTTP layer, served at /metrics.

Each app owns its registry, so several apps in one process (tests) never collide. Under
gunicorn with several worker processes, set PROMETHEUS_MULTIPROC_DIR as the
prometheus_client documentation describes; the collector below then aggregates them.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REGISTRY_KEY = "facefleet_metrics"


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
            "Jobs submitted through the API by kind and how the request ended",
            ["kind", "outcome"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def install(app: Flask) -> HttpMetrics:
    metrics = HttpMetrics()
    app.extensions[REGISTRY_KEY] = metrics

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

    app.add_url_rule(
        "/metrics", "metrics", lambda: Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)
    )
    return metrics


def record_job(app: Flask, kind: str, outcome: str) -> None:
    metrics: HttpMetrics | None = app.extensions.get(REGISTRY_KEY)
    if metrics is not None:
        metrics.jobs.labels(kind, outcome).inc()
