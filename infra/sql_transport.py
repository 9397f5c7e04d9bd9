"""kombu's SQLAlchemy transport, tuned for the embedded mode's SQLite broker.

Upstream passes every transport option to ``create_engine`` (so ``polling_interval``
cannot be set) and polls once a second, which would add up to a second to every
synchronous call. This subclass keeps its own options away from SQLAlchemy and does not
make a consumer wait for its poll: a producer that stored a message wakes every consumer
of the same SQLite file through a UNIX datagram (``infra.wakeup``). In the worker's event
loop the wake-up socket is one more reader beside the loop's 50 ms poll timer; in a plain
blocking ``drain_events`` the consumer sleeps on the socket instead of a timer. The 50 ms
poll stays as the bound when a wake-up is lost (or arrives while the worker's pool is
full). The wake-up lives in the consuming process's transport, whatever pool runs the
tasks. It is registered as the ``facefleet-sqla`` transport.

It also runs inside the worker's event loop (polling on the loop's timer), because Celery
picks the prefork pool's flavour by the transport: a transport without event-loop support
gets billiard's blocking pool, whose children share one inqueue guarded by one semaphore.
An idle child waits for work holding that semaphore, so a child killed while idle (the
OOM killer) leaves it held for good and the replacement child never takes a job. With
event-loop support Celery uses its asynchronous pool, one pipe per child, as on RabbitMQ,
and a killed child costs only its own pipe (docs/RELIABILITY.md, "A killed pool child").
"""

from __future__ import annotations

from pathlib import Path
from queue import Empty
from time import monotonic, sleep
from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as _SqlaChannel
from kombu.transport.sqlalchemy import Transport as _SqlaTransport
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from infra.wakeup import WakeupSocket, ring, wakeup_folder

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

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super()._put(queue, payload, **kwargs)  # type: ignore[no-untyped-call]
        ring(consumers_folder(self.connection.client.hostname), str(queue))


def consumers_folder(url: str) -> Path:
    """Where the consumers of the broker database ``url`` wait for wake-ups."""
    return wakeup_folder(str(make_url(url).database or url), "consumers")


class Transport(_SqlaTransport):  # type: ignore[misc]
    Channel = Channel
    polling_interval = POLLING_INTERVAL_SECONDS
    implements = _SqlaTransport.implements.extend(asynchronous=True)

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        loop.call_repeatedly(self.polling_interval, self._deliver_ready, connection)
        wakeups = self._wakeups()
        if wakeups is not None:
            # A stored message wakes the loop at once; the timer above only bounds a lost wake-up.
            loop.add_reader(wakeups.fileno(), self._woken, connection, wakeups)
            self._wakeup_loop = loop

    def _woken(self, connection: Any, wakeups: WakeupSocket) -> None:
        wakeups.drain()
        self._deliver_ready(connection)

    def _deliver_ready(self, connection: Any) -> None:
        """Hand over what is waiting now without blocking the loop (it also runs the pool)."""
        for _ in range(MAX_DELIVERIES_PER_POLL):
            try:
                self.drain_events(connection, timeout=0)  # type: ignore[no-untyped-call]
            except TimeoutError:  # socket.timeout: nothing waiting
                return

    def drain_events(self, connection: Any, timeout: float | None = None, **_: Any) -> None:
        """kombu's virtual loop, sleeping on the wake-up socket instead of ``time.sleep``."""
        started = monotonic()
        wakeups = self._wakeups()
        cycle: Any = self.cycle
        while True:
            try:
                cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            if timeout is not None and monotonic() - started >= timeout:
                raise TimeoutError()
            wait = self.polling_interval if timeout is None else min(self.polling_interval, timeout)
            if wakeups is None:
                sleep(wait)
            else:
                wakeups.wait(wait)

    def _wakeups(self) -> WakeupSocket | None:
        existing: WakeupSocket | None = getattr(self, "_wakeup_socket", None)
        if existing is None:
            client: Any = self.client
            try:
                existing = WakeupSocket(consumers_folder(client.hostname))
            except OSError:
                return None  # no socket: the plain poll still bounds the delay
            self._wakeup_socket = existing
        return existing

    def close_connection(self, connection: Any) -> None:
        wakeups: WakeupSocket | None = getattr(self, "_wakeup_socket", None)
        if wakeups is not None:
            loop = getattr(self, "_wakeup_loop", None)
            if loop is not None:
                loop.remove_reader(wakeups.fileno())
            wakeups.close()
            del self._wakeup_socket
        super().close_connection(connection)  # type: ignore[no-untyped-call]


def register() -> None:
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")


def embedded_broker_url(url: str) -> str:
    """Route a standard ``sqla+...`` URL through this transport."""
    if url.startswith("sqla+"):
        return f"{ALIAS}+{url.removeprefix('sqla+')}"
    return url
