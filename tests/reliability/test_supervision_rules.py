"""The decisions behind pool replacement, on their own: when a pool counts as stalled, when
an idle pool is probed, and when `facefleet up` restarts a process or gives up."""

from __future__ import annotations

import io
import sys
import time

from facefleet.supervision import Supervisor
from workers.pool_watchdog import PoolObservation, StallDetector


def seen(slots: int = 1, running: int = 0, waiting: int = 0, starts: int = 0) -> PoolObservation:
    return PoolObservation(slots=slots, running=running, waiting=waiting, starts=starts)


def test_work_waiting_with_a_free_slot_and_no_start_is_a_stall_after_the_bound() -> None:
    detector = StallDetector(stall_seconds=30, probe_interval_seconds=30, now=0)
    for now in range(0, 30, 5):
        detector.observe(seen(waiting=1), now=now)
    assert not detector.is_stalled(29)
    detector.observe(seen(waiting=1), now=31)
    assert detector.is_stalled(31)


def test_a_gap_in_observations_is_not_counted_against_the_pool() -> None:
    detector = StallDetector(stall_seconds=30, probe_interval_seconds=30, now=0)
    detector.observe(seen(waiting=1), now=0)
    detector.observe(seen(waiting=1), now=40)  # the main process was blocked for 40 s
    assert not detector.is_stalled(40)
    for now in range(45, 75, 5):
        detector.observe(seen(waiting=1), now=now)
    assert detector.is_stalled(75)


def test_a_start_resets_the_clock() -> None:
    detector = StallDetector(stall_seconds=30, probe_interval_seconds=30, now=0)
    for now in range(0, 25, 5):
        detector.observe(seen(waiting=2), now=now)
    for now in range(25, 60, 5):
        detector.observe(seen(waiting=1, starts=1), now=now)
        assert not detector.is_stalled(now), now
    detector.observe(seen(waiting=1, starts=1), now=60)
    assert detector.is_stalled(60)


def test_jobs_waiting_behind_a_full_pool_are_not_a_stall() -> None:
    detector = StallDetector(stall_seconds=30, probe_interval_seconds=30, now=0)
    for now in range(0, 600, 10):  # two long jobs run; two more wait their turn
        detector.observe(seen(slots=2, running=2, waiting=2, starts=2), now=now)
        assert not detector.is_stalled(now)
    assert detector.stalled_for(600) == 0


def test_an_idle_pool_is_probed_only_after_the_interval_since_its_last_start() -> None:
    detector = StallDetector(stall_seconds=30, probe_interval_seconds=20, now=0)
    detector.observe(seen(starts=3), now=5)
    assert not detector.wants_probe(seen(starts=3), now=20)
    assert detector.wants_probe(seen(starts=3), now=26)
    assert not detector.wants_probe(seen(running=1, starts=3), now=26)  # busy: no probe needed
    assert not detector.wants_probe(seen(waiting=1, starts=3), now=26)  # a probe already waits


def test_a_known_start_time_dates_the_last_start() -> None:
    detector = StallDetector(stall_seconds=30, probe_interval_seconds=20, now=0)
    detector.observe(PoolObservation(slots=1, running=0, waiting=0, starts=1, last_start_at=12.0), now=15)
    assert detector.seconds_since_start(15) == 3.0


def _exit_with(code: int) -> list[str]:
    return [sys.executable, "-c", f"raise SystemExit({code})"]


def _wait_until(supervisor: Supervisor, done: object, timeout: float = 20) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = supervisor.check()
        if result is not None or done():  # type: ignore[operator]
            return result
        time.sleep(0.05)
    raise AssertionError("the supervisor did not get there in time")


def test_an_exited_worker_is_started_again_and_a_crash_loop_stops_the_service() -> None:
    out = io.StringIO()
    supervisor = Supervisor({}, max_restarts=2, window_seconds=60, backoff_seconds=0.01, out=out)
    worker = supervisor.start("worker", _exit_with(75))
    first = worker.process
    assert _wait_until(supervisor, lambda: worker.process is not first) is None
    assert "the FaceFleet worker exited with 75; starting it again" in out.getvalue()

    assert _wait_until(supervisor, lambda: False) == 75  # a third exit within the window
    assert "exited 3 times within 60 s" in out.getvalue()
    supervisor.stop()


def test_a_process_that_must_not_be_restarted_stops_the_service() -> None:
    out = io.StringIO()
    supervisor = Supervisor({}, backoff_seconds=0.01, out=out)
    supervisor.start("worker", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor.start("API", _exit_with(3), restart=False)
    assert _wait_until(supervisor, lambda: False) == 3
    assert "the FaceFleet API exited with 3; stopping" in out.getvalue()
    supervisor.stop(grace_seconds=5)
    assert all(
        child.process is not None and child.process.poll() is not None for child in supervisor.children
    )
