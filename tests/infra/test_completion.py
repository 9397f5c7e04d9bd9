"""Completion push on the real databases: a waiter wakes when the job's row is final and the
worker side notifies; a lost push still answers, after the fallback period; a listener whose
channel breaks comes back and never leaves a waiter hanging. Each runs on both backends
(``database``, tests/infra/conftest.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from infra.completion import (
    CompletionListener,
    PostgresCompletionListener,
    commit_channel,
    completion_listener,
    completion_notifier,
    expecting,
    wait_for_final,
)
from infra.db import Database
from infra.db.repositories import JobRepo, ProjectRepo

FALLBACK = 1.5


@pytest.fixture(scope="module")
def project_id(database: Database) -> str:
    return ProjectRepo(database).create(f"completion-{uuid.uuid4().hex[:6]}").id


@pytest.fixture
def listener(database: Database) -> Iterator[CompletionListener]:
    found = completion_listener(database.url)
    assert found is not None
    yield found
    found.close()


def new_job(jobs: JobRepo, project_id: str) -> str:
    job_id = uuid.uuid4().hex
    jobs.create(job_id=job_id, project_id=project_id, kind="detect", payload={})
    return job_id


def finish_later(jobs: JobRepo, job_id: str, after: float, notify: bool, database: Database) -> threading.Thread:
    """Another 'worker': stores the result after ``after`` seconds, then (maybe) pushes."""
    notifier = completion_notifier(database.url, database.engine)

    def finish() -> None:
        time.sleep(after)
        jobs.start(job_id, worker="test")
        assert jobs.succeed(job_id, {"faces": []})
        if notify:
            notifier.notify(job_id)

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def timed_wait(jobs: JobRepo, job_id: str, listener: CompletionListener, timeout: float = 10.0) -> tuple[str, float]:
    started = time.monotonic()
    row = wait_for_final(
        jobs.get, lambda job: job.status in ("succeeded", "failed"), job_id, timeout, listener,
        fallback_seconds=FALLBACK, first_poll=0.02, max_poll=0.25,
    )
    assert row is not None
    return row.status, time.monotonic() - started


def test_a_pushed_completion_wakes_the_waiter_at_once(database: Database, project_id: str, listener) -> None:
    jobs = JobRepo(database)
    assert listener.ensure_started()
    for _ in range(3):
        job_id = new_job(jobs, project_id)
        finisher = finish_later(jobs, job_id, after=0.3, notify=True, database=database)
        status, waited = timed_wait(jobs, job_id, listener)
        finisher.join()
        assert status == "succeeded"
        # Finished at 0.3 s after the finisher started: a push answers well before the 1.5 s
        # fallback period (the waiter's clock starts a little after the finisher's).
        assert 0.2 <= waited < 0.3 + FALLBACK / 2, waited


def test_a_lost_push_still_answers_within_the_fallback(database: Database, project_id: str, listener) -> None:
    jobs = JobRepo(database)
    assert listener.ensure_started()
    job_id = new_job(jobs, project_id)
    finisher = finish_later(jobs, job_id, after=0.3, notify=False, database=database)
    status, waited = timed_wait(jobs, job_id, listener)
    finisher.join()
    assert status == "succeeded"
    # The row is re-read every FALLBACK seconds: the first re-read after 0.3 s sees it.
    assert FALLBACK - 0.1 <= waited < FALLBACK + 1.0, waited


def test_a_waiter_registered_before_the_send_reads_the_row_once(
    database: Database, project_id: str, listener
) -> None:
    """How a sync call waits: registered for the push before its task is sent, it reads the
    row only when pushed (the read before the first sleep is saved); a lost push still ends
    in the fallback read, and a zero timeout still returns the row."""
    jobs = JobRepo(database)
    reads: list[str] = []

    def read(job_id: str):  # type: ignore[no-untyped-def]
        reads.append(job_id)
        return jobs.get(job_id)

    def wait(job_id: str, pushed, timeout: float = 10.0):  # type: ignore[no-untyped-def]
        return wait_for_final(
            read, lambda job: job.status in ("succeeded", "failed"), job_id, timeout, listener,
            fallback_seconds=FALLBACK, first_poll=0.02, max_poll=0.25, registered=pushed,
        )

    for notify, most in ((True, FALLBACK / 2), (False, FALLBACK + 1.0)):
        reads.clear()
        job_id = uuid.uuid4().hex
        with expecting(listener, job_id) as pushed:
            assert pushed is not None
            jobs.create(job_id=job_id, project_id=project_id, kind="detect", payload={})
            started = time.monotonic()
            finisher = finish_later(jobs, job_id, after=0.2, notify=notify, database=database)
            row = wait(job_id, pushed)
            waited = time.monotonic() - started
        finisher.join()
        assert row is not None and row.status == "succeeded"
        assert reads == [job_id] and waited < most, (notify, reads, waited)

    reads.clear()
    job_id = new_job(jobs, project_id)
    with expecting(listener, job_id) as pushed:
        row = wait(job_id, pushed, timeout=0.0)
    assert row is not None and row.status == "pending" and reads == [job_id]


def test_the_commit_that_makes_a_row_final_carries_its_push(
    database: Database, project_id: str, listener
) -> None:
    """On PostgreSQL the repository notifies inside the finishing transaction: the waiter
    wakes with no notifier call at all, and a second, refused outcome sends nothing."""
    channel = commit_channel(database.url)
    if channel is None:
        pytest.skip("SQLite's push is a datagram after the commit (infra.wakeup), not transactional")
    jobs = JobRepo(database, completion_channel=channel)
    assert listener.ensure_started()
    job_id = new_job(jobs, project_id)

    def finish() -> None:
        time.sleep(0.3)
        jobs.start(job_id, worker="test")
        assert jobs.succeed(job_id, {"faces": []})

    finisher = threading.Thread(target=finish)
    finisher.start()
    status, waited = timed_wait(jobs, job_id, listener)
    finisher.join()
    assert status == "succeeded" and 0.2 <= waited < 0.3 + FALLBACK / 2, waited

    with listener.expect(job_id) as pushed:
        assert not jobs.fail(job_id, "internal", "a late second outcome")
        assert not pushed.wait(0.5)


# A detect's result as a sync call stores it: one face with its 68 landmarks.
DETECT_RESULT = {
    "faces": [
        {
            "bounding_box": {"top_left_x": 81, "top_left_y": 62, "width": 124, "height": 124},
            "confidence": 0.9731,
            "landmarks": [[100.5 + index, 120.25 - index] for index in range(68)],
        }
    ]
}


@pytest.mark.parametrize(
    ("result", "pushed_row"),
    [(DETECT_RESULT, True), ({"faces": [], "note": "x" * 9000}, False)],
    ids=["row-in-the-push", "row-too-long-for-a-push"],
)
def test_a_push_carries_the_final_row_when_it_fits(
    database: Database, project_id: str, listener, result: dict[str, object], pushed_row: bool
) -> None:
    """PostgreSQL's push carries the final row as JSON when it fits in a ``NOTIFY`` payload
    (under 8,000 bytes): the waiter answers from it without reading, and gets exactly what a
    read returns. A longer row is pushed by its id (a longer payload would fail the finish)
    and the waiter reads it."""
    channel = commit_channel(database.url)
    if channel is None:
        pytest.skip("SQLite's push is a datagram of the job id (infra.wakeup)")
    jobs = JobRepo(database, completion_channel=channel)
    assert listener.ensure_started()
    reads: list[str] = []

    def read(job_id: str):  # type: ignore[no-untyped-def]
        reads.append(job_id)
        return jobs.get(job_id)

    job_id = uuid.uuid4().hex
    with expecting(listener, job_id) as pushed:
        assert pushed is not None
        jobs.create(job_id=job_id, project_id=project_id, kind="detect", payload={"image_key": "probe/abc"})
        jobs.start(job_id, worker="test")
        assert jobs.succeed(job_id, result)
        row = wait_for_final(
            read, lambda job: job.status in ("succeeded", "failed"), job_id, 10.0, listener,
            fallback_seconds=FALLBACK, first_poll=0.02, max_poll=0.25, registered=pushed,
        )
    assert reads == ([] if pushed_row else [job_id])
    assert row == jobs.get(job_id)
    assert row is not None and row.result == result and row.finished_at is not None
    assert row.finished_at.tzinfo is not None and row.finished_at.utcoffset() == timedelta(0)


def test_a_timeout_returns_the_unfinished_row(database: Database, project_id: str, listener) -> None:
    jobs = JobRepo(database)
    job_id = new_job(jobs, project_id)
    row = wait_for_final(
        jobs.get, lambda job: job.status in ("succeeded", "failed"), job_id, 0.4, listener,
        fallback_seconds=FALLBACK, first_poll=0.02, max_poll=0.25,
    )
    assert row is not None and row.status == "pending"


def test_pushes_for_other_jobs_do_not_answer_a_waiter(database: Database, project_id: str, listener) -> None:
    jobs = JobRepo(database)
    assert listener.ensure_started()
    waited_on, other = new_job(jobs, project_id), new_job(jobs, project_id)
    notifier = completion_notifier(database.url, database.engine)
    result: dict[str, object] = {}

    def wait() -> None:
        result["status"], result["waited"] = timed_wait(jobs, waited_on, listener, timeout=1.0)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)
    jobs.succeed(other, {})
    notifier.notify(other)
    waiter.join()
    assert result["status"] == "pending"


def test_the_listener_comes_back_after_its_channel_breaks(database: Database, project_id: str, listener) -> None:
    """A broken channel (a PostgreSQL restart drops the LISTEN connection; a removed socket)
    wakes every waiter to re-read, and pushes work again once the listener reconnected."""
    jobs = JobRepo(database)
    assert listener.ensure_started()
    break_channel(database, listener)
    deadline = time.monotonic() + 10
    while not listener.healthy or not channel_open(database, listener):
        assert time.monotonic() < deadline, "the listener did not reconnect"
        time.sleep(0.1)
    job_id = new_job(jobs, project_id)
    finisher = finish_later(jobs, job_id, after=0.2, notify=True, database=database)
    status, waited = timed_wait(jobs, job_id, listener)
    finisher.join()
    assert status == "succeeded" and waited < FALLBACK, waited


def break_channel(database: Database, listener: CompletionListener) -> None:
    if database.is_sqlite:
        listener._stopping.set()  # the thread exits; ensure_started() must bring it back
        assert listener._thread is not None
        listener._thread.join(timeout=5)
        assert not listener._thread.is_alive()
        assert listener.ensure_started()
        return
    with database.engine.connect() as connection:
        from sqlalchemy import text

        killed = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
            )
        ).all()
        connection.commit()
    assert killed, "no LISTEN connection to break"


def channel_open(database: Database, listener: CompletionListener) -> bool:
    if database.is_sqlite:
        return True
    from sqlalchemy import text

    with database.engine.connect() as connection:
        return bool(
            connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'")
            ).scalar()
        )


def test_a_pushed_row_that_cannot_be_read_still_wakes_its_waiter(caplog: pytest.LogCaptureFixture) -> None:
    """The listener's parsing of a push, without a database: a row it cannot read wakes the
    waiter without a row (it reads the row itself); a push for a job no request of this
    process waits on is not parsed at all."""
    listener = PostgresCompletionListener("postgresql://facefleet@127.0.0.1/unused")
    with listener.expect("job-a") as pushed:
        listener._announce('job-a {"id": "job-a", "status": "succeeded"}')  # columns missing
        assert pushed.is_set() and pushed.take_row() is None
    assert "could not be read" in caplog.text
    caplog.clear()
    with listener.expect("job-a") as pushed:
        listener._announce("job-b {not json")
        listener._announce("job-a")  # a row too long for the payload: the id alone
        assert pushed.is_set() and pushed.take_row() is None
    assert caplog.text == ""
