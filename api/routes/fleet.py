"""Fleet signals for autoscalers and operators: queue gauges on /metrics and the same
numbers as JSON at ``GET /v1/admin/queues`` (issue 11).

On RabbitMQ the broker is read with pika; in embedded mode the SQL transport's tables and
the jobs table stand in for it (``infra.broker_monitor``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, OpenAPI, Tag

from api.auth import authenticate_operator
from api.context import ApiContext
from api.metrics import REGISTRY_KEY
from core.jobs import JobKind
from core.queues import QUEUE_OF_KIND
from infra.broker_monitor import (
    BrokerMonitor,
    QueueJobStats,
    QueueMetricsCollector,
    monitor_from_settings,
    queue_snapshot,
)

MONITOR_KEY = "facefleet_broker_monitor"


def job_stats_by_queue(ctx: ApiContext) -> Mapping[str, QueueJobStats]:
    now = datetime.now(UTC)
    # Every queue a job kind uses reports, with zero running when nothing is active.
    merged: dict[str, tuple[int, datetime | None]] = {queue.value: (0, None) for queue in QUEUE_OF_KIND.values()}
    for kind, (running, oldest) in ctx.jobs.active_by_kind().items():
        try:
            queue = QUEUE_OF_KIND[JobKind(kind)].value
        except ValueError:
            continue
        known_running, known_oldest = merged.get(queue, (0, None))
        candidates = [value for value in (known_oldest, oldest) if value is not None]
        merged[queue] = (known_running + running, min(candidates) if candidates else None)
    return {
        queue: QueueJobStats(running, (now - oldest).total_seconds() if oldest is not None else None)
        for queue, (running, oldest) in merged.items()
    }


def install_fleet_signals(app: OpenAPI, ctx: ApiContext) -> BrokerMonitor:
    monitor = monitor_from_settings(ctx.settings, job_stats=lambda: job_stats_by_queue(ctx))
    app.extensions[REGISTRY_KEY].add_live_collector(QueueMetricsCollector(monitor))
    app.extensions[MONITOR_KEY] = monitor
    app.register_api(_fleet_blueprint())
    return monitor


def _fleet_blueprint() -> APIBlueprint:
    bp = APIBlueprint(
        "fleet",
        __name__,
        url_prefix="/v1/admin",
        abp_tags=[Tag(name="fleet", description="Queue signals for autoscaling")],
        abp_security=[{"token": []}],
    )
    bp.before_request(authenticate_operator)

    @bp.get("/queues")
    def queues() -> Response:
        """Ready and unacknowledged messages, consumers and oldest-message age per queue."""
        started = time.monotonic()
        body = queue_snapshot(current_app.extensions[MONITOR_KEY])
        body["read_seconds"] = round(time.monotonic() - started, 4)
        return jsonify(body)

    return bp
