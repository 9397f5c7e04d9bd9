"""The SQL engine and sessions: SQLite (embedded) or PostgreSQL (distributed) from one URL.

SQLite connections get WAL (readers never block the writer), a busy timeout (writers
queue instead of failing with "database is locked") and foreign keys. SQLAlchemy emits
BEGIN itself instead of the sqlite3 module, so a write that must reserve capacity can
ask for ``BEGIN IMMEDIATE``: it takes the write lock before its first read, which makes
"check, then insert" race-free across processes. PostgreSQL gets the same guarantee
from ``SELECT ... FOR UPDATE`` in the repositories.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from infra.db.connection_check import check_connections_before_use
from infra.settings import DatabaseSettings

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# How long a fork waits for this process's open SQLite transactions; past it, it goes ahead.
FORK_WAIT_SECONDS = 10.0
# Execution option read by the "begin" hook: which BEGIN a SQLite transaction uses.
SQLITE_BEGIN_OPTION = "facefleet_sqlite_begin"


def is_sqlite_url(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its folder; the default URL is relative."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def create_database_engine(
    url: str,
    *,
    pool_size: int = 10,
    pool_pre_ping: bool = True,
    pre_ping_bypass_seconds: float = 0.0,
    echo: bool = False,
) -> Engine:
    """``pool_pre_ping``: check a connection before handing it out, except one handed back
    within ``pre_ping_bypass_seconds`` (``infra.db.connection_check``; 0 checks every one)."""
    bypassed = pool_pre_ping and pre_ping_bypass_seconds > 0
    options: dict[str, Any] = {"pool_pre_ping": pool_pre_ping and not bypassed, "echo": echo}
    if is_sqlite_url(url):
        # SQLAlchemy picks the pool (one connection per thread for ":memory:"), so no pool options.
        ensure_sqlite_directory(url)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
    else:
        # The most recently returned connection first: it is the one a check can skip.
        engine = create_engine(url, pool_size=pool_size, pool_use_lifo=True, **options)
    if bypassed:
        check_connections_before_use(engine, pre_ping_bypass_seconds)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy (see _begin_sqlite_transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable with WAL except on power loss
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _forget_connections_after_fork(engine: Engine) -> None:
    """A forked child (Celery prefork, gunicorn) must not share its parent's sockets or
    SQLite handles: it drops the inherited pool without closing it (closing would end
    the parent's connections too) and opens its own (SQLAlchemy's pooling guidance)."""
    reference = weakref.ref(engine)

    def after_fork_in_child() -> None:
        inherited = reference()
        if inherited is not None:
            inherited.dispose(close=False)

    os.register_at_fork(after_in_child=after_fork_in_child)


class _SqliteForkGate:
    """Keeps fork() out of SQLite transactions.

    SQLite keeps its lock bookkeeping per process, in memory, and a forked child inherits
    the parent's. A child forked while a parent thread is inside a write believes its own
    process still holds that write lock, and each of its writes waits out the busy timeout
    ("database is locked"). Celery's prefork main process forks a replacement pool child
    while its housekeeping thread writes, so every SQLite transaction passes this gate and
    a fork waits until none is open (SQLite's own advice: no transaction across a fork).
    A thread's nested transactions pass once: the outermost one holds the gate."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._open = 0
        self._forking = False
        self._depth = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        depth = getattr(self._depth, "value", 0)
        if depth == 0:
            with self._condition:  # held by a fork in progress: wait for it
                self._condition.wait_for(lambda: not self._forking)
                self._open += 1
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth
            if depth == 0:
                with self._condition:
                    self._open -= 1
                    self._condition.notify_all()

    def before_fork(self) -> None:
        self._condition.acquire()  # kept through the fork: no transaction starts meanwhile
        self._forking = True
        mine = getattr(self._depth, "value", 0) > 0
        if not mine and not self._condition.wait_for(lambda: self._open == 0, timeout=FORK_WAIT_SECONDS):
            log.warning("forking with %d SQLite transaction(s) still open", self._open)

    def after_fork_in_parent(self) -> None:
        self._forking = False
        self._condition.notify_all()
        self._condition.release()

    def after_fork_in_child(self) -> None:
        self._condition = threading.Condition()  # the inherited one is held by the forking thread
        self._open = 0
        self._forking = False
        self._depth = threading.local()


_sqlite_fork_gate = _SqliteForkGate()
os.register_at_fork(
    before=_sqlite_fork_gate.before_fork,
    after_in_parent=_sqlite_fork_gate.after_fork_in_parent,
    after_in_child=_sqlite_fork_gate.after_fork_in_child,
)


class Database:
    """An engine plus a session factory; repositories open one short session per call."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_pre_ping: bool = True,
        pre_ping_bypass_seconds: float = 0.0,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.engine = create_database_engine(
            url,
            pool_size=pool_size,
            pool_pre_ping=pool_pre_ping,
            pre_ping_bypass_seconds=pre_ping_bypass_seconds,
            echo=echo,
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # The same pool, each connection in autocommit while it is out (reset at check-in).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        _forget_connections_after_fork(self.engine)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> Database:
        return cls(
            settings.url,
            pool_size=settings.pool_size,
            pool_pre_ping=settings.pool_pre_ping,
            pre_ping_bypass_seconds=settings.pre_ping_bypass_seconds,
            echo=settings.echo,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        with self._transaction(immediate=False) as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A transaction that holds the database's write lock from its start on SQLite.

        Use it for read-check-write sequences; on PostgreSQL it is a plain transaction
        and the caller locks the rows it checks with ``with_for_update()``.
        """
        with self._transaction(immediate=True) as session:
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A transaction on a bare connection, without a Session: committed when the block
        ends, rolled back when it raises. For the hot paths that must commit several
        statements together (a job's finish on SQLite), where the Session's per-statement
        bookkeeping cost more CPU than the statement (docs/BENCHMARKS.md, "Seventh pass");
        a lone statement takes ``statement()``. Rows come back as plain ``Row`` objects,
        never as tracked models."""
        with self._fork_gate(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def statement(self) -> Iterator[Connection]:
        """A bare connection for one statement, which the database commits by itself.

        PostgreSQL runs a lone statement as a transaction of its own, atomic and committed
        when it ends, so the ``BEGIN`` and ``COMMIT`` that ``connection()`` sends around it
        are two round trips for nothing: ~0.2 ms a statement on this machine, five statements
        on every sync call (docs/BENCHMARKS.md, "Eighth pass"). A block that runs two
        statements here commits each on its own: use ``connection()`` when they must commit
        together. On SQLite, where ``BEGIN`` and ``COMMIT`` are calls inside the process and
        every transaction passes the fork gate, this is ``connection()``."""
        if self.is_sqlite:
            with self.connection() as connection:
                yield connection
            return
        with self._autocommit.connect() as connection:
            yield connection

    @contextmanager
    def _transaction(self, *, immediate: bool) -> Iterator[Session]:
        with self._fork_gate(), self._session_transaction(immediate=immediate) as session:
            yield session

    def _fork_gate(self) -> AbstractContextManager[None]:
        """What every transaction passes: on SQLite, the gate that keeps fork() out of it."""
        return _sqlite_fork_gate.transaction() if self.is_sqlite else nullcontext()

    @contextmanager
    def _session_transaction(self, *, immediate: bool) -> Iterator[Session]:
        with self.sessions() as session:
            if immediate and self.is_sqlite:
                # Procuring the connection begins the transaction with this option set.
                session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
