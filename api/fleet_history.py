"""The fleet's last hour for the console's chart: ``GET /v1/admin/queues`` figures sampled
into SQL once a minute by every API process (the minute is the row's key, so N processes
write it once), read back at ``GET /v1/admin/queues/history``.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, OpenAPI, Tag

from api.auth import authenticate_operator
from api.context import ApiContext, current_context
from infra.broker_monitor import BrokerMonitor, queue_snapshot
from infra.db.console_reads import ConsoleReads, FleetSampleRow, hour_before, minute_of

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 60
KEEP = timedelta(days=1)
SAMPLER_KEY = "facefleet_fleet_sampler"


def take_sample(ctx: ApiContext, monitor: BrokerMonitor, now: datetime | None = None) -> FleetSampleRow:
    """The figures of the minute that just ended."""
    now = now or datetime.now(UTC)
    reads = ConsoleReads(ctx.database)
    snapshot = queue_snapshot(monitor)
    queues = {signal["queue"]: signal for signal in snapshot["queues"]}
    consumers = [signal["consumers"] for signal in snapshot["queues"] if signal.get("consumers") is not None]
    workers = max(consumers) if consumers else reads.workers_seen_since(now - timedelta(minutes=5))
    minute = minute_of(now)
    return FleetSampleRow(
        minute=minute,
        ready=sum(int(signal.get("ready") or 0) for signal in queues.values()),
        unacked=sum(int(signal.get("unacked") or 0) for signal in queues.values()),
        workers=workers,
        jobs_finished=reads.jobs_finished_between(minute - timedelta(minutes=1), minute),
        queues=queues,
    )


class FleetSampler:
    """A daemon thread that records one sample a minute; started by the served API
    (``facefleet.serve``), not by every ``create_app`` (tests build many apps)."""

    def __init__(self, ctx: ApiContext, monitor: BrokerMonitor) -> None:
        self.ctx = ctx
        self.monitor = monitor
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def sample_now(self) -> bool:
        reads = ConsoleReads(self.ctx.database)
        written = reads.record_sample(take_sample(self.ctx, self.monitor))
        reads.purge_samples_before(datetime.now(UTC) - KEEP)
        return written

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_now()
            except Exception:  # a sampler must never take the API down; the next minute retries
                log.warning("fleet sample failed", exc_info=True)
            now = datetime.now(UTC)
            self._stop.wait(SAMPLE_SECONDS - now.second - now.microsecond / 1e6 + 1)


def start_fleet_sampler(app: OpenAPI) -> FleetSampler:
    from api.routes.fleet import MONITOR_KEY

    sampler = FleetSampler(app.extensions["facefleet"], app.extensions[MONITOR_KEY])
    sampler.start()
    app.extensions[SAMPLER_KEY] = sampler
    return sampler


def fleet_history_blueprint() -> APIBlueprint:
    bp = APIBlueprint(
        "fleet_history",
        __name__,
        url_prefix="/v1/admin",
        abp_tags=[Tag(name="fleet", description="Queue signals for autoscaling")],
        abp_security=[{"token": []}],
    )
    bp.before_request(authenticate_operator)

    @bp.get("/queues/history")
    def queue_history() -> Response:
        """The last hour, one sample a minute: messages ready and unacknowledged over every
        queue, workers online, jobs finished in that minute, and each queue's figures; and
        now: workers that ran a job in the last 5 minutes, jobs finished in the last one."""
        now = datetime.now(UTC)
        reads = ConsoleReads(current_context().database)
        samples = reads.samples_since(hour_before(now))
        current = {
            "workers": reads.workers_seen_since(now - timedelta(minutes=5)),
            "jobs_last_minute": reads.jobs_finished_between(now - timedelta(minutes=1), now),
        }
        return jsonify({"samples": [_sample_view(sample) for sample in samples], "current": current})

    return bp


def _sample_view(sample: FleetSampleRow) -> dict[str, Any]:
    return {
        "minute": sample.minute.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ready": sample.ready,
        "unacked": sample.unacked,
        "workers": sample.workers,
        "jobs_finished": sample.jobs_finished,
        "queues": sample.queues,
    }
