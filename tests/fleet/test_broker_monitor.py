"""Queue signals on the real RabbitMQ (own vhost) and on the embedded SQL transport."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pika
import pytest
from prometheus_client import CollectorRegistry

from core.queues import QUEUE_NAMES
from infra.broker_monitor import (
    ENQUEUED_AT_HEADER,
    AmqpQueueReader,
    BrokerMonitor,
    QueueJobStats,
    monitor_from_settings,
    parse_management_queues,
    queue_snapshot,
    register_queue_metrics,
)
from infra.celery_config import make_celery
from infra.settings import BrokerSettings, Settings


def _gauge(registry: CollectorRegistry, name: str, queue: str) -> float | None:
    return registry.get_sample_value(name, {"queue": queue})


def _send_burst(settings: Settings, queue: str, count: int, enqueued_at: float) -> None:
    app = make_celery(settings)
    with app.producer_or_acquire() as producer:
        for index in range(count):
            app.send_task(
                "facefleet.enroll_chunk",
                args=[f"job-{index}", {}],
                task_id=f"job-{index}",
                queue=queue,
                headers={ENQUEUED_AT_HEADER: enqueued_at},
                producer=producer,
            )


@pytest.mark.integration
def test_gauges_follow_a_burst_up_and_back_down(amqp_url: str) -> None:
    settings = Settings(broker=BrokerSettings(url=amqp_url))
    monitor = monitor_from_settings(settings, cache_seconds=0)
    registry = CollectorRegistry()
    register_queue_metrics(registry, monitor)
    assert registry.get_sample_value("facefleet_queue_monitor_up") == 1.0
    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.batch") == 0.0

    burst = 40
    _send_burst(settings, "facefleet.batch", burst, enqueued_at=time.time() - 30)
    _send_burst(settings, "facefleet.interactive", 3, enqueued_at=time.time())

    for _ in range(2):  # the age peek requeues its message: reading twice changes nothing
        assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.batch") == burst
    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.interactive") == 3
    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.enroll") == 0
    assert _gauge(registry, "facefleet_queue_consumers", "facefleet.batch") == 0
    age = _gauge(registry, "facefleet_queue_oldest_message_age_seconds", "facefleet.batch")
    assert age is not None and 29 <= age < 90
    # Without the management API the unacked count is unknown: absent, not a fake zero.
    assert _gauge(registry, "facefleet_queue_messages_unacked", "facefleet.batch") is None

    snapshot = queue_snapshot(monitor)
    assert snapshot["up"] is True and snapshot["source"] == "amqp"
    assert [q["queue"] for q in snapshot["queues"]] == list(QUEUE_NAMES)
    batch = next(q for q in snapshot["queues"] if q["queue"] == "facefleet.batch")
    assert batch["ready"] == burst and batch["unacked"] is None

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=1)
    consumed: list[bytes] = []

    def on_message(
        ch: pika.adapters.blocking_connection.BlockingChannel, method: object, _props: object, body: bytes
    ) -> None:
        consumed.append(body)
        ch.basic_ack(method.delivery_tag)  # type: ignore[attr-defined]

    channel.basic_consume("facefleet.batch", on_message)
    connection.process_data_events(time_limit=0)
    assert _gauge(registry, "facefleet_queue_consumers", "facefleet.batch") == 1
    deadline = time.monotonic() + 30
    while len(consumed) < burst and time.monotonic() < deadline:
        connection.process_data_events(time_limit=0.2)
    connection.close()
    assert len(consumed) == burst  # nothing lost or duplicated by the peeks

    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.batch") == 0
    assert _gauge(registry, "facefleet_queue_consumers", "facefleet.batch") == 0
    assert _gauge(registry, "facefleet_queue_oldest_message_age_seconds", "facefleet.batch") is None


@pytest.mark.integration
def test_unreachable_broker_reports_down_without_raising() -> None:
    monitor = BrokerMonitor(
        QUEUE_NAMES, AmqpQueueReader("amqp://guest:guest@127.0.0.1:1//", timeout_seconds=1)
    )
    registry = CollectorRegistry()
    register_queue_metrics(registry, monitor)
    assert registry.get_sample_value("facefleet_queue_monitor_up") == 0.0
    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.batch") is None
    assert queue_snapshot(monitor)["error"]


@pytest.mark.integration
def test_embedded_transport_gives_the_same_gauges(tmp_path: Path) -> None:
    settings = Settings.embedded(tmp_path)
    (tmp_path / "data").mkdir(parents=True)
    running = {"facefleet.batch": QueueJobStats(running=2, oldest_pending_age_seconds=12.5)}
    monitor = monitor_from_settings(settings, job_stats=lambda: running, cache_seconds=0)
    registry = CollectorRegistry()
    register_queue_metrics(registry, monitor)
    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.batch") == 0  # no tables yet

    _send_burst(settings, "facefleet.batch", 7, enqueued_at=time.time())
    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.batch") == 7
    assert _gauge(registry, "facefleet_queue_messages_unacked", "facefleet.batch") == 2
    assert _gauge(registry, "facefleet_queue_oldest_message_age_seconds", "facefleet.batch") == 12.5
    assert _gauge(registry, "facefleet_queue_consumers", "facefleet.batch") is None

    app = make_celery(settings)
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        while channel.basic_get("facefleet.batch", no_ack=True) is not None:
            pass
    assert _gauge(registry, "facefleet_queue_messages_ready", "facefleet.batch") == 0
    assert queue_snapshot(monitor)["source"] == "sql"


def test_management_rows_map_to_signals() -> None:
    rows = [
        {
            "name": "facefleet.batch",
            "messages_ready": 12,
            "messages_unacknowledged": 3,
            "consumers": 2,
            "head_message_timestamp": 1_000.0,
        },
        {"name": "other.queue", "messages_ready": 99},
    ]
    signals = {
        s.queue: s for s in parse_management_queues(rows, ["facefleet.batch", "facefleet.gpu"], now=1_010.0)
    }
    assert signals["facefleet.batch"].ready == 12
    assert signals["facefleet.batch"].unacked == 3
    assert signals["facefleet.batch"].consumers == 2
    assert signals["facefleet.batch"].oldest_age_seconds == 10.0
    assert signals["facefleet.gpu"].ready == 0 and signals["facefleet.gpu"].unacked == 0


@pytest.mark.integration
def test_management_api_adds_the_unacked_count(amqp_url: str) -> None:
    """The AMQP side is the real broker; the management plugin is not enabled on this host,
    so its HTTP answer is served locally in the API's documented shape."""
    vhost = amqp_url.rsplit("/", 1)[1]
    requests_seen: list[tuple[str, str | None]] = []

    class Management(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests_seen.append((self.path, self.headers["Authorization"]))
            rows = [
                {
                    "name": "facefleet.batch",
                    "messages_ready": 999,
                    "messages_unacknowledged": 4,
                    "consumers": 2,
                }
            ]
            body = json.dumps(rows).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Management)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        management_url = f"http://guest:guest@127.0.0.1:{server.server_address[1]}/"
        settings = Settings(broker=BrokerSettings(url=amqp_url, management_url=management_url))
        snapshot = queue_snapshot(monitor_from_settings(settings, cache_seconds=0))
    finally:
        server.shutdown()
        server.server_close()
    path, authorization = requests_seen[0]
    assert path.startswith(f"/api/queues/{vhost}?columns=")
    assert authorization == "Basic Z3Vlc3Q6Z3Vlc3Q="
    assert snapshot["source"] == "amqp+management"
    batch = next(q for q in snapshot["queues"] if q["queue"] == "facefleet.batch")
    assert batch["unacked"] == 4
    assert batch["ready"] == 0  # the broker's exact count, not the (lagging) management sample
