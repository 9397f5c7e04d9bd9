"""Queue signals for autoscaling: depth, in-flight work, consumers and oldest-message age.

Where each signal comes from (no single source has them all):

- AMQP (pika), always on a RabbitMQ broker: ``queue_declare(passive=True)`` gives the ready
  count and the consumer count. The oldest message's age comes from a peek: ``basic_get``
  of the head message, then ``basic_nack(requeue=True)``, which puts it back in place. The
  age is read from the AMQP ``timestamp`` property or the ``x-facefleet-enqueued-at``
  header (Celery stamps neither by itself: the producer has to add the header).
- RabbitMQ's management HTTP API, when ``broker.management_url`` is set: the only source of
  the unacknowledged (delivered, in-flight) count. The AMQP counts stay, because they are
  exact at read time while management statistics lag by the broker's sampling interval.
  Without it, ``unacked`` is unknown and its gauge is absent rather than a made-up zero.
- Embedded mode (kombu SQL transport): the ready count is the number of visible rows in
  ``kombu_message``; the transport keeps no consumer registry and tracks unacked messages
  only in worker memory, so those (and the age) come from an optional ``job_stats`` hook
  fed by the jobs table (running jobs, oldest pending job).

All three produce the same gauges, so dashboards and autoscalers do not care which mode runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import requests
from pika.exceptions import AMQPError, ChannelClosedByBroker
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Boolean, Column, Engine, Integer, MetaData, String, Table, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from core.messages import ENQUEUED_AT_HEADER, is_amqp_url
from core.queues import QUEUE_NAMES
from infra.events import pika_parameters
from infra.settings import Settings

log = logging.getLogger(__name__)

_NOT_FOUND = 404


@dataclass(frozen=True)
class QueueSignal:
    queue: str
    ready: int | None
    unacked: int | None = None
    consumers: int | None = None
    oldest_age_seconds: float | None = None


@dataclass(frozen=True)
class QueueSnapshot:
    source: str
    taken_at: float
    queues: tuple[QueueSignal, ...]
    error: str | None = None

    @property
    def up(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "taken_at": self.taken_at,
            "up": self.up,
            "error": self.error,
            "queues": [asdict(signal) for signal in self.queues],
        }


@dataclass(frozen=True)
class QueueJobStats:
    """What the jobs table knows about a queue (embedded mode's stand-in for the broker)."""

    running: int
    oldest_pending_age_seconds: float | None = None


JobStatsSource = Callable[[], Mapping[str, QueueJobStats]]


class AmqpQueueReader:
    """Counts by passive declare, age by peek; one short connection per read, so a scrape
    never holds a connection the broker might drop between scrapes."""

    source = "amqp"

    def __init__(self, url: str, peek_oldest: bool = True, timeout_seconds: float = 3.0) -> None:
        self._parameters = pika_parameters(url, timeout_seconds, timeout_seconds)
        self._peek_oldest = peek_oldest
        self.vhost: str = self._parameters.virtual_host

    def read(self, queue_names: Sequence[str]) -> list[QueueSignal]:
        connection = pika.BlockingConnection(self._parameters)
        try:
            channel = connection.channel()
            signals = []
            for name in queue_names:
                try:
                    signals.append(self._read_queue(channel, name))
                except ChannelClosedByBroker as error:
                    if error.reply_code != _NOT_FOUND:
                        raise
                    # Celery declares queues when a worker or producer first starts; until
                    # then the queue is empty by definition.
                    signals.append(QueueSignal(name, ready=0, consumers=0))
                    channel = connection.channel()
            return signals
        finally:
            if connection.is_open:
                connection.close()

    def _read_queue(self, channel: Any, name: str) -> QueueSignal:
        declared = channel.queue_declare(name, passive=True)
        ready = int(declared.method.message_count)
        consumers = int(declared.method.consumer_count)
        age = self._peek_age(channel, name) if self._peek_oldest and ready else None
        return QueueSignal(name, ready=ready, consumers=consumers, oldest_age_seconds=age)

    @staticmethod
    def _peek_age(channel: Any, name: str) -> float | None:
        method, properties, _body = channel.basic_get(name, auto_ack=False)
        if method is None:
            return None
        # Requeued at its original position; a consumer sees it with redelivered=True.
        channel.basic_nack(method.delivery_tag, requeue=True)
        return enqueued_age(properties, time.time())


def enqueued_age(properties: Any, now: float) -> float | None:
    headers = getattr(properties, "headers", None) or {}
    stamp = headers.get(ENQUEUED_AT_HEADER)
    if stamp is None:
        stamp = getattr(properties, "timestamp", None)
    if stamp is None:
        return None
    try:
        return max(0.0, now - float(stamp))
    except (TypeError, ValueError):
        return None


class ManagementQueueReader:
    """RabbitMQ management API: ``GET /api/queues/<vhost>`` with only the columns we use."""

    source = "management"

    def __init__(self, management_url: str, vhost: str, timeout_seconds: float = 3.0) -> None:
        parts = urlsplit(management_url)
        self._auth = (parts.username or "", parts.password or "") if parts.username else None
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._url = f"{base}/api/queues/{quote(vhost, safe='')}"
        self._timeout = timeout_seconds

    def read(self, queue_names: Sequence[str]) -> list[QueueSignal]:
        response = requests.get(
            self._url,
            params={
                "columns": "name,messages_ready,messages_unacknowledged,consumers,head_message_timestamp"
            },
            auth=self._auth,
            timeout=self._timeout,
        )
        response.raise_for_status()
        return parse_management_queues(response.json(), queue_names, time.time())


def parse_management_queues(
    rows: Iterable[Mapping[str, Any]], queue_names: Sequence[str], now: float
) -> list[QueueSignal]:
    by_name = {str(row.get("name")): row for row in rows}
    signals = []
    for name in queue_names:
        row = by_name.get(name)
        if row is None:
            signals.append(QueueSignal(name, ready=0, unacked=0, consumers=0))
            continue
        # head_message_timestamp is in seconds, and only set when the message carries one.
        head = row.get("head_message_timestamp")
        signals.append(
            QueueSignal(
                name,
                ready=_int_or_none(row.get("messages_ready")),
                unacked=_int_or_none(row.get("messages_unacknowledged")),
                consumers=_int_or_none(row.get("consumers")),
                oldest_age_seconds=max(0.0, now - float(head)) if isinstance(head, int | float) else None,
            )
        )
    return signals


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


_kombu_metadata = MetaData()
_kombu_queue = Table(
    "kombu_queue", _kombu_metadata, Column("id", Integer, primary_key=True), Column("name", String(200))
)
_kombu_message = Table(
    "kombu_message",
    _kombu_metadata,
    Column("id", Integer, primary_key=True),
    Column("queue_id", Integer),
    Column("visible", Boolean),
)


class SqlQueueReader:
    """Embedded mode: kombu's SQL transport tables, plus the jobs table through ``job_stats``."""

    source = "sql"

    def __init__(self, broker_url: str, job_stats: JobStatsSource | None = None) -> None:
        url = broker_url.split("+", 1)[1] if broker_url.startswith(("sqla+", "sqlalchemy+")) else broker_url
        connect_args = {"timeout": 5} if url.startswith("sqlite") else {}
        self._engine: Engine = create_engine(url, connect_args=connect_args)
        self._job_stats = job_stats

    def read(self, queue_names: Sequence[str]) -> list[QueueSignal]:
        ready = self._ready_counts()
        stats = self._job_stats() if self._job_stats is not None else {}
        signals = []
        for name in queue_names:
            job = stats.get(name)
            signals.append(
                QueueSignal(
                    name,
                    ready=ready.get(name, 0),
                    unacked=job.running if job else None,
                    oldest_age_seconds=job.oldest_pending_age_seconds if job else None,
                )
            )
        return signals

    def _ready_counts(self) -> dict[str, int]:
        query = (
            select(_kombu_queue.c.name, func.count(_kombu_message.c.id))
            .select_from(_kombu_queue)
            .join(_kombu_message, _kombu_message.c.queue_id == _kombu_queue.c.id)
            .where(_kombu_message.c.visible.is_(True))
            .group_by(_kombu_queue.c.name)
        )
        try:
            with self._engine.connect() as connection:
                return {str(name): int(count) for name, count in connection.execute(query)}
        except SQLAlchemyError as error:
            if "no such table" in str(error) or "does not exist" in str(error):
                return {}  # no message was ever sent: the transport creates its tables lazily
            raise


class BrokerMonitor:
    """One snapshot of every queue, cached briefly so /metrics and the admin endpoint (and
    several Prometheus replicas) do not each open broker connections."""

    def __init__(
        self,
        queue_names: Sequence[str],
        reader: AmqpQueueReader | SqlQueueReader,
        management: ManagementQueueReader | None = None,
        cache_seconds: float = 2.0,
    ) -> None:
        self.queue_names = tuple(queue_names)
        self._reader = reader
        self._management = management
        self._cache_seconds = cache_seconds
        self._cached: QueueSnapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> QueueSnapshot:
        with self._lock:
            if self._cached is not None and time.time() - self._cached.taken_at < self._cache_seconds:
                return self._cached
            self._cached = self._read()
            return self._cached

    def _read(self) -> QueueSnapshot:
        source = self._reader.source
        try:
            signals = self._reader.read(self.queue_names)
        except (AMQPError, OSError, SQLAlchemyError) as error:
            log.warning("queue monitor: %s read failed: %r", source, error)
            empty = tuple(QueueSignal(name, ready=None) for name in self.queue_names)
            return QueueSnapshot(source, time.time(), empty, error=f"{type(error).__name__}: {error}")
        if self._management is not None:
            try:
                managed = {s.queue: s for s in self._management.read(self.queue_names)}
            except (requests.RequestException, ValueError) as error:
                # AMQP counts stand; only the unacked count stays unknown.
                log.warning("queue monitor: management API read failed: %r", error)
            else:
                signals = [_merge(own, managed.get(own.queue)) for own in signals]
                source = f"{source}+management"
        return QueueSnapshot(source, time.time(), tuple(signals))


def _merge(own: QueueSignal, managed: QueueSignal | None) -> QueueSignal:
    if managed is None:
        return own
    age = own.oldest_age_seconds if own.oldest_age_seconds is not None else managed.oldest_age_seconds
    return replace(own, unacked=managed.unacked, oldest_age_seconds=age)


_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("facefleet_queue_messages_ready", "Messages waiting in the queue", "ready"),
    (
        "facefleet_queue_messages_unacked",
        "Messages delivered to a worker and not yet acknowledged",
        "unacked",
    ),
    ("facefleet_queue_consumers", "Consumers (worker processes) attached to the queue", "consumers"),
    (
        "facefleet_queue_oldest_message_age_seconds",
        "Age of the message at the head of the queue",
        "oldest_age_seconds",
    ),
)


class QueueMetricsCollector(Collector):
    """Prometheus collector: reads a fresh (or briefly cached) snapshot on every scrape."""

    def __init__(self, monitor: BrokerMonitor) -> None:
        self._monitor = monitor

    def describe(self) -> Iterator[Metric]:
        # Registration must not touch the broker: describe names without reading.
        for name, documentation, _field in _GAUGES:
            yield GaugeMetricFamily(name, documentation, labels=["queue"])
        yield GaugeMetricFamily("facefleet_queue_monitor_up", "1 when the last broker read succeeded")

    def collect(self) -> Iterator[Metric]:
        snapshot = self._monitor.snapshot()
        for name, documentation, field_name in _GAUGES:
            family = GaugeMetricFamily(name, documentation, labels=["queue"])
            for signal in snapshot.queues:
                value = getattr(signal, field_name)
                if value is not None:
                    family.add_metric([signal.queue], float(value))
            yield family
        yield GaugeMetricFamily(
            "facefleet_queue_monitor_up",
            "1 when the last broker read succeeded",
            value=1.0 if snapshot.up else 0.0,
        )


def register_queue_metrics(registry: CollectorRegistry, monitor: BrokerMonitor) -> QueueMetricsCollector:
    collector = QueueMetricsCollector(monitor)
    registry.register(collector)
    return collector


def queue_snapshot(monitor: BrokerMonitor) -> dict[str, Any]:
    """The JSON body of ``GET /v1/admin/queues``."""
    return monitor.snapshot().to_dict()


def monitor_from_settings(
    settings: Settings,
    queue_names: Sequence[str] | None = None,
    job_stats: JobStatsSource | None = None,
    peek_oldest: bool = True,
    cache_seconds: float = 2.0,
) -> BrokerMonitor:
    """The monitor for this deployment's broker. ``job_stats`` feeds embedded mode's
    unacked/age signals from the jobs table; it is ignored on RabbitMQ."""
    if queue_names is None:
        queue_names = QUEUE_NAMES
    url = settings.broker.url
    if is_amqp_url(url):
        reader = AmqpQueueReader(url, peek_oldest=peek_oldest)
        management = (
            ManagementQueueReader(settings.broker.management_url, reader.vhost)
            if settings.broker.management_url
            else None
        )
        return BrokerMonitor(queue_names, reader, management, cache_seconds)
    return BrokerMonitor(queue_names, SqlQueueReader(url, job_stats), cache_seconds=cache_seconds)
