"""Where a run's CPU time went, by role: the workers, the API, the engines beside them.

On a 2-core host the API, the broker, the databases and the bench's own S3 server share
the cores with the workers, so a queue-path rate is bounded by what they take. This reads
every process's user + system time from /proc before and after a run (Linux only; a
process that ends inside the run is not counted).

    with CpuShare() as share:
        run()
    share.report()  # {"wall_seconds": ..., "cores_used": ..., "cores_idle": ...,
                    #  "cpu_seconds_by_role": {"worker": 6.9, ...}}
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

TICKS = os.sysconf("SC_CLK_TCK")
# The first role whose marker is in a process's command line names it.
ROLES = (
    ("worker", "facefleet worker"),
    ("api", "facefleet api"),
    ("s3 server (moto)", "bench.s3_app"),
    ("api", "gunicorn"),
    ("milvus", "milvus"),
    ("postgres", "postgres"),
    ("rabbitmq", "beam.smp"),
    ("bench (clients)", "bench."),
)


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """(role, CPU seconds so far) of every process this user can read."""
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            # The command name may hold spaces; the counters follow its closing parenthesis.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (_role(command), (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def machine_seconds() -> dict[str, float]:
    """The whole machine's idle and stolen CPU seconds so far (/proc/stat): a run that left
    cores idle was not CPU-bound; time stolen by the hypervisor went to other tenants."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    idle, iowait, steal = int(fields[3]), int(fields[4]), int(fields[7]) if len(fields) > 7 else 0
    return {"idle": (idle + iowait) / TICKS, "stolen": steal / TICKS}


def _role(command: str) -> str:
    return next((role for role, marker in ROLES if marker in command), "other")


class CpuShare:
    def __enter__(self) -> Self:
        self._before = cpu_seconds_by_process()
        self._machine_before = machine_seconds()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.wall_seconds = time.perf_counter() - self._started
        after = cpu_seconds_by_process()
        machine = machine_seconds()
        self.machine = {key: machine[key] - self._machine_before[key] for key in machine}
        self.by_role: dict[str, float] = {}
        for pid, (role, seconds) in after.items():
            spent = seconds - self._before.get(pid, (role, 0.0))[1]
            self.by_role[role] = self.by_role.get(role, 0.0) + spent

    def report(self) -> dict[str, Any]:
        total = sum(self.by_role.values())
        return {
            "wall_seconds": round(self.wall_seconds, 3),
            "cores_used": round(total / self.wall_seconds, 2),
            "cores_idle": round(self.machine["idle"] / self.wall_seconds, 2),
            "cores_stolen": round(self.machine["stolen"] / self.wall_seconds, 2),
            "cpu_seconds_by_role": {
                role: round(seconds, 2)
                for role, seconds in sorted(self.by_role.items(), key=lambda item: -item[1])
                if seconds >= 0.01
            },
        }
