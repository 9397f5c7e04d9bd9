"""Keeps the embedded service's processes running: a worker that exits is started again.

A worker exits when its pool watchdog finds the pool unable to start jobs
(workers/pool_watchdog.py), when the OOM killer takes its main process, or when it crashes;
in each case a fresh worker is what the service needs, not a shutdown of everything. A
process that keeps dying (more than ``max_restarts`` within ``window_seconds``) is a
configuration or environment fault that restarting will not cure: then the supervisor
stops the service with that process's exit status, as before; so does a worker that exits
with EX_CONFIG (78: its model files are missing), at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Supervised:
    name: str
    command: list[str]
    restart: bool
    process: subprocess.Popen[bytes] | None = None
    exits: deque[float] = field(default_factory=deque)
    restart_at: float | None = None


class Supervisor:
    def __init__(
        self,
        env: Mapping[str, str],
        max_restarts: int = 5,
        window_seconds: float = 60.0,
        backoff_seconds: float = 1.0,
        out: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.env = dict(env)
        self.max_restarts = max_restarts
        self.window_seconds = window_seconds
        self.backoff_seconds = backoff_seconds
        self.out = out
        self.clock = clock
        self.children: list[Supervised] = []

    def start(self, name: str, command: list[str], restart: bool = True) -> Supervised:
        child = Supervised(name, command, restart)
        self._spawn(child)
        self.children.append(child)
        return child

    def _spawn(self, child: Supervised) -> None:
        child.process = subprocess.Popen(child.command, env=self.env)
        child.restart_at = None

    def check(self) -> int | None:
        """Restart what exited; the exit status to stop the service with, or None."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._spawn(child)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            code = child.process.returncode
            child.exits.append(now)
            while child.exits and now - child.exits[0] > self.window_seconds:
                child.exits.popleft()
            if not child.restart:
                print(f"the FaceFleet {child.name} exited with {code}; stopping", file=self.out)
                return code or 1
            if code == os.EX_CONFIG:
                print(
                    f"the FaceFleet {child.name} exited with {code}: a configuration fault that "
                    "restarting will not cure (its log says which); stopping",
                    file=self.out,
                )
                return code
            if len(child.exits) > self.max_restarts:
                print(
                    f"the FaceFleet {child.name} exited {len(child.exits)} times within "
                    f"{self.window_seconds:.0f} s (last status {code}); stopping",
                    file=self.out,
                )
                return code or 1
            delay = self.backoff_seconds * len(child.exits)
            print(
                f"the FaceFleet {child.name} exited with {code}; starting it again in {delay:.0f} s",
                file=self.out,
            )
            child.restart_at = now + delay
        return None

    def stop(self, grace_seconds: float = 20.0) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = self.clock() + grace_seconds
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
