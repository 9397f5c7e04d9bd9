"""Completion push: the API process waiting on a job is told the moment the job's row is final.

The job row stays the source of truth. A push only says "read the row again now"; the waiter
also re-reads it on a slow fallback period, so a lost push costs at most that period, never
a wrong answer or a hang. The channel follows where the rows live, so no engine is added:

- PostgreSQL: the transaction that makes the row final also sends
  ``NOTIFY facefleet_job_done`` (``commit_channel``), which PostgreSQL delivers at commit;
  each API process holds one ``LISTEN`` connection, read by one thread. The payload is the
  job's id, followed by its final row as JSON when that fits (the waiter then answers from
  it, without a read).
- SQLite (embedded, one machine): each API process binds a UNIX datagram socket
  (``infra.wakeup``); the worker sends the job id to every such socket.

Any other database gets no push: waiters poll as before.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url

from infra.db.rows import JobRow
from infra.wakeup import WakeupSocket, ring, wakeup_folder

log = logging.getLogger(__name__)

PG_CHANNEL = "facefleet_job_done"
Row = TypeVar("Row")
RECONNECT_SECONDS = 1.0


class CompletionNotifier(Protocol):
    def notify(self, job_id: str) -> None:
        """Tell waiting API processes that ``job_id``'s row is final. Never raises."""


class Push(threading.Event):
    """Set when a waiter's job was pushed; ``row`` is the final row when the push carried it."""

    def __init__(self) -> None:
        super().__init__()
        self.row: Any = None

    def take_row(self) -> Any:
        row, self.row = self.row, None
        return row


class WaiterBoard:
    """Which job ids this process's request threads wait on, each with its event."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[Push]] = {}

    @contextmanager
    def expect(self, job_id: str) -> Iterator[Push]:
        event = Push()
        with self._lock:
            self._waiting.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            with self._lock:
                events = self._waiting.get(job_id)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._waiting[job_id]

    def is_waiting(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._waiting

    def announce(self, job_id: str, row: Any = None) -> None:
        with self._lock:
            events = list(self._waiting.get(job_id, ()))
        for event in events:
            if row is not None:
                event.row = row
            event.set()

    def announce_all(self) -> None:
        """Wake every waiter to re-read its row: pushes may have been lost (a reconnect)."""
        with self._lock:
            events = [event for found in self._waiting.values() for event in found]
        for event in events:
            event.set()


class CompletionListener:
    """The API side: one thread per process, started by the first waiter (after a fork)."""

    def __init__(self) -> None:
        self.board = WaiterBoard()
        self._healthy = threading.Event()
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def healthy(self) -> bool:
        """True while pushes can arrive; otherwise waiters keep their short poll."""
        return self._healthy.is_set()

    def ensure_started(self, timeout: float = 2.0) -> bool:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._started.clear()
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
                self._thread.start()
        self._started.wait(timeout)
        return self.healthy

    def expect(self, job_id: str) -> AbstractContextManager[Push]:
        return self.board.expect(job_id)

    def close(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            was_healthy = self.healthy
            try:
                self._listen()
            except Exception as error:  # noqa: BLE001 - an outage of the channel only slows waiters down
                # Once per outage, not once per reconnect attempt.
                log.log(
                    logging.WARNING if was_healthy else logging.DEBUG,
                    "completion listener lost its channel (%s); waiters poll until it is back", error,
                )
            self._healthy.clear()
            self._started.set()
            self.board.announce_all()
            self._stopping.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        raise NotImplementedError

    def _ready(self) -> None:
        self._healthy.set()
        self._started.set()
        # Pushes sent while this channel was down are lost: whoever waits re-reads now.
        self.board.announce_all()


class PostgresCompletionListener(CompletionListener):
    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute("LISTEN facefleet_job_done")
            self._ready()
            while not self._stopping.is_set():
                for notice in connection.notifies(timeout=1.0):
                    self._announce(notice.payload)

    def _announce(self, payload: str) -> None:
        job_id, _, row_json = payload.partition(" ")
        if not row_json or not self.board.is_waiting(job_id):
            self.board.announce(job_id)  # no waiter here, or a row too long for the payload
            return
        try:
            row: Any = JobRow.from_json(json.loads(row_json))
        except (ValueError, KeyError, TypeError) as error:
            log.warning("completion push of job %s: its row could not be read (%s)", job_id, error)
            row = None  # the waiter reads the row itself
        self.board.announce(job_id, row)


class SocketCompletionListener(CompletionListener):
    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.folder = completion_folder(database_url)

    def _listen(self) -> None:
        wakeups = WakeupSocket(self.folder)
        try:
            self._ready()
            while not self._stopping.is_set():
                for job_id in wakeups.wait(1.0):
                    self.board.announce(job_id)
        finally:
            wakeups.close()


class PostgresCompletionNotifier:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def notify(self, job_id: str) -> None:
        try:
            with self.engine.connect() as connection:
                statement = text("SELECT pg_notify(:channel, :job_id)")
                connection.execute(statement, {"channel": PG_CHANNEL, "job_id": job_id})
                connection.commit()
        except Exception as error:  # noqa: BLE001 - the row is final; the waiter's fallback poll will see it
            log.warning("could not push the completion of job %s: %s", job_id, error)


class SocketCompletionNotifier:
    def __init__(self, database_url: str) -> None:
        self.folder = completion_folder(database_url)

    def notify(self, job_id: str) -> None:
        ring(self.folder, job_id)


class NoCompletionNotifier:
    def notify(self, job_id: str) -> None:
        return None


def completion_folder(database_url: str) -> Path:
    return wakeup_folder(str(make_url(database_url).database or ""), "completions")


def _dialect(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


def completion_listener(database_url: str, enabled: bool = True) -> CompletionListener | None:
    if not enabled:
        return None
    dialect = _dialect(database_url)
    if dialect == "postgresql":
        return PostgresCompletionListener(database_url)
    if dialect == "sqlite":
        return SocketCompletionListener(database_url)
    return None


def commit_channel(database_url: str, enabled: bool = True) -> str | None:
    """The channel a job repository notifies inside its finishing transaction: PostgreSQL's
    ``NOTIFY`` is transactional, so the push leaves with the commit (never before, never for
    a rolled-back outcome, never lost to a worker dying between the commit and a send) and
    costs no connection or round trip of its own."""
    return PG_CHANNEL if enabled and _dialect(database_url) == "postgresql" else None


def completion_notifier(
    database_url: str, engine: Any, enabled: bool = True, sent_by_commit: bool = False
) -> CompletionNotifier:
    """What a worker calls after a row turned final; nothing where ``sent_by_commit`` (the
    repository's ``commit_channel`` sent the push already)."""
    if not enabled or sent_by_commit:
        return NoCompletionNotifier()
    dialect = _dialect(database_url)
    if dialect == "postgresql":
        return PostgresCompletionNotifier(engine)
    if dialect == "sqlite":
        return SocketCompletionNotifier(database_url)
    return NoCompletionNotifier()


@contextmanager
def expecting(listener: CompletionListener | None, job_id: str) -> Iterator[Push | None]:
    """Register for ``job_id``'s push before its task is sent: no push can come before the
    registration, so the waiter needs no read of the row before it first sleeps (a sync
    call's one read is then the one after the push). Yields None where no push can come."""
    if listener is None or not listener.ensure_started():
        yield None
        return
    with listener.expect(job_id) as pushed:
        yield pushed


def wait_for_final(
    read: Callable[[str], Row | None],
    is_final: Callable[[Row], bool],
    job_id: str,
    timeout: float,
    listener: CompletionListener | None,
    *,
    fallback_seconds: float,
    first_poll: float,
    max_poll: float,
    registered: Push | None = None,
) -> Row | None:
    """The row from ``read(job_id)`` once ``is_final`` holds, or its latest state at ``timeout``.

    With a healthy listener the waiter sleeps until pushed, re-reading every
    ``fallback_seconds`` in case a push was lost; without one it polls with a short backoff.
    ``registered`` is the event ``expecting`` gave before the job was sent: the first read
    then waits for the push. A push that carried a final row is that read."""
    deadline = time.monotonic() + timeout
    if registered is not None and listener is not None:
        return _wait_for_push(
            read, is_final, job_id, deadline, listener, registered, first_poll, max_poll, fallback_seconds,
            read_first=False,
        )
    if listener is None or not listener.ensure_started():
        return _poll(read, is_final, job_id, deadline, first_poll, max_poll)
    with listener.expect(job_id) as pushed:
        return _wait_for_push(
            read, is_final, job_id, deadline, listener, pushed, first_poll, max_poll, fallback_seconds,
            read_first=True,
        )


_UNREAD: Any = object()


def _wait_for_push(
    read: Callable[[str], Row | None],
    is_final: Callable[[Row], bool],
    job_id: str,
    deadline: float,
    listener: CompletionListener,
    pushed: Push,
    first_poll: float,
    max_poll: float,
    fallback_seconds: float,
    *,
    read_first: bool,
) -> Row | None:
    delay = first_poll
    row = read(job_id) if read_first else _UNREAD
    while row is _UNREAD or (row is not None and not is_final(row)):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return read(job_id) if row is _UNREAD else row
        period = fallback_seconds if listener.healthy else delay
        pushed.wait(min(period, remaining))
        pushed.clear()
        delay = min(delay * 2, max_poll)
        carried = pushed.take_row()
        row = carried if carried is not None and is_final(carried) else read(job_id)
    return row


def _poll(
    read: Callable[[str], Row | None],
    is_final: Callable[[Row], bool],
    job_id: str,
    deadline: float,
    first_poll: float,
    max_poll: float,
) -> Row | None:
    delay = first_poll
    row = read(job_id)
    while row is not None and not is_final(row):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, max_poll)
        row = read(job_id)
    return row
