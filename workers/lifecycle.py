"""Job state transitions, each followed by its event (and, when final, its webhook).

Every transition a worker makes goes through here, so the jobs table, the
``facefleet.events`` exchange and callbacks can never disagree about what happened.
The row is written first: it is the source of truth, and publishing is best effort
(``infra.events`` never raises), so a broken event bus cannot fail a job. A final row is
then pushed to the API process that may be waiting on it (``infra.completion``), before
events and webhooks, because a person may be waiting on that one.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from core.jobs import WEBHOOK_TASK, JobKind
from core.queues import PRIORITY_OF_QUEUE, QueueName
from infra.completion import CompletionNotifier
from infra.events import EventPublisher, JobEvent, JobState
from workers import metrics

log = logging.getLogger(__name__)

# Chunks of a batch are an implementation detail: clients see the batch job's events.
INTERNAL_KINDS = frozenset({JobKind.ENROLL_CHUNK.value})


class JobLifecycle:
    def __init__(
        self, jobs: Any, events: EventPublisher, producer: Any, completions: CompletionNotifier | None = None
    ) -> None:
        self.jobs = jobs
        self.completions = completions
        self.events = events
        self.producer = producer

    def start(self, job_id: str, worker: str) -> Any:
        """Mark the job running and announce it; returns its row, or None when there is
        nothing to run (the job is final already, or has no row)."""
        job = self.jobs.start(job_id, worker=worker)
        if job is not None:
            self._emit(job, JobState.RUNNING)
        return job

    def progress(self, job_id: str, done: int, total: int) -> None:
        self.jobs.set_progress(job_id, done, total)
        self._publish(job_id, JobState.PROGRESS, progress=(done, total))

    def parent_progress(self, parent_job_id: str) -> None:
        def publish(job: Any) -> None:
            if job.progress_total:
                self._emit(job, JobState.PROGRESS, progress=(job.progress_done, job.progress_total))

        # Published under the parent row's lock: chunks in different workers report in turn.
        self.jobs.refresh_parent_progress(parent_job_id, then=publish)

    def succeed(self, job_id: str, result: BaseModel) -> None:
        # The first outcome wins; a second finisher (a re-sent parent racing its last chunk)
        # must not publish a second event or webhook, nor count the job twice.
        job = self.jobs.succeed(job_id, result.model_dump(mode="json"))
        if job is not None:
            self._finished(job, JobState.SUCCEEDED)

    def succeed_internal(self, job_id: str, result: BaseModel) -> None:
        """Finish an internal job (a batch chunk): no one waits on it and it has no events
        or callback, but it is counted like any other, as the database counts it."""
        job = self.jobs.succeed(job_id, result.model_dump(mode="json"))
        if job is not None:
            _count_finished(job)

    def fail(self, job_id: str, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        job = self.jobs.fail(job_id, code, message, details)
        if job is not None:
            self._finished(job, JobState.FAILED)

    def _finished(self, job: Any, state: JobState) -> None:
        """``job`` is the final row the transition returned: the push, the count, the
        event and the callback all describe that one state."""
        if self.completions is not None:
            self.completions.notify(job.id)
        _count_finished(job)
        self._emit(job, state)
        if getattr(job, "callback_url", None):
            try:
                self.producer.send_task(
                    WEBHOOK_TASK,
                    args=[job.id],
                    queue=QueueName.MAINTENANCE.value,
                    priority=PRIORITY_OF_QUEUE[QueueName.MAINTENANCE],
                )
            except Exception:  # the job itself is done; a lost callback is recorded as undelivered
                log.exception("could not enqueue the webhook of job %s", job.id)

    def _publish(self, job_id: str, state: JobState, progress: tuple[int, int] | None = None) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            self._emit(job, state, progress)

    def _emit(self, job: Any, state: JobState, progress: tuple[int, int] | None = None) -> None:
        if job.kind in INTERNAL_KINDS:
            return
        self.events.publish(final_event(job, state, progress))


def _count_finished(job: Any) -> None:
    metrics.job_finished(
        job.kind, job.status, getattr(job, "started_at", None), getattr(job, "finished_at", None)
    )


def final_event(job: Any, state: JobState | None = None, progress: tuple[int, int] | None = None) -> JobEvent:
    """The event describing ``job`` now (its final state unless ``state`` says otherwise)."""
    state = state or JobState(job.status)
    error = (job.error_code, job.error_message or "") if state is JobState.FAILED and job.error_code else None
    return JobEvent.create(
        job.id,
        job.project_id,
        job.kind,
        state,
        progress=progress,
        error=error,
        result=job.result if state is JobState.SUCCEEDED else None,
        timestamps={
            "created_at": getattr(job, "created_at", None),
            "started_at": getattr(job, "started_at", None),
            "finished_at": getattr(job, "finished_at", None),
        },
    )
