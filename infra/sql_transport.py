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

Where it departs from upstream's channel, each for a reason given where it is done: the
file is in WAL mode; a taken message's row is deleted (upstream kept every payload for
good), and rows an older version left are deleted on open; an empty queue is seen without
the write lock; queue rows are read once; a message is stored as msgpack bytes on SQLite,
its body as itself (a JSON envelope needs a binary body as base64 text); and processes that
start together on a fresh file do not fail on each other's tables and queue rows.
"""

from __future__ import annotations

import sqlite3
from functools import cached_property
from json import dumps, loads
from pathlib import Path
from queue import Empty
from time import monotonic, sleep
from typing import Any

import msgpack
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as _SqlaChannel
from kombu.transport.sqlalchemy import Transport as _SqlaTransport
from sqlalchemy import bindparam, create_engine, delete, event, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from infra.wakeup import WakeupSocket, ring, wakeup_folder

ALIAS = "facefleet-sqla"
POLLING_INTERVAL_SECONDS = 0.05
# Deliveries taken in one poll of the event loop: enough to fill any prefetch window, few
# enough that control commands and pool results are not starved.
MAX_DELIVERIES_PER_POLL = 64
_WAL_SWITCH_ATTEMPTS = 10
_TABLES = 2  # kombu_queue and kombu_message: each can be lost to another process once
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
    # kombu's virtual transports base64 the (JSON) body inside their JSON envelope by
    # default: a sync probe riding in its task (base64 already) was encoded twice, a third
    # more bytes through the broker file and an encode and a decode per message. A message
    # already queued names its own encoding, so it still decodes.
    body_encoding = None  # type: ignore[assignment]

    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        options = {k: v for k, v in conninfo.transport_options.items() if k not in _OWN_OPTIONS}
        # Several processes share one SQLite file: wait for locks instead of failing.
        options.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(conninfo.hostname, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_broker_pragmas)
        return engine

    # Upstream guards the creation of its tables and queue rows with a thread lock only.
    # Processes starting together on a fresh broker file (``facefleet up`` starts its
    # workers at once) both create them, and the loser's error is "unrecoverable": that
    # worker stops at start and the stack runs with one fewer. What the other process
    # made is what was wanted.
    def _open(self) -> Any:
        fresh = self.connection.client.hostname not in self._engines
        for _ in range(_TABLES):
            try:
                opened = super()._open()  # type: ignore[no-untyped-call]
                break
            except OperationalError as error:
                if "already exists" not in str(error):
                    raise
                # Another process created one table; create_all checks for each again.
        else:
            opened = super()._open()  # type: ignore[no-untyped-call]
        if fresh:
            _forget_hidden_messages(opened[0], self.message_cls.__table__)
        return opened

    def _get_or_create(self, queue: str) -> Any:
        try:
            return super()._get_or_create(queue)  # type: ignore[no-untyped-call]
        except IntegrityError:
            self.session.rollback()
            return self.session.query(self.queue_cls).filter(self.queue_cls.name == queue).one()

    def _queue_id(self, queue: str) -> int:
        """A queue row's id, read once: upstream selects the row again for every message
        sent and every poll (queue rows are never deleted)."""
        known: dict[str, int] = self.__dict__.setdefault("_queue_ids", {})
        if queue not in known:
            known[queue] = int(self._get_or_create(queue).id)
            self.session.commit()
        return known[queue]

    @cached_property
    def _statements(self) -> _MessageStatements:
        """This channel's message statements, built once (upstream builds each per message)."""
        return _MessageStatements(self.message_cls)

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        session = self.session
        try:
            stored = self._envelope(payload)
            row = {"queue_id": self._queue_id(str(queue)), "payload": stored}
            session.execute(self._statements.put, row)
            session.commit()
        except OperationalError:
            # As upstream: the publish fails (and can be retried), never reports a message
            # that was not stored.
            session.rollback()
            raise
        ring(consumers_folder(self.connection.client.hostname), str(queue))

    def _envelope(self, payload: dict[str, Any]) -> str | bytes:
        """The message as its row stores it. On SQLite, msgpack bytes: SQLite keeps a BLOB
        in the TEXT column as it is, so a body of bytes (a task with its probe photo) is
        stored as itself, where a JSON envelope needs it as base64 text, which cost ~37 ms a
        megabyte in base64, JSON and SQLite (docs/BENCHMARKS.md, "Tenth pass"). Other
        databases keep upstream's JSON text."""
        if self.session.bind.name == "sqlite":
            packed: bytes = msgpack.packb(payload, use_bin_type=True)
            return packed
        return dumps(self._as_json(payload))

    def _as_json(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A message kombu gives back unacknowledged (requeued, or restored when its consumer
        closes) comes with its body turned into bytes; with no body encoding it is the JSON
        text it was sent as. Anything else (not UTF-8) is base64-encoded as upstream does."""
        body = payload.get("body")
        if not isinstance(body, bytes):
            return payload
        try:
            return {**payload, "body": body.decode("utf-8")}
        except UnicodeDecodeError:
            encoded, encoding = self.encode_body(body, "base64")  # type: ignore[no-untyped-call]
            properties = {**payload["properties"], "body_encoding": encoding}
            return {**payload, "body": encoded, "properties": properties}

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """Upstream's ``_get`` with two changes.

        - A taken message's row is deleted, not marked invisible. Nothing ever reads an
          invisible row again (an unacked message returns through ``_restore``, as a new
          row), so upstream's broker file only grows: every job's payload, inline probe
          photos included, stayed in it for good, past the probe retention.
        - An empty queue is seen by a plain read, without the write lock: every consumer
          polls every queue it serves on a timer and on each wake-up, and upstream took
          SQLite's write lock for each poll, so the API's send waited in SQLite's busy
          handler (sleeps of 1, 2, 5, 10… ms) behind consumers finding nothing.

        On SQLite the message is then taken by one prebuilt ``DELETE … RETURNING``, not an
        ORM read and delete built for each message.
        """
        queue_id = self._queue_id(queue)
        session = self.session
        message_cls = self.message_cls
        if session.bind.name == "sqlite":
            statements = self._statements
            waiting = session.execute(statements.waiting, {"queue_id": queue_id}).first()
            session.commit()  # ends the read: the claim below starts its own transaction
            if waiting is None:
                raise Empty()
            session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
            try:
                taken = session.execute(statements.take, {"queue_id": queue_id}).first()
                if taken is None:
                    raise Empty()  # another consumer claimed it between the read and the lock
                return _opened(taken.payload)
            finally:
                session.commit()
        try:
            message = (
                session.query(message_cls)
                .with_for_update()
                .filter(message_cls.queue_id == queue_id)
                .filter(message_cls.visible != False)  # rows hidden by upstream (an older broker file)
                .order_by(message_cls.sent_at, message_cls.id)
                .limit(1)
                .first()
            )
            if message is None:
                raise Empty()  # another consumer claimed it between the read and the lock
            payload = message.payload
            session.delete(message)
            return _opened(payload)
        finally:
            session.commit()


def _opened(stored: str | bytes) -> Any:
    """A row's message: msgpack bytes (``Channel._envelope`` on SQLite), or JSON text (other
    databases, and rows that an earlier release or upstream's transport queued)."""
    if isinstance(stored, bytes):
        return msgpack.unpackb(stored, raw=False)
    return loads(stored)


class _MessageStatements:
    """A channel's statements on its message table: ``put`` (``queue_id``, ``payload``),
    ``waiting`` (a visible message of ``queue_id``, or none) and ``take`` (the oldest one
    deleted, its payload returned)."""

    def __init__(self, message_cls: Any) -> None:
        visible_in_queue = (
            message_cls.queue_id == bindparam("queue_id"),
            message_cls.visible != False,  # rows hidden by upstream (an older broker file)
        )
        table = message_cls.__table__
        self.put = insert(table)
        self.waiting = select(message_cls.id).where(*visible_in_queue).limit(1)
        oldest = (
            select(message_cls.id)
            .where(*visible_in_queue)
            .order_by(message_cls.sent_at, message_cls.id)
            .limit(1)
            .scalar_subquery()
        )
        self.take = delete(table).where(table.c.id == oldest).returning(table.c.payload)


def _forget_hidden_messages(engine: Any, messages: Any) -> None:
    """Delete the rows an older FaceFleet (upstream's ``_get``) left behind, marked invisible:
    payloads of jobs long taken, inline probe photos among them, that nothing reads again."""
    try:
        with engine.begin() as connection:
            connection.execute(delete(messages).where(messages.c.visible == False))
    except OperationalError:
        pass  # another process is starting too (the file is locked): it or the next start does it


def _sqlite_broker_pragmas(connection: Any, _record: Any) -> None:
    """WAL: a consumer's read never blocks a send, and a commit appends to the log instead
    of rewriting a rollback journal (half the cost of a send or a claim, measured). NORMAL
    synchronous keeps every committed message across a crash of any process; only a power
    loss can drop the latest, as for the embedded job rows (infra/db/database.py).

    The journal mode belongs to the file and stays once set. Switching needs the file to
    itself, and SQLite answers "locked" at once, without its busy wait, while other
    processes have it open: processes starting together retry briefly, and one that still
    cannot switch works on in the old mode (correct, only slower) until the next connection."""
    cursor = connection.cursor()
    try:
        for attempt in range(_WAL_SWITCH_ATTEMPTS):
            try:
                if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                    break
                cursor.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as busy:
                if "locked" not in str(busy) and "busy" not in str(busy):
                    raise
                sleep(0.02 * (attempt + 1))
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


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
        self._deliver_named(wakeups.drain())
        self._deliver_ready(connection)

    def _deliver_named(self, queues: list[str]) -> None:
        """Take from the queues a wake-up names first: the fair cycle would poll the other
        queues this consumer serves before it (about a millisecond each)."""
        for queue in dict.fromkeys(queues):
            for channel in self.channels:
                if channel._consumers and queue in channel._active_queues and channel.qos.can_consume():
                    try:
                        channel._get_and_deliver(queue, self._deliver)
                    except Empty:
                        pass

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
