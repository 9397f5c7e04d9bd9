"""A watchdog in each worker's main process that replaces a pool which cannot start jobs.

The main process receives jobs and answers control commands on its own; only the pool's
children run jobs. A pool can stop taking work while the main process looks healthy: a
child wedged in native code, a child stopped by a signal, or billiard's blocking pool whose
shared inqueue semaphore died with a child (infra/sql_transport.py). Then every received job
waits for good, and nothing else notices.

So the watchdog counts *starts*: while work waits for the pool (a received job not yet
started, or a probe) and a slot is free, some job must start within ``stall_seconds``.
When the pool is idle it sends a no-op probe through it now and then, so a dead pool is
found before a client's job is the one that waits. On a stall it kills the pool's children,
hands back the messages it holds and exits with ``EXIT_POOL_STALLED``: the supervisor
(`facefleet up`, or the container's restart policy) starts a fresh worker, and acks_late
delivers the unfinished jobs again. Exiting is the only safe restart: Celery's own shutdown
waits for the pool, and terminating billiard's blocking pool takes that same semaphore.

The `facefleet_pool_progress` control command reports the same numbers and starts a probe;
the compose health check (infra/deploy/healthcheck.py) uses it to prove that the pool
starts work, not only that the main process answers.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import bootsteps
from celery.worker import state as worker_state
from celery.worker.control import control_command

log = logging.getLogger(__name__)

# EX_SOFTWARE would read as a bug; this is a detected, recovered condition (EX_TEMPFAIL).
EXIT_POOL_STALLED = 75
# A pool child writes every thread's Python stack to the worker's stderr on this signal
# (billiard takes SIGUSR1 for the soft time limit). The watchdog sends it before it kills a
# stalled pool, so the log says where the children were stuck.
STACK_DUMP_SIGNAL = signal.SIGUSR2
STACK_DUMP_WAIT_SECONDS = 1.0
PROGRESS_COMMAND = "facefleet_pool_progress"


def pool_probe() -> int:
    """Runs in a pool child: taking and finishing it is the proof the pool works."""
    return os.getpid()


@dataclass(frozen=True)
class PoolObservation:
    """What the main process sees of its pool at one moment."""

    slots: int
    running: int
    waiting: int  # received jobs (and an unstarted probe) not yet taken by a child
    starts: int  # jobs and probes started so far, ever
    last_start_at: float | None = None  # when the latest known start happened, if known


class StallDetector:
    """Decides from successive observations whether the pool has stopped starting work.

    Time only counts while work waits *and* a slot is free: a pool busy with long jobs is
    progressing, and the received jobs behind them wait legitimately."""

    def __init__(self, stall_seconds: float, probe_interval_seconds: float, now: float) -> None:
        self.stall_seconds = stall_seconds
        self.probe_interval_seconds = probe_interval_seconds
        self._starts = -1
        self._last_start = now
        self._stalled_since: float | None = None
        self._last_seen: float | None = None

    def observe(self, seen: PoolObservation, now: float) -> None:
        if self._last_seen is not None and now - self._last_seen > self.stall_seconds / 2:
            # The main process itself was held up (the loop blocked on a locked SQLite
            # broker, a suspended host): the pool had no chance to be sent work, so the
            # waiting time so far says nothing about it.
            self._stalled_since = None
        self._last_seen = now
        if seen.starts != self._starts:
            self._starts = seen.starts
            # A job that started and ended between two looks is dated by the look.
            self._last_start = seen.last_start_at if seen.last_start_at is not None else now
            self._stalled_since = None
        if seen.waiting and seen.running < seen.slots:
            if self._stalled_since is None:
                self._stalled_since = now
        else:
            self._stalled_since = None

    def stalled_for(self, now: float) -> float:
        return 0.0 if self._stalled_since is None else now - self._stalled_since

    def is_stalled(self, now: float) -> bool:
        return self.stalled_for(now) > self.stall_seconds

    def wants_probe(self, seen: PoolObservation, now: float) -> bool:
        idle = not seen.waiting and seen.running < seen.slots
        return idle and now - self._last_start >= self.probe_interval_seconds

    def seconds_since_start(self, now: float) -> float:
        return now - self._last_start


class PoolWatchdog:
    def __init__(
        self,
        consumer: Any,
        stall_seconds: float,
        probe_interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.clock = clock
        self.detector = StallDetector(stall_seconds, probe_interval_seconds, clock())
        self._probe_sent_at: float | None = None
        self._probe_started_at: float | None = None
        self._probes_started = 0

    # --- observation --------------------------------------------------------------------
    def observe(self) -> PoolObservation:
        active = set(worker_state.active_requests)
        waiting = sum(1 for request in list(worker_state.reserved_requests) if request not in active)
        # Request.time_start is wall-clock; the watchdog's clock is monotonic.
        wall_to_clock = self.clock() - time.time()
        starts = [request.time_start + wall_to_clock for request in active if request.time_start]
        if self._probe_started_at is not None:
            starts.append(self._probe_started_at)
        return PoolObservation(
            slots=max(1, int(getattr(self.consumer.pool, "num_processes", None) or 1)),
            running=len(active),
            waiting=waiting + (1 if self._probe_sent_at is not None else 0),
            starts=worker_state.all_total_count[0] + self._probes_started,
            last_start_at=max(starts, default=None),
        )

    def tick(self) -> None:
        now = self.clock()
        seen = self.observe()
        self.detector.observe(seen, now)
        if self.detector.is_stalled(now):
            self.replace_pool(seen, now)
        elif self.detector.wants_probe(seen, now):
            self.send_probe()

    def progress(self, probe: bool) -> dict[str, Any]:
        """The numbers the health check judges by (ages in seconds, this process's clock)."""
        if probe:
            self.send_probe()
        now = self.clock()
        seen = self.observe()
        self.detector.observe(seen, now)
        return {
            "slots": seen.slots,
            "running": seen.running,
            "waiting": seen.waiting,
            "starts": seen.starts,
            "seconds_since_start": round(self.detector.seconds_since_start(now), 3),
            "stalled_seconds": round(self.detector.stalled_for(now), 3),
            "stall_limit_seconds": self.detector.stall_seconds,
        }

    # --- probing ------------------------------------------------------------------------
    def send_probe(self) -> None:
        if self._probe_sent_at is not None:
            return  # one at a time: an unstarted probe already counts as waiting work
        self._probe_sent_at = self.clock()
        try:
            self.consumer.pool.apply_async(
                pool_probe,
                accept_callback=self._probe_started,
                callback=lambda _result: None,
                error_callback=self._probe_lost,
                correlation_id=f"facefleet-pool-probe-{self._probes_started}",
            )
        except Exception:  # a pool that cannot even queue a job is stalled; the detector says so
            log.exception("could not send a probe to the pool")

    def _probe_started(self, _pid: int, time_accepted: float) -> None:
        # time_accepted is the child's monotonic clock: the same clock on one host.
        self._probe_started_at = time_accepted
        self._probes_started += 1
        self._probe_sent_at = None

    def _probe_lost(self, *_: object) -> None:
        self._probe_sent_at = None  # its child died before taking it: the next tick sends another

    # --- recovery -----------------------------------------------------------------------
    def replace_pool(self, seen: PoolObservation, now: float) -> None:
        log.critical(
            "the pool started no job for %.0f s with %d waiting and %d of %d slots free; "
            "its children's stacks follow, then they are killed and this worker exits so a "
            "fresh one takes over",
            self.detector.stalled_for(now),
            seen.waiting,
            seen.slots - seen.running,
            seen.slots,
        )
        children = pool_child_pids(self.consumer.pool)
        dump_stacks(children)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        restore_unacked(self.consumer)
        logging.shutdown()
        os._exit(EXIT_POOL_STALLED)


def enable_stack_dumps() -> None:
    """In a pool child: dump every thread's stack to stderr on ``STACK_DUMP_SIGNAL``.
    faulthandler writes from its C signal handler, so a child stuck in native code holding
    the GIL still answers."""
    stream = sys.__stderr__
    if stream is not None:
        faulthandler.register(STACK_DUMP_SIGNAL, file=stream, all_threads=True)


def dump_stacks(pids: list[int], wait_seconds: float = STACK_DUMP_WAIT_SECONDS) -> None:
    """Ask each process for its stacks and give them time to reach the log. A stopped one
    (SIGSTOP, a debugger) stays silent: continued, it would run its job before the kill."""
    asked = False
    for pid in pids:
        try:
            os.kill(pid, STACK_DUMP_SIGNAL)
            asked = True
        except ProcessLookupError:
            pass
    if asked:
        time.sleep(wait_seconds)


def pool_child_pids(pool: Any) -> list[int]:
    processes = getattr(getattr(pool, "_pool", None), "_pool", None) or []
    return [process.pid for process in processes if getattr(process, "pid", None)]


def restore_unacked(consumer: Any) -> None:
    """Give back the messages this worker holds. RabbitMQ does it when the connection
    drops; a virtual transport (the embedded SQL broker) keeps them only in this process,
    so they must be put back before it exits or they stay invisible."""
    channel = getattr(getattr(consumer, "task_consumer", None), "channel", None)
    restore = getattr(getattr(channel, "qos", None), "restore_unacked_once", None)
    if restore is None:
        return
    try:
        restore()
    except Exception:  # the stale-job housekeeping re-sends what could not be restored
        log.exception("could not restore the unacknowledged messages")


_current: PoolWatchdog | None = None


class PoolWatchdogStep(bootsteps.StartStopStep):  # type: ignore[misc]
    """Consumer bootstep: runs the watchdog on the worker's timer (the event loop's when it
    has one, so it never races the loop)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._entry: Any = None

    def start(self, consumer: Any) -> None:
        global _current
        from workers.runtime import get_runtime

        jobs = get_runtime().settings.jobs
        if jobs.pool_stall_seconds <= 0:
            return
        _current = PoolWatchdog(consumer, jobs.pool_stall_seconds, jobs.pool_probe_interval_seconds)
        tick_seconds = max(0.2, min(5.0, jobs.pool_stall_seconds / 4))
        self._entry = consumer.timer.call_repeatedly(tick_seconds, _current.tick)

    def stop(self, consumer: Any) -> None:
        global _current
        if self._entry is not None:
            self._entry.cancel()
            self._entry = None
        _current = None


@control_command(args=[("probe", bool)], signature="[probe]")  # type: ignore[untyped-decorator]
def facefleet_pool_progress(state: Any, probe: bool = True, **_: Any) -> dict[str, Any]:
    """Whether this worker's pool starts work (sends a probe through it by default)."""
    if _current is None:
        return {"error": "the pool watchdog is not running"}
    return _current.progress(probe=probe)
