"""A pooled connection is checked before use, unless it was in use a moment ago.

SQLAlchemy's ``pool_pre_ping`` sends a ``SELECT 1`` at every checkout. Repositories open one
short session per call, so a sync detect paid five to seven of those round trips between
the API and its worker, each on two busy cores (docs/BENCHMARKS.md, "Sync latency"). A
connection that was handed back less than ``bypass_seconds`` ago was working then; like
HikariCP, which skips its aliveness check for a connection used within the last 500 ms
(``aliveBypassWindowMs``), the check is skipped for those. PostgreSQL's pool hands out the
most recently returned connection first (``pool_use_lifo``), so under load the same few
stay warm and unchecked while idle ones are checked and, if the database dropped them,
replaced.

What the window costs: a connection the database dropped within it (a restart that is over
in less than the window, or a cut connection) fails the statement that uses it, as with no
check at all: an API request answers 503, a worker retries its job (``workers.execution``).
SQLAlchemy then invalidates the whole pool, so every other connection is replaced before
its next use. Set the window to 0 to check every checkout.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

# Where a pooled connection's record keeps when it was last handed back (or opened).
_LAST_RETURNED = "facefleet_last_returned"


def check_connections_before_use(engine: Engine, bypass_seconds: float) -> None:
    """Ping each connection the pool hands out unless it came back within ``bypass_seconds``;
    one that fails the ping is replaced before the caller gets it."""

    def stamp(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info[_LAST_RETURNED] = time.monotonic()

    def check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_LAST_RETURNED)
        if returned is not None and time.monotonic() - returned < bypass_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as gone:
            # The pool discards this connection and checks out another (SQLAlchemy's
            # documented contract for this event).
            raise DisconnectionError(f"pooled connection failed its check: {gone}") from gone

    event.listen(engine.pool, "connect", stamp)
    event.listen(engine.pool, "checkin", stamp)
    event.listen(engine.pool, "checkout", check)
