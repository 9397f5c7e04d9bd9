"""Process-tree lookups for the tests that kill or stop a worker's pool child."""

from __future__ import annotations

from pathlib import Path

from workers.maintenance import RECONCILE_ARGUMENTS


def child_pids(parent_pid: int) -> list[int]:
    """The pids whose parent is ``parent_pid``, read from /proc (no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent_pid:
                found.append(int(entry.name))
    return found


# A reconcile pass's command line, as /proc shows it (NUL-separated arguments).
RECONCILE_COMMAND = "\0".join(RECONCILE_ARGUMENTS).encode()


def pool_child_pids(worker_pid: int) -> list[int]:
    """A Celery worker's pool children. A reconcile pass also runs as a child of the worker's
    main process, a program of its own that a test must not take for the pool."""
    pool = []
    for pid in child_pids(worker_pid):
        command = command_line(pid)
        if command is not None and RECONCILE_COMMAND not in command:
            pool.append(pid)
    return pool


def command_line(pid: int) -> bytes | None:
    """``pid``'s arguments as /proc shows them (NUL-separated), or None once it has exited."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it has exited
        return None
