"""Process-tree lookups for the tests that kill or stop a worker's pool child."""

from __future__ import annotations

import time
from pathlib import Path

from workers.maintenance import RECONCILE_ARGUMENTS

# /proc states of a process that has exited and waits to be reaped by its parent.
EXITED_STATES = ("Z", "X")


def child_pids(parent_pid: int, *, alive_only: bool = False) -> list[int]:
    """The pids whose parent is ``parent_pid``, read from /proc (no psutil needed). With
    ``alive_only``, a child that has exited but is not reaped yet (a zombie) is left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, parent = stat.rsplit(")", 1)[1].split()[:2]
            if int(parent) == parent_pid and not (alive_only and state in EXITED_STATES):
                found.append(int(entry.name))
    return found


# A reconcile pass's command line, as /proc shows it (NUL-separated arguments).
RECONCILE_COMMAND = "\0".join(RECONCILE_ARGUMENTS).encode()


def pool_child_pids(worker_pid: int) -> list[int]:
    """A Celery worker's live pool children. A reconcile pass also runs as a child of the
    worker's main process, a program of its own that a test must not take for the pool; and a
    child killed a moment ago stays a zombie until the main process reaps it."""
    pool = []
    for pid in child_pids(worker_pid, alive_only=True):
        command = command_line(pid)
        if command and RECONCILE_COMMAND not in command:
            pool.append(pid)
    return pool


def the_pool_child(worker_pid: int, timeout_seconds: float = 15.0) -> int:
    """The one pool child of a worker started with one. Right after a kill the pool briefly
    holds the dying child beside its replacement (and a reconcile pass is a fork of the main
    process until it execs), so this waits for exactly one before naming it."""
    deadline = time.monotonic() + timeout_seconds
    while len(pool := pool_child_pids(worker_pid)) != 1:
        if time.monotonic() > deadline:
            seen = {pid: command_line(pid) for pid in child_pids(worker_pid)}
            raise AssertionError(
                f"worker {worker_pid} has not exactly one pool child: {pool}; children {seen}"
            )
        time.sleep(0.05)
    return pool[0]


def command_line(pid: int) -> bytes | None:
    """``pid``'s arguments as /proc shows them (NUL-separated), or None once it has exited."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it has exited
        return None
