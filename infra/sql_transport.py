"""kombu's SQLAlchemy transport, tuned for the embedded mode's SQLite broker.

Upstream passes every transport option to ``create_engine`` (so ``polling_interval``
cannot be set) and polls once a second, which would add up to a second to every
synchronous call. This subclass polls every 50 ms and keeps its own options away from
SQLAlchemy. It is registered as the ``facefleet-sqla`` transport.

It also runs inside the worker's event loop (polling on the loop's timer), because Celery
picks the prefork pool's flavour by the transport: a transport without event-loop support
gets billiard's blocking pool, whose children share one inqueue guarded by one semaphore.
An idle child waits for work holding that semaphore, so a child killed while idle (the
OOM killer) leaves it held for good and the replacement child never takes a job. With
event-loop support Celery uses its asynchronous pool, one pipe per child, as on RabbitMQ,
and a killed child costs only its own pipe (docs/RELIABILITY.md, "A killed pool child").
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as _SqlaChannel
from kombu.transport.sqlalchemy import Transport as _SqlaTransport
from sqlalchemy import create_engine

ALIAS = "facefleet-sqla"
POLLING_INTERVAL_SECONDS = 0.05
# Deliveries taken in one poll of the event loop: enough to fill any prefetch window, few
# enough that control commands and pool results are not starved.
MAX_DELIVERIES_PER_POLL = 64
_OWN_OPTIONS = (
    "polling_interval",
    "queue_tablename",
    "message_tablename",
    "callback",
    "errback",
    "max_retries",
    "interval_start",
    "interval_step",
    "interval_max",
    "retry_errors",
)


class Channel(_SqlaChannel):  # type: ignore[misc]
    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        options = {k: v for k, v in conninfo.transport_options.items() if k not in _OWN_OPTIONS}
        # Several processes share one SQLite file: wait for locks instead of failing.
        options.setdefault("connect_args", {"timeout": 30})
        return create_engine(conninfo.hostname, **options)


class Transport(_SqlaTransport):  # type: ignore[misc]
    Channel = Channel
    polling_interval = POLLING_INTERVAL_SECONDS
    implements = _SqlaTransport.implements.extend(asynchronous=True)

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        loop.call_repeatedly(self.polling_interval, self._deliver_ready, connection)

    def _deliver_ready(self, connection: Any) -> None:
        """Hand over what is waiting now without blocking the loop (it also runs the pool)."""
        for _ in range(MAX_DELIVERIES_PER_POLL):
            try:
                self.drain_events(connection, timeout=0)  # type: ignore[no-untyped-call]
            except TimeoutError:  # socket.timeout: nothing waiting
                return


def register() -> None:
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")


def embedded_broker_url(url: str) -> str:
    """Route a standard ``sqla+...`` URL through this transport."""
    if url.startswith("sqla+"):
        return f"{ALIAS}+{url.removeprefix('sqla+')}"
    return url
