"""A pool child asked for its stacks writes them to its stderr (the worker's log), also when it
is stuck: what the pool watchdog does before it kills a stalled pool, and what an operator
gets from `kill -USR2 <child pid>`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from workers.pool_watchdog import dump_stacks

REPO_ROOT = Path(__file__).resolve().parents[2]

# Stands for a pool child stuck in its warm-up: the handler is registered first, as
# workers.app does after the fork, and then the process blocks.
STUCK_CHILD = """
import sys, time
from workers.pool_watchdog import enable_stack_dumps

def stuck_in_warm_up():
    print("ready", flush=True)
    time.sleep(60)

enable_stack_dumps()
stuck_in_warm_up()
"""


def test_a_stuck_process_writes_where_it_is_stuck_and_keeps_running() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", STUCK_CHILD],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        started = time.monotonic()
        dump_stacks([child.pid], wait_seconds=0.5)
        assert time.monotonic() - started >= 0.5, "the dump is given time to reach the log"
        assert child.poll() is None, "a dump does not end the process"
    finally:
        child.kill()
        _, stderr = child.communicate(timeout=30)
    assert "(most recent call first):" in stderr
    # The function, not its line: the signal may land while `print` is still returning, before
    # the sleep starts (CI once caught it on the print's line).
    assert "in stuck_in_warm_up" in stderr, stderr
