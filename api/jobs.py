"""The API side of the job contract: create the row, send the task by name, wait (bounded).

- The job id is new, or derived from the client's ``Idempotency-Key`` (scoped to the
  project), so a retried request finds its first job and sends nothing again.
- The task is sent by name with ``task_id = job id`` through a producer-only Celery app;
  the API never imports the tasks.
- A broker that cannot take the message fails the job row and answers 503 at once.
- Sync calls wait up to ``jobs.sync_wait_seconds`` for the worker's completion push
  (``infra.completion``), re-reading the row on a slow fallback period in case a push is
  lost (or polling with a short backoff where no push channel exists); after that the
  caller answers 202 with the job's URL instead of holding the connection.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from flask import has_request_context, request
from pydantic import BaseModel

from api import probes
from api.errors import ApiError, ApiErrorCode, job_error
from core.errors import DomainError, ErrorCode
from core.jobs import JobKind, JobStatus
from core.messages import INLINE_IMAGES_FIELD, TaskProducer, dispatch
from core.results import JobResult, read_result
from infra.completion import CompletionListener, Push, expecting, wait_for_final
from infra.events import EventPublisher, JobEvent, JobState
from infra.gpu_pool import GpuRouting
from infra.settings import WebhookSettings
from infra.webhooks import CallbackUrlRejected, validate_callback_url

log = logging.getLogger(__name__)

ResultT = TypeVar("ResultT", bound=BaseModel)

CALLBACK_HEADER = "X-Callback-Url"
FIRST_POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.25
# Jobs that write nothing: sending one a second time can only cost a second computation.
READ_ONLY_KINDS = frozenset({JobKind.DETECT, JobKind.COMPARE, JobKind.EMBED, JobKind.SEARCH})


class JobRow(Protocol):
    id: str
    project_id: str
    kind: str
    status: str
    payload: dict[str, Any] | None
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None


class JobStore(Protocol):
    def create(
        self,
        *,
        job_id: str,
        project_id: str,
        kind: str,
        payload: dict[str, Any],
        idempotency_key: str | None,
        callback_url: str | None = None,
    ) -> tuple[Any, bool]: ...

    def get(self, job_id: str) -> Any: ...

    def fail(self, job_id: str, code: str, message: str, details: dict[str, Any] | None = None) -> object: ...


@dataclass(frozen=True)
class JobOutcome:
    """A job as far as this request knows it: finished (result or error) or still going."""

    job: Any
    kind: JobKind
    # The client asked for 202 + job (Prefer: respond-async / ?async=true): answered so
    # even when an idempotent retry finds the job already finished.
    asynchronous: bool = False

    @property
    def job_id(self) -> str:
        return str(self.job.id)

    @property
    def status(self) -> JobStatus:
        return JobStatus(self.job.status)

    @property
    def finished(self) -> bool:
        return self.status.is_final

    @property
    def result(self) -> JobResult:
        """The finished job's result model (what its worker returned)."""
        return read_result(self.kind, self.job.result)

    def result_as(self, model: type[ResultT]) -> ResultT:
        result = self.result
        if not isinstance(result, model):
            raise TypeError(f"a {self.kind.value} job has no {model.__name__}")
        return result

    def error(self) -> ApiError:
        return job_error(
            self.job.error_code, self.job.error_message, self.kind, getattr(self.job, "error_details", None)
        )

    def raise_if_failed(self) -> None:
        if self.status is JobStatus.FAILED:
            raise self.error()

    def failure(self) -> DomainError:
        """The failed job's error in the shared vocabulary, for a front end's own table."""
        code = ErrorCode.parse(self.job.error_code)
        if not code.is_client_error and not code.is_transient:
            code = ErrorCode.INTERNAL  # a deployment fault (an unknown model) is ours, like any bug
        return DomainError(code, self.job.error_message or "", dict(getattr(self.job, "error_details", None) or {}))

    def raise_failure(self) -> None:
        """``raise_if_failed`` for callers below the front ends (``FaceService``)."""
        if self.status is JobStatus.FAILED:
            raise self.failure()


def job_location(project_id: str, job_id: str) -> str:
    return f"/v1/{project_id}/jobs/{job_id}"


def requested_callback_url() -> str | None:
    """The callback a client asked for on this request: the ``X-Callback-Url`` header or
    the ``callback_url`` query parameter, on any endpoint that creates a job."""
    if not has_request_context():
        return None
    return request.headers.get(CALLBACK_HEADER) or request.args.get("callback_url") or None


class JobGateway:
    def __init__(
        self,
        jobs: JobStore,
        producer: TaskProducer,
        sync_wait_seconds: float,
        events: EventPublisher | None = None,
        webhooks: WebhookSettings | None = None,
        gpu: GpuRouting | None = None,
        completions: CompletionListener | None = None,
        fallback_poll_seconds: float = 1.0,
        store: probes.ProbeStore | None = None,
        default_callback_url: Callable[[str], str | None] | None = None,
        release_probes: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.store = store
        self.completions = completions
        self.fallback_poll_seconds = fallback_poll_seconds
        self.producer = producer
        self.sync_wait_seconds = sync_wait_seconds
        self.events = events
        self.webhooks = webhooks or WebhookSettings()
        self.gpu = gpu
        self.default_callback_url = default_callback_url
        self.release_probes = release_probes

    def checked_callback_url(self, url: str | None) -> str | None:
        """Refused at submit time, before anything runs: a callback must not be a way to
        make this service call hosts on its own network (SSRF)."""
        if url is None:
            return None
        try:
            return validate_callback_url(url, self.webhooks)
        except CallbackUrlRejected as refused:
            raise ApiError(
                ApiErrorCode.CALLBACK_URL_REFUSED, f"callback_url refused: {refused.message}"
            ) from refused

    def run(
        self,
        project_id: str,
        kind: JobKind,
        payload: BaseModel,
        *,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> JobOutcome:
        job_id = self.job_id_for(project_id, idempotency_key)
        with expecting(self.completions, job_id) if wait else nullcontext() as pushed:
            job = self.submit(
                project_id, kind, payload, idempotency_key,
                inline_probes=wait, asynchronous=not wait, job_id=job_id,
            )
            if wait and not JobStatus(job.status).is_final:
                registered = pushed if job.id == job_id else None
                job = self.wait(job.id, self.sync_wait_seconds, registered=registered) or job
        return JobOutcome(job, kind, asynchronous=not wait)

    def submit(
        self,
        project_id: str,
        kind: JobKind,
        payload: BaseModel,
        idempotency_key: str | None = None,
        inline_probes: bool = False,
        *,
        asynchronous: bool = False,
        job_id: str | None = None,
    ) -> Any:
        """Create the row and send the task. With ``inline_probes`` (a sync call), held probe
        images of a read-only job travel in the message; otherwise they are stored first.
        An ``asynchronous`` job without a callback of its own gets the project's default.
        ``job_id`` is ``job_id_for``'s, drawn by a caller that registered for its push."""
        job, created, body, inline = self._create(
            project_id, kind, payload, idempotency_key, inline_probes, asynchronous, job_id
        )
        if not created:
            if job.kind != kind.value or (job.payload is not None and job.payload != body):
                raise ApiError(ApiErrorCode.IDEMPOTENCY_KEY_REUSED)
            if kind in READ_ONLY_KINDS and JobStatus(job.status) is JobStatus.PENDING:
                # The API process that created it may have died before sending it (RabbitMQ
                # holds no trace of an unsent message, and housekeeping leaves pending jobs
                # to a durable broker). A read-only job run twice costs a computation: the
                # second run finds the row final and does nothing.
                self._send(kind, job.id, self._message(body, inline))
            if JobStatus(job.status).is_final and self.release_probes is not None:
                # The retry uploaded its probe again, under the first request's key, after
                # the worker had deleted it: nothing will read it now.
                self.release_probes(body)
            return job
        self._announce(project_id, kind, job, body, inline)
        return job

    def run_all(self, project_id: str, kind: JobKind, payloads: list[BaseModel]) -> list[JobOutcome]:
        """Sync jobs of one request, run side by side within one sync deadline. Every row
        exists before any message is sent, so no job can finish and delete a probe they
        share (a release spares keys that pending jobs name) while another, not yet
        created, still needs it."""
        created = [self._create(project_id, kind, payload, None, True, False) for payload in payloads]
        for job, _, body, inline in created:
            self._announce(project_id, kind, job, body, inline)
        deadline = time.monotonic() + self.sync_wait_seconds
        return [
            JobOutcome(self.wait(job.id, max(0.0, deadline - time.monotonic())) or job, kind)
            for job, *_ in created
        ]

    def _create(
        self,
        project_id: str,
        kind: JobKind,
        payload: BaseModel,
        idempotency_key: str | None,
        inline_probes: bool,
        asynchronous: bool,
        job_id: str | None = None,
    ) -> tuple[Any, bool, dict[str, Any], bool]:
        """The job's row (and whether it is new), its payload, and whether its held probes
        travel in the message."""
        body = payload.model_dump(mode="json")
        inline = inline_probes and kind in READ_ONLY_KINDS
        if not inline and self.store is not None:
            # Before the row: a store that cannot take the image fails the request, not the job.
            probes.store_held(self.store, body)
        callback_url = self.checked_callback_url(requested_callback_url())
        if callback_url is None and asynchronous and self.default_callback_url is not None:
            # Checked when it was set, and again before every delivery attempt.
            callback_url = self.default_callback_url(project_id)
        job, created = self.jobs.create(
            job_id=job_id or self.job_id_for(project_id, idempotency_key),
            project_id=project_id,
            kind=kind.value,
            payload=body,
            idempotency_key=idempotency_key,
            callback_url=callback_url,
        )
        return job, created, body, inline

    def _announce(self, project_id: str, kind: JobKind, job: Any, body: dict[str, Any], inline: bool) -> None:
        self._send(kind, job.id, self._message(body, inline))
        if self.events is not None:
            self.events.publish(
                JobEvent.create(
                    job.id,
                    project_id,
                    kind.value,
                    JobState.ACCEPTED,
                    timestamps={"created_at": job.created_at},
                )
            )

    @staticmethod
    def _message(body: dict[str, Any], inline: bool) -> dict[str, Any]:
        """The task's payload: the row's, plus the bytes of held probes when they may ride along."""
        carried = probes.inline_images(body) if inline else {}
        return {**body, INLINE_IMAGES_FIELD: carried} if carried else body

    def _send(self, kind: JobKind, job_id: str, body: dict[str, Any]) -> None:
        try:
            dispatch(self.producer, kind, job_id, body, self.gpu is not None and self.gpu.available())
        except Exception as unreachable:  # any failure to hand the message over means "not started"
            log.warning("could not send job %s (%s): %s", job_id, kind.value, unreachable)
            self.jobs.fail(job_id, ErrorCode.UNAVAILABLE.value, "the job queue was unreachable; nothing ran")
            raise ApiError(ApiErrorCode.BROKER_UNAVAILABLE) from unreachable

    def wait(self, job_id: str, timeout: float, registered: Push | None = None) -> Any:
        """The job row once final, or its latest state when ``timeout`` runs out.
        ``registered``: the push registration ``expecting`` made before the job was sent."""
        return wait_for_final(
            self.jobs.get,
            lambda job: JobStatus(job.status).is_final,
            job_id,
            timeout,
            self.completions,
            fallback_seconds=self.fallback_poll_seconds,
            first_poll=FIRST_POLL_SECONDS,
            max_poll=MAX_POLL_SECONDS,
            registered=registered,
        )

    @staticmethod
    def job_id_for(project_id: str, idempotency_key: str | None) -> str:
        if idempotency_key is None:
            return uuid.uuid4().hex
        # Scoped to the project: the same key in two projects names two jobs, and a job id
        # reveals nothing about another project's keys.
        return hashlib.sha256(f"{project_id}\0{idempotency_key}".encode()).hexdigest()[:32]
