"""Job rows in the SQL layer, on SQLite and PostgreSQL (tests/infra/conftest.py): their
lifecycle, idempotency, children's progress and the housekeeping sweeps."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.db.repositories import JobRepo
from tests.support.sql import Repos, run_together


def job_id() -> str:
    return uuid.uuid4().hex


def test_job_lifecycle_and_first_outcome_wins(repos: Repos) -> None:
    jid = job_id()
    job, created = repos.jobs.create(
        job_id=jid,
        project_id=repos.project_id,
        kind="enroll",
        payload={"image_key": "images/k"},
        idempotency_key=None,
    )
    assert created and job.status == "pending" and job.id == job.job_id == jid
    assert job.expires_at is not None and job.expires_at > job.created_at

    assert repos.jobs.start(jid, worker="w1@host") is not None
    running = repos.jobs.get(jid)
    assert running is not None
    assert (running.status, running.worker, running.attempts) == ("running", "w1@host", 1)
    assert running.started_at is not None

    assert repos.jobs.succeed(jid, {"faces": [1, 2]})
    assert not repos.jobs.fail(jid, "internal", "too late")
    assert repos.jobs.start(jid, worker="w2") is None
    done = repos.jobs.get(jid)
    assert done is not None
    assert (done.status, done.result, done.error_code, done.worker) == (
        "succeeded",
        {"faces": [1, 2]},
        None,
        "w1@host",
    )
    assert done.finished_at is not None

    failed_id = job_id()
    repos.jobs.create(
        job_id=failed_id, project_id=repos.project_id, kind="detect", payload={}, idempotency_key=None
    )
    assert repos.jobs.fail(failed_id, "no_face", "no face was detected", {"image": "image1"})
    failed = repos.jobs.get(failed_id)
    assert failed is not None
    assert (failed.status, failed.error_code, failed.error_message, failed.error_details) == (
        "failed",
        "no_face",
        "no face was detected",
        {"image": "image1"},
    )
    assert repos.jobs.get("no-such-job") is None


def test_a_finish_returns_the_final_row_and_counts_each_outcome_once(repos: Repos) -> None:
    """A job's finish (on PostgreSQL one statement, on SQLite a transaction) hands back the
    row as stored, counts the outcome with it, and a refused second outcome counts nothing."""
    kind = f"kind_{uuid.uuid4().hex[:8]}"  # counts are global: a kind of this test's own
    first, second = job_id(), job_id()
    for jid in (first, second):
        repos.jobs.create(
            job_id=jid, project_id=repos.project_id, kind=kind, payload={}, idempotency_key=None
        )
        assert repos.jobs.start(jid, worker="w1") is not None

    finished = repos.jobs.succeed(first, {"faces": [{"x": 1}]})
    assert finished is not None and finished == repos.jobs.get(first)
    assert (finished.status, finished.result) == ("succeeded", {"faces": [{"x": 1}]})
    assert repos.jobs.fail(first, "internal", "too late") is None
    assert repos.jobs.succeed(first, {"faces": []}) is None
    failed = repos.jobs.fail(second, "no_face", "no face", {"image": "image1"})
    assert failed is not None and failed == repos.jobs.get(second)

    counts = repos.jobs.outcome_counts()
    assert (counts.get((kind, "succeeded")), counts.get((kind, "failed"))) == (1, 1)


def test_job_keeps_its_callback_url_and_webhook_report(repos: Repos) -> None:
    jid = job_id()
    job, _ = repos.jobs.create(
        job_id=jid,
        project_id=repos.project_id,
        kind="detect",
        payload={},
        idempotency_key=None,
        callback_url="https://example.com/hook",
    )
    assert (job.callback_url, job.webhook) == ("https://example.com/hook", None)
    repos.jobs.succeed(jid, {"faces": []})
    assert repos.jobs.record_webhook(jid, {"delivered": True, "attempts": [{"status": 200}]})
    stored = repos.jobs.get(jid)
    assert stored is not None and stored.webhook == {"delivered": True, "attempts": [{"status": 200}]}


def test_job_create_honours_the_idempotency_key_per_project(repos: Repos) -> None:
    first, created = repos.jobs.create(
        job_id=job_id(), project_id=repos.project_id, kind="search", payload={"a": 1}, idempotency_key="key-1"
    )
    assert created
    again, created = repos.jobs.create(
        job_id=first.id, project_id=repos.project_id, kind="search", payload={"a": 1}, idempotency_key="key-1"
    )
    assert not created and again.id == first.id
    # Another job id with the same key in the same project still finds the first job.
    same_key, created = repos.jobs.create(
        job_id=job_id(), project_id=repos.project_id, kind="search", payload={"a": 2}, idempotency_key="key-1"
    )
    assert not created and same_key.id == first.id and same_key.payload == {"a": 1}
    elsewhere, created = repos.jobs.create(
        job_id=job_id(), project_id=repos.project_id + "x", kind="search", payload={}, idempotency_key="key-1"
    )
    assert created and elsewhere.id != first.id


def test_child_jobs_are_idempotent_and_roll_progress_up_to_the_parent(repos: Repos) -> None:
    parent = job_id()
    repos.jobs.create(
        job_id=parent, project_id=repos.project_id, kind="enroll_batch", payload={}, idempotency_key=None
    )
    repos.jobs.start(parent, worker="w")
    repos.jobs.set_progress(parent, 0, 5)
    chunks = [f"{parent}.c{i:05d}" for i in range(2)]
    for index, chunk in enumerate(chunks):
        payload = {"parent_job_id": parent, "start": index * 3}
        assert repos.jobs.create_child(
            job_id=chunk, project_id=repos.project_id, kind="enroll_chunk", payload=payload
        )
        assert not repos.jobs.create_child(
            job_id=chunk, project_id=repos.project_id, kind="enroll_chunk", payload=payload
        )
    assert [c.parent_job_id for c in repos.jobs.children(parent)] == [parent, parent]

    repos.jobs.set_progress(chunks[0], 2, 3)
    repos.jobs.refresh_parent_progress(parent)
    assert repos.jobs.get(parent).progress == (2, 5)  # type: ignore[union-attr]

    repos.jobs.succeed(chunks[0], {"items": ["a", "b", "c"]})  # a finished chunk counts in full
    repos.jobs.set_progress(chunks[1], 2, 2)
    repos.jobs.refresh_parent_progress(parent)
    assert repos.jobs.get(parent).progress == (5, 5)  # type: ignore[union-attr]

    found = repos.jobs.get_many([chunks[1], chunks[0], "absent"])
    assert [c.id for c in found] == chunks
    assert [c.status for c in found] == ["succeeded", "pending"]

    # Whether a chunk was its batch's last: ended children only, failed ones included.
    assert repos.jobs.count_final_children(parent) == 1
    repos.jobs.start(chunks[1], worker="w")
    assert repos.jobs.count_final_children(parent) == 1
    repos.jobs.fail(chunks[1], "internal", "boom")
    assert repos.jobs.count_final_children(parent) == 2
    assert repos.jobs.count_final_children(chunks[0]) == 0


def test_concurrent_chunks_see_the_parents_progress_in_the_order_they_wrote_it(repos: Repos) -> None:
    """Two workers' chunks report at once; what each acts on (publishes) under the parent's
    lock never goes backwards, which a read after the update could (a batch's progress
    events came out 36, 35 under load)."""
    parent = job_id()
    repos.jobs.create(job_id=parent, project_id=repos.project_id, kind="enroll_batch", payload={}, idempotency_key=None)
    repos.jobs.start(parent, worker="w")
    repos.jobs.set_progress(parent, 0, 40)
    chunks = [f"{parent}.c{i:05d}" for i in range(2)]
    for chunk in chunks:
        repos.jobs.create_child(job_id=chunk, project_id=repos.project_id, kind="enroll_chunk", payload={}, parent_job_id=parent)
    seen: list[int] = []

    def acted_on(job: Any) -> None:
        time.sleep(0.002)  # a publish takes time: the window in which another chunk could overtake
        seen.append(job.progress_done)

    def work(chunk: str) -> None:
        for done in range(1, 21):
            repos.jobs.set_progress(chunk, done, 20)
            assert repos.jobs.refresh_parent_progress(parent, then=acted_on)

    assert run_together([lambda c=chunk: work(c) for chunk in chunks]) == [None, None]  # type: ignore[misc]
    assert len(seen) == 40 and seen == sorted(seen) and seen[-1] == 40


def test_claim_stale_requeues_dead_running_jobs_once(repos: Repos) -> None:
    dead, alive, finished = job_id(), job_id(), job_id()
    for jid in (dead, alive, finished):
        repos.jobs.create(
            job_id=jid, project_id=repos.project_id, kind="enroll", payload={}, idempotency_key=None
        )
    repos.jobs.start(dead, worker="killed")
    repos.jobs.start(finished, worker="w")
    repos.jobs.succeed(finished, {})
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    repos.jobs.start(alive, worker="healthy")

    claimed = {job.id for job in repos.jobs.claim_stale(cutoff)}
    assert dead in claimed and alive not in claimed and finished not in claimed
    requeued = repos.jobs.get(dead)
    assert requeued is not None and (requeued.status, requeued.worker) == ("pending", None)
    # Claimed jobs got a fresh heartbeat: the same cutoff claims them no more.
    assert dead not in {job.id for job in repos.jobs.claim_stale(cutoff)}

    # A pending job whose message was lost is sent again once a stale period passed.
    later = datetime.now(UTC) + timedelta(seconds=1)
    claimed_later = {job.id for job in repos.jobs.claim_stale(later)}
    assert {dead, alive} <= claimed_later and finished not in claimed_later


def test_a_claim_whose_send_failed_is_released_for_the_next_sweep(repos: Repos) -> None:
    dead = job_id()
    repos.jobs.create(job_id=dead, project_id=repos.project_id, kind="enroll", payload={}, idempotency_key=None)
    repos.jobs.start(dead, worker="killed")
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    assert dead in {job.id for job in repos.jobs.claim_stale(cutoff, include_pending=False)}

    assert repos.jobs.release_claim(dead, stale_since=cutoff - timedelta(seconds=1))
    released = repos.jobs.get(dead)
    assert released is not None and released.status == "running"
    # On a durable broker only running jobs are claimed: the released one is, again.
    assert dead in {job.id for job in repos.jobs.claim_stale(cutoff, include_pending=False)}
    repos.jobs.succeed(dead, {})
    assert not repos.jobs.release_claim(dead, stale_since=cutoff)  # a finished job is left alone


def test_purge_expired_deletes_only_expired_jobs(repos: Repos) -> None:
    kept, expired = job_id(), job_id()
    short_lived = JobRepo(repos.db, ttl_seconds=60)
    for jid in (kept, expired):
        short_lived.create(
            job_id=jid, project_id=repos.project_id, kind="detect", payload={}, idempotency_key=None
        )
    short_lived.succeed(expired, {})
    assert short_lived.purge_expired(datetime.now(UTC)) >= 0
    assert short_lived.get(kept) is not None and short_lived.get(expired) is not None
    assert short_lived.purge_expired(datetime.now(UTC) + timedelta(seconds=120)) >= 2
    assert short_lived.get(kept) is None and short_lived.get(expired) is None


def test_job_referenced_keys_are_those_of_jobs_still_to_run(repos: Repos) -> None:
    queued, done = job_id(), job_id()
    for jid, key in ((queued, "images/queued"), (done, "images/done")):
        repos.jobs.create(
            job_id=jid,
            project_id=repos.project_id,
            kind="enroll",
            payload={"image_key": key, "nested": [{"manifest_key": f"{key}.json"}]},
            idempotency_key=None,
        )
    repos.jobs.succeed(done, {})
    keys = ["images/queued", "images/queued.json", "images/done", "images/none"]
    assert repos.jobs.referenced_keys(keys) == {"images/queued", "images/queued.json"}
    assert repos.jobs.referenced_keys([]) == set()
