"""Job state events on a durable RabbitMQ topic exchange (``facefleet.events``).

Every job state change can be published as a small JSON event with the routing key
``project.<project_id>.job.<kind>.<state>``, so fleets and clients learn that a job finished
without polling. Events are published with pika and publisher confirms, as persistent
messages; they never carry image bytes or embeddings: results are reduced to a summary of
scalars and counts.

Publishing is best effort by design: an event that cannot be published is logged and
counted, never raised, because a job's outcome lives in its row and must not fail because
the event bus is down. In embedded mode (no AMQP broker) events go to an in-process log.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError

from core.messages import is_amqp_url
from infra.settings import EventSettings, Settings

log = logging.getLogger(__name__)

EVENT_SCHEMA_VERSION = 1
# Strings longer than this are dropped from summaries: short codes and ids pass, blobs do not.
_MAX_SUMMARY_STRING = 128
_MAX_SUMMARY_MAPPING_KEYS = 32


class JobState(StrEnum):
    ACCEPTED = "accepted"
    RUNNING = "running"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def summarize_result(result: Mapping[str, Any] | None) -> dict[str, Any]:
    """Reduce a job result to what an event may carry: scalars, short strings, small
    mappings of numbers, and the length of every list (never the list itself, which is
    where faces, vectors and per-item reports live)."""
    if not result:
        return {}
    summary: dict[str, Any] = {}
    for key, value in result.items():
        if value is None or isinstance(value, bool | int | float):
            summary[key] = value
        elif isinstance(value, str):
            if len(value) <= _MAX_SUMMARY_STRING:
                summary[key] = value
        elif isinstance(value, list | tuple):
            summary[f"{key}_count"] = len(value)
        elif isinstance(value, Mapping) and len(value) <= _MAX_SUMMARY_MAPPING_KEYS:
            numbers = {
                str(k): v for k, v in value.items() if isinstance(v, int | float) and not isinstance(v, bool)
            }
            if len(numbers) == len(value):
                summary[key] = numbers
    return summary


def _routing_word(text: str) -> str:
    # '.' separates topic words and '*'/'#' are wildcards: keep the key's shape fixed.
    return text.replace(".", "_").replace("*", "_").replace("#", "_") or "_"


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    project_id: str
    kind: str
    state: JobState
    progress: tuple[int, int] | None = None
    error: tuple[str, str] | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    timestamps: Mapping[str, str] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: str = field(default_factory=_now_iso)

    @classmethod
    def create(
        cls,
        job_id: str,
        project_id: str,
        kind: str,
        state: JobState | str,
        *,
        progress: tuple[int, int] | None = None,
        error: tuple[str, str] | None = None,
        result: Mapping[str, Any] | None = None,
        timestamps: Mapping[str, datetime | str | None] | None = None,
    ) -> JobEvent:
        """Build an event from what job execution has at hand; ``result`` is summarized here
        so no caller can leak a full result into the bus by accident."""
        stamps = {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in (timestamps or {}).items()
            if value is not None
        }
        return cls(
            job_id=job_id,
            project_id=project_id,
            kind=str(kind),
            state=JobState(state),
            progress=progress,
            error=error,
            summary=summarize_result(result),
            timestamps=stamps,
        )

    @property
    def routing_key(self) -> str:
        return f"project.{_routing_word(self.project_id)}.job.{_routing_word(self.kind)}.{self.state.value}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": EVENT_SCHEMA_VERSION,
            "event_id": self.event_id,
            "type": f"job.{self.state.value}",
            "job_id": self.job_id,
            "project_id": self.project_id,
            "kind": self.kind,
            "state": self.state.value,
            "progress": None
            if self.progress is None
            else {"done": self.progress[0], "total": self.progress[1]},
            "error": None if self.error is None else {"code": self.error[0], "message": self.error[1]},
            "summary": dict(self.summary),
            "timestamps": {**self.timestamps, "occurred_at": self.occurred_at},
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()


class ProgressThrottle:
    """At most one progress event per job per interval. The first and the completing
    (done == total) progress always pass, so consumers see the start and the end."""

    def __init__(
        self, min_interval_seconds: float, clock: Callable[[], float] = time.monotonic, max_jobs: int = 10_000
    ) -> None:
        self._interval = min_interval_seconds
        self._clock = clock
        self._max_jobs = max_jobs
        self._last: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, job_id: str, done: int, total: int) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(job_id)
            if last is not None and done < total and now - last < self._interval:
                return False
            self._last[job_id] = now
            self._last.move_to_end(job_id)
            while len(self._last) > self._max_jobs:
                self._last.popitem(last=False)
            return True

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._last.pop(job_id, None)


@dataclass
class PublisherStats:
    published: int = 0
    failed: int = 0
    throttled: int = 0
    reconnects: int = 0


class EventPublisher(Protocol):
    stats: PublisherStats

    def publish(self, event: JobEvent) -> bool:
        """True when the event was confirmed (or logged); False when it was dropped."""
        ...

    def close(self) -> None: ...


class _Throttled:
    def __init__(self, throttle: ProgressThrottle, stats: PublisherStats) -> None:
        self._throttle = throttle
        self.stats = stats

    def _admit(self, event: JobEvent) -> bool:
        progress = event.progress
        if (
            event.state is JobState.PROGRESS
            and progress is not None
            and not self._throttle.allow(event.job_id, *progress)
        ):
            self.stats.throttled += 1
            return False
        if event.state.is_final:
            self._throttle.forget(event.job_id)
        return True


class LogEventPublisher(_Throttled):
    """Embedded mode: no AMQP broker, so events go to the log and a bounded in-memory
    history (for tests and the embedded supervisor); nothing leaves the process."""

    def __init__(self, progress_min_interval_seconds: float = 2.0, history: int = 1000) -> None:
        super().__init__(ProgressThrottle(progress_min_interval_seconds), PublisherStats())
        self.history: deque[dict[str, Any]] = deque(maxlen=history)

    def publish(self, event: JobEvent) -> bool:
        if not self._admit(event):
            return False
        body = event.to_dict()
        self.history.append(body)
        self.stats.published += 1
        log.debug("job event %s %s", event.routing_key, body)
        return True

    def close(self) -> None:
        return None


def pika_parameters(url: str, connect_timeout: float, blocked_timeout: float) -> pika.URLParameters:
    """pika parameters from a kombu/Celery-style AMQP URL (``pyamqp://`` and ``//`` vhost)."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("pyamqp", "librabbitmq"):
        scheme = "amqp"
    parameters = pika.URLParameters(f"{scheme}{sep}{rest}")
    # kombu reads the vhost as everything after the path's first "/" ("//" is vhost "/",
    # as in docker-compose.yml); pika stops at the second "/" and would ask for vhost "".
    path = urlsplit(f"{scheme}{sep}{rest}").path
    parameters.virtual_host = unquote(path[1:]) or "/"
    parameters.connection_attempts = 1
    parameters.socket_timeout = connect_timeout
    parameters.stack_timeout = connect_timeout * 2
    parameters.blocked_connection_timeout = blocked_timeout
    return parameters


class PikaEventPublisher(_Throttled):
    """Publishes with confirms on a lazily opened connection, one per process.

    A connection inherited through ``fork`` (Celery prefork) is abandoned, not reused, since
    two processes writing one socket corrupt the stream. A failed publish reconnects once
    and retries once; beyond that the event is dropped, logged and counted.
    """

    def __init__(
        self,
        url: str,
        exchange: str = "facefleet.events",
        progress_min_interval_seconds: float = 2.0,
        connect_timeout_seconds: float = 3.0,
        confirm_timeout_seconds: float = 5.0,
    ) -> None:
        super().__init__(ProgressThrottle(progress_min_interval_seconds), PublisherStats())
        self.exchange = exchange
        self._parameters = pika_parameters(url, connect_timeout_seconds, confirm_timeout_seconds)
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._pid = os.getpid()
        # pika's BlockingConnection is not thread-safe; the API publishes from request threads.
        self._lock = threading.Lock()

    def publish(self, event: JobEvent) -> bool:
        if not self._admit(event):
            return False
        body = event.to_json()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=event.event_id,
            timestamp=int(time.time()),
            type=f"job.{event.state.value}",
        )
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._ensure_channel().basic_publish(self.exchange, event.routing_key, body, properties)
                # OSError: socket failures surface outside pika's hierarchy on some paths.
                except (AMQPError, OSError) as error:
                    self._drop_connection()
                    if attempt == 1:
                        self.stats.reconnects += 1
                        continue
                    self.stats.failed += 1
                    log.warning("job event %s for %s dropped: %r", event.routing_key, event.job_id, error)
                    return False
                self.stats.published += 1
                return True
        return False  # pragma: no cover - the loop always returns

    def _ensure_channel(self) -> BlockingChannel:
        if self._pid != os.getpid():
            self._connection, self._channel, self._pid = None, None, os.getpid()
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._drop_connection()
        connection = pika.BlockingConnection(self._parameters)
        channel = connection.channel()
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.confirm_delivery()
        self._connection, self._channel = connection, channel
        return channel

    def _drop_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError):
                pass

    def close(self) -> None:
        with self._lock:
            self._drop_connection()


def event_publisher_from_settings(settings: Settings) -> EventPublisher:
    """The publisher for this deployment: pika on an AMQP broker, the in-process log
    otherwise (embedded mode, or events switched off)."""
    events: EventSettings = settings.events
    url = events.url or settings.broker.url
    if events.enabled and is_amqp_url(url):
        return PikaEventPublisher(
            url,
            exchange=events.exchange,
            progress_min_interval_seconds=events.progress_min_interval_seconds,
            connect_timeout_seconds=events.connect_timeout_seconds,
            confirm_timeout_seconds=events.confirm_timeout_seconds,
        )
    return LogEventPublisher(events.progress_min_interval_seconds)
