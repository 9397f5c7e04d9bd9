"""Process-tree lookups for the tests that kill or stop a worker's pool child."""

from __future__ import annotations

from pathlib import Path


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
