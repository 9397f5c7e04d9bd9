"""How any job runs as a task: state transitions, error classification and retries.

The task bodies in ``workers.tasks`` only name a handler; everything about delivery lives
here, so every job kind gets the same guarantees:

- a redelivered job whose row is already final is a no-op (idempotent consumers);
- domain errors (``PipelineError``, ``JobFailure``) fail fast and are stored on the job;
- transient infrastructure errors are retried with exponential backoff, jitter and a bound,
  and only then stored as ``unavailable``;
- anything else is logged with its traceback and stored as ``internal`` without one.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from core.errors import ErrorCode
from core.jobs import JobKind, JobStatus
from core.messages import INLINE_IMAGES_FIELD
from core.payloads import PAYLOAD_OF_KIND
from core.queues import QUEUE_OF_KIND, QueueName
from infra.db.models import utc_now
from infra.errors import TransientInfraError
from pipelines.errors import PipelineError
from workers import metrics
from workers.errors import JobFailure
from workers.probes import release_probes
from workers.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    job_id: str
    kind: JobKind
    runtime: Runtime
    # Probe images that came in the task message (object key -> bytes), read instead of the store.
    inline_images: Mapping[str, bytes] = field(default_factory=dict)

    def progress(self, done: int, total: int) -> None:
        self.runtime.lifecycle.progress(self.job_id, done, total)


# A handler returns the job's result model, or None when the job completes elsewhere
# (a batch parent is finished by its last chunk).
Handler = Callable[[JobContext, Any], BaseModel | None]
# Called after a job of its kind was marked failed (a batch chunk hands on to the next).
FailureHook = Callable[[JobContext, Any], None]
FAILURE_HOOKS: dict[JobKind, FailureHook] = {}


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff (AWS architecture blog): spreads retries of many
    workers hitting the same recovering dependency. Celery's own ``retry_backoff`` counts
    whole seconds (``get_exponential_backoff_interval`` draws an integer), which would turn
    sub-second backoffs into 0 or 1 s within a 5 s interactive budget; so only the delay is
    computed here, and Celery's ``retry(countdown=...)`` re-schedules the task."""
    return random.uniform(0, min(cap, base * (2**attempt)))


# Kinds whose handler writes nothing: they compute while a helper thread marks their row
# running, since a row found final already (a redelivery) only costs the discarded result.
# The start's round trips then overlap the computation instead of preceding it
# (docs/BENCHMARKS.md, "Thirteenth pass").
COMPUTE_WHILE_STARTING = frozenset({JobKind.DETECT, JobKind.COMPARE, JobKind.EMBED, JobKind.SEARCH})


def run_job(task: Task, job_id: str, kind: JobKind, raw_payload: dict[str, Any], handler: Handler) -> None:
    runtime = get_runtime()
    # Celery's request is thread-local: read here, for the start that may run on a helper.
    request = task.request
    received = time.time()

    def start() -> Any:
        started = runtime.lifecycle.start(job_id, worker=request.hostname or "worker")
        if started is not None:
            metrics.job_started(kind.value, request, received)
        return started

    try:
        fields, inline = split_inline_images(raw_payload)

        def compute() -> BaseModel | None:
            payload = PAYLOAD_OF_KIND[kind].model_validate(fields)
            return handler(JobContext(job_id, kind, runtime, inline), payload)

        if kind in COMPUTE_WHILE_STARTING:
            started, result = compute_while_starting(runtime, start, compute)
        else:
            started = start()
            result = None if started is None else compute()
        if started is None:
            _log_nothing_to_run(runtime.jobs, job_id, kind)
            return
    except Retry:
        raise
    except PipelineError as error:
        _fail(runtime, job_id, str(error.code), error.message)
    except JobFailure as error:
        _fail(runtime, job_id, error.code.value, error.message, error.details)
    except (TransientInfraError, DBAPIError) as error:
        _retry_or_give_up(task, runtime, job_id, kind, error)
    except SoftTimeLimitExceeded:
        _fail(runtime, job_id, ErrorCode.INTERNAL.value, "the job ran past its time limit")
    except Exception:
        log.exception("job %s (%s) failed unexpectedly", job_id, kind)
        _fail(runtime, job_id, ErrorCode.INTERNAL.value, "internal error while processing the job")
    else:
        if result is not None:
            runtime.lifecycle.succeed(job_id, result)
            release_probes(runtime, raw_payload, carried=inline)
        return
    _after_failure(runtime, job_id, kind, raw_payload)


def compute_while_starting(
    runtime: Runtime, start: Callable[[], Any], compute: Callable[[], BaseModel | None]
) -> tuple[Any, BaseModel | None]:
    """What ``start`` returned (the running row; None: nothing to run) and what ``compute``
    returned, ``start`` run on a helper thread meanwhile. The row decides: the start's own
    error wins over the computation's, and a row that was final already discards both."""
    starting = runtime.job_starts.submit(start)
    try:
        result = compute()
    except Exception:
        if starting.result() is None:
            return None, None
        raise
    started = starting.result()
    return (started, result) if started is not None else (None, None)


def _log_nothing_to_run(jobs: Any, job_id: str, kind: JobKind) -> None:
    job = jobs.get(job_id)
    if job is None:
        log.warning("job %s (%s) has no row: expired or never created; dropping", job_id, kind)
    else:
        log.info("job %s already %s: redelivery is a no-op", job_id, job.status)


def split_inline_images(raw_payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The job's own fields, and the probe images the message carried (never mutates the
    message: a retry re-sends it as it came)."""
    carried = raw_payload.get(INLINE_IMAGES_FIELD) or {}
    fields = {name: value for name, value in raw_payload.items() if name != INLINE_IMAGES_FIELD}
    # Bytes from a msgpack message; base64 text from a JSON one queued by an earlier release.
    return fields, {
        key: data if isinstance(data, bytes) else base64.b64decode(data) for key, data in carried.items()
    }


def _after_failure(runtime: Runtime, job_id: str, kind: JobKind, raw_payload: dict[str, Any]) -> None:
    raw_payload, inline = split_inline_images(raw_payload)
    hook = FAILURE_HOOKS.get(kind)
    job = runtime.jobs.get(job_id)
    if job is not None and JobStatus(job.status) is JobStatus.FAILED:
        release_probes(runtime, raw_payload, carried=inline)
    if hook is None or job is None or JobStatus(job.status) is not JobStatus.FAILED:
        return  # no hook, or a retry was scheduled instead
    try:
        hook(JobContext(job_id, kind, runtime), PAYLOAD_OF_KIND[kind].model_validate(raw_payload))
    except Exception:  # the failure is recorded; housekeeping re-runs what is left
        log.exception("failure hook of job %s (%s) failed", job_id, kind)


def _retry_or_give_up(task: Task, runtime: Runtime, job_id: str, kind: JobKind, error: Exception) -> None:
    settings = runtime.settings.jobs
    attempt = task.request.retries
    if isinstance(error, DBAPIError) and not error.connection_invalidated:
        # A real SQL error (constraint, syntax) is a bug, not an outage.
        log.exception("job %s hit a database error", job_id)
        _fail(runtime, job_id, ErrorCode.INTERNAL.value, "internal error while processing the job")
        return
    delay = retry_delay(attempt, settings.retry_backoff_seconds, settings.retry_backoff_max_seconds)
    out_of_budget = QUEUE_OF_KIND[kind] is QueueName.INTERACTIVE and _age_seconds(runtime, job_id) + delay > (
        settings.interactive_retry_budget_seconds
    )
    if attempt >= settings.max_retries or out_of_budget:
        log.warning("job %s gives up after %d retries: %s", job_id, attempt, error)
        _fail(runtime, job_id, ErrorCode.UNAVAILABLE.value, f"a storage service stayed unavailable: {error}")
        return
    log.info("job %s: transient error (%s); retry %d in %.1fs", job_id, error, attempt + 1, delay)
    raise task.retry(exc=error, countdown=delay, max_retries=settings.max_retries)


def _age_seconds(runtime: Runtime, job_id: str) -> float:
    try:
        job = runtime.jobs.get(job_id)
    except DBAPIError:
        return 0.0  # the database is the thing that is down: keep the normal retry schedule
    return 0.0 if job is None else (utc_now() - job.created_at).total_seconds()


def _fail(
    runtime: Runtime, job_id: str, code: str, message: str, details: dict[str, Any] | None = None
) -> None:
    try:
        runtime.lifecycle.fail(job_id, code, message, details)
    except DBAPIError:
        # The job row cannot be written: let the broker redeliver rather than lose the outcome.
        log.exception("could not record failure of job %s", job_id)
        raise
