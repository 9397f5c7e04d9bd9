"""What every dialect shares: one failure vocabulary, jobs run to the end, image intake,
numeric ids and view wrapping.

A dialect never renders FaceFleet's own ``FRS.xxxx`` errors: every failure (a service's
``DomainError``, a shared ``ApiError``, a failed job, a job still running at the sync deadline, an unexpected bug)
becomes a ``Failure`` with a ``core.errors.ErrorCode``, and each dialect maps codes to its
document's codes in one table.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Response, g
from pydantic import BaseModel
from werkzeug.datastructures import FileStorage

from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.images import decode_base64_image, read_limited
from api.input_bounds import InputRefused
from api.jobs import JobOutcome, ResultT
from core.errors import IMAGE_ERRORS, DomainError, ErrorCode
from core.jobs import JobKind, JobStatus
from core.payloads import EnrollOptions
from core.results import DeleteFacesResult, EnrolledFace, EnrollResult, Match, SearchResult

log = logging.getLogger(__name__)

SCAN_PAGE = 1000


# The request's image was at fault: every dialect answers these with its "bad image" code.
IMAGE_REASONS = IMAGE_ERRORS


def server_error_status(code: ErrorCode) -> int:
    """The 5xx of a failure that no dialect table names: 503 when retrying may help."""
    return 503 if code.is_transient else 500


@dataclass
class Failure(Exception):
    reason: ErrorCode
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    argument: str | None = None  # the request parameter at fault, when there is one

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.message}"


def failure_of(error: Exception) -> Failure:
    """Any exception raised while serving a dialect request, as a ``Failure``."""
    if isinstance(error, Failure):
        return error
    if isinstance(error, InputRefused):
        return Failure(ErrorCode.INVALID_ARGUMENT, error.message, argument=error.argument)
    if isinstance(error, DomainError):
        return Failure(error.code, error.message, dict(error.details))
    if isinstance(error, ApiError):  # the job gateway's own refusals (the job queue unreachable...)
        return Failure(error.code.spec.core_code, error.message, dict(error.details))
    log.exception("unexpected error in a dialect request")
    return Failure(ErrorCode.INTERNAL, "internal error")


def dialect_view(
    render_failure: Callable[[Failure], Response],
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a view so that nothing but the dialect's own error format ever leaves it."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except Exception as error:  # noqa: BLE001  # every failure is rendered in the dialect's shape
                return render_failure(failure_of(error))

        return wrapped

    return decorate


def bind_project(project_id: str) -> None:
    """Marks the request as acting for ``project_id`` (what native auth sets too)."""
    g.project_id = project_id


# ---------------------------------------------------------------------------- jobs


def _failure_of_job(outcome: JobOutcome) -> Failure:
    error = outcome.failure()
    return Failure(error.code, error.message, error.details)


def finish(outcome: JobOutcome, model: type[ResultT]) -> ResultT:
    """The job's result model, or a ``Failure`` for a failed job or one still running."""
    if not outcome.finished:
        raise Failure(ErrorCode.TIMEOUT, f"job {outcome.job_id} is still {outcome.status.value}")
    if outcome.status is JobStatus.FAILED:
        raise _failure_of_job(outcome)
    return outcome.result_as(model)


def run_job(project_id: str, kind: JobKind, payload: BaseModel, model: type[ResultT]) -> ResultT:
    return finish(current_context().gateway.run(project_id, kind, payload, wait=True), model)


def run_jobs(
    project_id: str, kind: JobKind, payloads: list[BaseModel], model: type[ResultT]
) -> list[ResultT]:
    """Every job sent first, then each waited for, all within one sync deadline."""
    outcomes = current_context().gateway.run_all(project_id, kind, payloads)
    return [finish(outcome, model) for outcome in outcomes]


# ---------------------------------------------------------------------------- inputs


def store_upload(upload: FileStorage | None, argument: str, probe: bool = False, named: bool = False) -> str:
    """Store an uploaded file once; its object key. A ``probe`` (an image only detected,
    searched or compared) goes under its request's probe key and leaves the store with its
    job, as the native API's do; a ``named`` one stays as long as a token names it."""
    if upload is None:
        raise Failure(ErrorCode.MISSING_ARGUMENT, f"{argument} is required", argument=argument)
    intake = current_context().intake
    data = read_limited(upload.stream, intake.max_bytes, argument)
    if not data:
        raise Failure(ErrorCode.EMPTY_IMAGE, f"{argument} is empty", argument=argument)
    return intake.put(data, probe=probe, named=named)


def store_base64(text: str | None, argument: str, probe: bool = False) -> str:
    if text is None or not text.strip():
        raise Failure(ErrorCode.MISSING_ARGUMENT, f"{argument} is required", argument=argument)
    intake = current_context().intake
    try:
        data = decode_base64_image(text, intake.max_bytes, argument)
    except ApiError as bad:
        reason = (
            ErrorCode.IMAGE_TOO_LARGE if bad.code is ApiErrorCode.IMAGE_TOO_LARGE else ErrorCode.INVALID_IMAGE
        )
        raise Failure(reason, bad.message, argument=argument) from bad
    return intake.put(data, probe=probe)


def file_extension(upload: FileStorage) -> str:
    name = upload.filename or ""
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


# ---------------------------------------------------------------------------- faces


def new_numeric_id(project_id: str, face_set_id: str, upper: int) -> int:
    """A random id in [1, upper) that no face of the set uses as its external_image_id
    (dialects whose documents number faces keep that number there)."""
    faces = current_context().faces
    while True:
        candidate = secrets.randbelow(upper - 1) + 1
        if not faces.find_by_external_image_id(project_id, face_set_id, str(candidate)):
            return candidate


def all_faces(project_id: str, face_set_id: str) -> Iterator[Any]:
    faces = current_context().faces
    offset = 0
    while True:
        page = list(faces.list(project_id, face_set_id, offset=offset, limit=SCAN_PAGE))
        yield from page
        if len(page) < SCAN_PAGE:
            return
        offset += SCAN_PAGE


def faces_of_user(project_id: str, face_set_id: str, user_id: str) -> list[Any]:
    """The faces one user id owns. Uses the repository's indexed lookup when it has one,
    otherwise scans the set page by page."""
    faces = current_context().faces
    finder = getattr(faces, "find_by_user_id", None)
    if callable(finder):
        return list(finder(project_id, face_set_id, user_id))
    return [face for face in all_faces(project_id, face_set_id) if face.user_id == user_id]


def ensure_face_set(project_id: str, name: str) -> Any:
    """The named face set, created on first use (dialects have no create call)."""
    service = current_context().service
    existing = service.face_sets.get_by_name(project_id, name)
    if existing is not None:
        return existing
    try:
        # The seeds' clients expect the raw dlib descriptor and its Euclidean thresholds.
        return service.create_face_set(
            project_id, name, None, {}, current_context().settings.pipeline.embedding_model
        )
    except DomainError as raced:
        if raced.code is ErrorCode.FACE_SET_EXISTS:
            return service.face_set(project_id, name)
        raise


def enroll_face(
    project_id: str,
    face_set_name: str,
    image_key: str,
    external_image_id: str,
    user_id: str,
    options: EnrollOptions | None = None,
) -> list[EnrolledFace]:
    """Enroll a face of an image under the dialect's id and user, synchronously. By default
    the one face of the image: the documents' "register" calls refuse several faces."""
    outcome = current_context().service.add_faces(
        project_id,
        face_set_name,
        image_key,
        external_image_id=external_image_id,
        external_fields={},
        user_id=user_id,
        options=options or EnrollOptions(select="single"),
        wait=True,
        idempotency_key=None,
    )
    return finish(outcome, EnrollResult).faces


def matching_face(project_id: str, face_set_name: str, image_key: str) -> Match | None:
    """The stored face that matches the image's largest face: the closest one, if it lies
    within the match distance of the face set's model."""
    outcome = current_context().service.search(
        project_id,
        face_set_name,
        image_key=image_key,
        face_id=None,
        options={"top_n": 1, "threshold": 0.0},
        wait=True,
        idempotency_key=None,
    )
    found = finish(outcome, SearchResult)
    best = found.matches()
    if not best or found.match_distance is None or best[0].distance > found.match_distance:
        return None
    return best[0]


def delete_face_ids(project_id: str, face_set: Any, face_ids: list[str]) -> int:
    if not face_ids:
        return 0
    outcome = current_context().service.delete_faces(
        project_id, face_set, face_ids, wait=True, idempotency_key=None
    )
    return finish(outcome, DeleteFacesResult).deleted


def form_value(values: Any, name: str) -> str | None:
    """A parameter as the dialect clients send it (form body, also on GET/DELETE, or the
    query string); blank counts as absent."""
    value = values.get(name)
    if value is None:
        return None
    value = str(value)
    if "\x00" in value:  # no store holds NUL; refused here, not as a database error
        raise InputRefused(name, "must not contain NUL characters")
    return value if value.strip() else None
