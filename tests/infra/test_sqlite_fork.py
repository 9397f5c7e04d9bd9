"""A process forked while one of its parent's threads is inside a SQLite transaction can
still write. SQLite keeps its lock bookkeeping per process, and a child inherits the
parent's: forked mid-transaction, the child believes its own process holds that write
lock and waits out the busy timeout ("database is locked"). The embedded worker forks a
new pool child while its housekeeping thread writes; the new child then could not mark
its first job running for 30 s and the pool watchdog replaced the whole worker."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from infra.db import database as database_module
from infra.db.database import Database

HOLD_SECONDS = 1.0


def _write_in_child(url: str) -> int:
    database_module.SQLITE_BUSY_TIMEOUT_MS = 3000  # a stuck child fails in 3 s, not 30
    try:
        child = Database(url)
        with child.write_session() as session:
            session.execute(text("INSERT INTO marks (who) VALUES ('child')"))
        return 0
    except Exception:  # the exit status is what the parent checks
        return 1


@pytest.mark.parametrize("round_", range(3))
@pytest.mark.parametrize("writer", ["session", "connection"])
def test_a_child_forked_during_a_parent_thread_write_can_write(
    tmp_path: Path, round_: int, writer: str
) -> None:
    """``writer``: the parent writes through a Session or through ``Database.connection``
    (the job row's hot path); both pass the fork gate."""
    url = f"sqlite:///{tmp_path / 'forked.db'}"
    parent = Database(url)
    with parent.write_session() as session:
        session.execute(text("CREATE TABLE marks (who TEXT)"))

    inside = threading.Event()

    def hold_a_write() -> None:
        transaction = parent.write_session() if writer == "session" else parent.connection()
        with transaction as handle:
            handle.execute(text("INSERT INTO marks (who) VALUES ('parent')"))
            inside.set()
            time.sleep(HOLD_SECONDS)

    holder = threading.Thread(target=hold_a_write)
    holder.start()
    assert inside.wait(5)
    forked_at = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os._exit(_write_in_child(url))
    waited_for_fork = time.monotonic() - forked_at
    holder.join()
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0, "the child could not write: it inherited the parent's lock"
    with parent.session() as session:
        assert sorted(session.execute(text("SELECT who FROM marks")).scalars()) == ["child", "parent"]
    assert waited_for_fork < HOLD_SECONDS + 2.0
