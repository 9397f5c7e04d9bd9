"""Dialect of seed 002 (Facenet web API): ``/detect``, ``/search``, ``/addface``,
``/removeface``, error codes 1001-1007.

No auth in the document: off unless ``dialects.d002_project_id`` binds it to a project;
its face set is ``dialects.d002_face_set`` (created on first use).

face_token
    24 characters: 22 random ones naming the job that saw the face (its idempotency key,
    so the job row in SQL is the "temporary store", shared by every API process and
    expiring after ``dialects.d002_token_ttl_seconds``) and 2 that number the face in that
    job's result. ``/addface`` stores the face with the token as its ``external_image_id``
    (and ``face_name`` as its ``user_id``), so a saved token never expires.
Spelling
    The document spells the flag ``sucess``, the add answer's name ``face_neme`` and the
    original server sent ``threshlod``. Answers carry both spellings of each
    (``sucess`` + ``success`` ...), so clients reading either keep working.
Status
    Every answer is HTTP 200, errors included, as the original server answered;
    ``error_code`` is a string ("1002"), as it sent it.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.context import current_context
from api.dialects.common import (
    IMAGE_REASONS,
    Failure,
    bind_project,
    delete_face_ids,
    dialect_view,
    enroll_face,
    ensure_face_set,
    file_extension,
    finish,
    form_value,
    store_upload,
)
from api.input_bounds import bounded_text, native_user_id
from core.errors import ErrorCode
from core.jobs import JobKind, JobStatus
from core.payloads import DetectPayload, EnrollOptions
from core.results import (
    Box,
    DetectedFace,
    DetectResult,
    JobResult,
    Match,
    SearchGroup,
    SearchResult,
    read_result,
)
from infra.errors import ObjectNotFound
from infra.settings import DialectSettings

ALPHABET = string.ascii_letters + string.digits
JOB_PART = 22
ALLOWED_EXTENSIONS = frozenset({"jpg", "jpeg", "png"})
SEARCH_TOP_N = 1000  # "every face under the threshold"; the worker caps candidates at 1000
IDEMPOTENCY_PREFIX = "d002:"

ERRORS = {
    "1001": "BAD_ARGUMENTS",
    "1002": "MISSING_ARGUMENTS",
    "1003": "INTERNAL_ERROR",
    "1004": "FIlE_ERROR",
    "1005": "UPLOAD_ERROR",
    "1006": "FACE_TOKEN_ERROR",
    "1007": "FACE_INFO_ERROR",
}
# The error_code of each failure (always with HTTP 200); codes not named here are ours, 1003.
CODE_OF_REASON: dict[ErrorCode, str] = {
    ErrorCode.INVALID_ARGUMENT: "1001",
    ErrorCode.INVALID_EXTERNAL_FIELDS: "1001",
    ErrorCode.INVALID_SORT: "1001",
    ErrorCode.FACE_SET_EXISTS: "1001",
    ErrorCode.FACE_SET_LIMIT: "1001",
    ErrorCode.JOB_NOT_FOUND: "1001",
    ErrorCode.MISSING_ARGUMENT: "1002",
    **{reason: "1004" for reason in IMAGE_REASONS},
    ErrorCode.EMPTY_IMAGE: "1005",
    ErrorCode.FACE_NOT_FOUND: "1006",
    ErrorCode.NO_FACE: "1007",
}


def error_code_of(reason: ErrorCode) -> str:
    return CODE_OF_REASON.get(reason, "1003")


def render_failure(failure: Failure) -> Response:
    code = error_code_of(failure.reason)
    return jsonify({"sucess": False, "success": False, "error_code": code, "error_msg": ERRORS[code]})


def _ok(**fields: Any) -> Response:
    return jsonify({"sucess": True, "success": True, **fields})


def _base62(number: int) -> str:
    return ALPHABET[number // len(ALPHABET)] + ALPHABET[number % len(ALPHABET)]


def _index_of(text: str) -> int | None:
    try:
        return ALPHABET.index(text[0]) * len(ALPHABET) + ALPHABET.index(text[1])
    except ValueError:
        return None


def _faces_of_result(result: JobResult) -> list[DetectedFace]:
    """The faces a token-issuing job saw, in token order: a detect job's faces, or the
    probes of a search over every face."""
    if isinstance(result, SearchResult):
        return result.probe_faces()
    if isinstance(result, DetectResult):
        return list(result.faces)
    return []


class TokenStore:
    def __init__(self, project_id: str, settings: DialectSettings) -> None:
        self.project_id = project_id
        self.ttl_seconds = settings.d002_token_ttl_seconds

    @staticmethod
    def new_job_part() -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(JOB_PART))

    @staticmethod
    def idempotency_key(job_part: str) -> str:
        return IDEMPOTENCY_PREFIX + job_part

    @staticmethod
    def token(job_part: str, index: int) -> str:
        return job_part + _base62(index)

    def resolve(self, token: str) -> tuple[str, Box, int]:
        """(image key, bounding box, faces in that image) of a temporary token."""
        unknown = Failure(ErrorCode.FACE_NOT_FOUND, "unknown or expired face_token")
        index = _index_of(token[JOB_PART:]) if len(token) == JOB_PART + 2 else None
        if index is None or not token.isalnum():
            raise unknown
        ctx = current_context()
        job = ctx.jobs.get(ctx.gateway.job_id_for(self.project_id, self.idempotency_key(token[:JOB_PART])))
        if job is None or job.project_id != self.project_id or job.status != JobStatus.SUCCEEDED.value:
            raise unknown
        created = job.created_at if job.created_at.tzinfo else job.created_at.replace(tzinfo=UTC)
        if (datetime.now(UTC) - created).total_seconds() > self.ttl_seconds:
            raise unknown
        faces = _faces_of_result(read_result(job.kind, job.result))
        image_key = (job.payload or {}).get("image_key")
        if index >= len(faces) or not image_key:
            raise unknown
        return str(image_key), faces[index].bounding_box, len(faces)


def _probe_box(group: SearchGroup) -> Box:
    # An image search shows every probe face; only a search by a stored face has none.
    assert group.face is not None
    return group.face.bounding_box


def _probe_area(group: SearchGroup) -> int:
    box = _probe_box(group)
    return box.width * box.height


def _nearest(boxes: list[Box], wanted: Box) -> int:
    def offset(box: Box) -> int:
        return sum(abs(a - b) for a, b in zip(box.xywh(), wanted.xywh(), strict=True))

    return min(range(len(boxes)), key=lambda i: offset(boxes[i]))


def _threshold(values: Any) -> tuple[str, float]:
    text = form_value(values, "threshold")
    if text is None:
        raise Failure(ErrorCode.MISSING_ARGUMENT, "threshold is required", argument="threshold")
    bounded_text(text, "threshold", 64)
    try:
        return text, float(text)
    except ValueError as bad:
        raise Failure(ErrorCode.INVALID_ARGUMENT, "threshold must be a number", argument="threshold") from bad


def _token(values: Any) -> str | None:
    """A face_token as this dialect issues them (24 ASCII letters and digits); any other
    value names no face (1006) and never reaches a lookup."""
    token = form_value(values, "face_token")
    if token is not None and not (len(token) == JOB_PART + 2 and token.isascii() and token.isalnum()):
        raise Failure(ErrorCode.FACE_NOT_FOUND, "unknown or expired face_token", argument="face_token")
    return token


def _store_image() -> str:
    """The image of a detect or search: a probe, but one its face tokens name until they
    expire (a search by token, /addface), so it stays until then (``core.probes``)."""
    upload = request.files.get("image_file")
    if upload is not None and upload.filename and file_extension(upload) not in ALLOWED_EXTENSIONS:
        raise Failure(ErrorCode.UNSUPPORTED_FORMAT, "only JPG and PNG files", argument="image_file")
    return store_upload(upload, "image_file", named=True)


def _enrollable(image_key: str) -> str:
    """An enrolled face keeps its image under the image's content key, not under a probe's,
    which reconciliation removes once the token has expired."""
    ctx = current_context()
    try:
        data = ctx.store.get(image_key)
    except ObjectNotFound as gone:
        raise Failure(ErrorCode.FACE_NOT_FOUND, "unknown or expired face_token") from gone
    return ctx.intake.put(data)


def blueprint(project_id: str, settings: DialectSettings) -> Blueprint:
    bp = Blueprint("dialect_002", __name__)
    tokens = TokenStore(project_id, settings)
    face_set_name = settings.d002_face_set

    def stored(token: str) -> list[Any]:
        face_set = current_context().service.face_sets.get_by_name(project_id, face_set_name)
        if face_set is None:  # created by the first accepted /addface or /search only
            return []
        return list(current_context().faces.find_by_external_image_id(project_id, face_set.id, token))

    def search(image_key: str | None, face_id: str | None, job_part: str | None) -> SearchResult:
        face_set = ensure_face_set(project_id, face_set_name)  # every argument was accepted by now
        options = {"top_n": SEARCH_TOP_N, "threshold": 0.0, "all_faces": image_key is not None}
        outcome = current_context().service.search(
            project_id,
            face_set_name,
            image_key=image_key,
            face_id=face_id,
            options=options,
            wait=True,
            idempotency_key=tokens.idempotency_key(job_part) if job_part else None,
            face_set=face_set,
        )
        return finish(outcome, SearchResult)

    def cmp_result(matches: list[Match], probe_token: str, threshold: float) -> list[dict[str, Any]]:
        return [
            {
                "face_token": match.external_image_id,
                "distant": match.distance,
                "face_name": match.user_id or "",
            }
            for match in matches
            if match.distance <= threshold and match.external_image_id != probe_token
        ]

    @bp.post("/detect")
    @dialect_view(render_failure)
    def detect() -> Response:
        bind_project(project_id)
        image_key = _store_image()
        job_part = tokens.new_job_part()
        outcome = current_context().gateway.run(
            project_id,
            JobKind.DETECT,
            DetectPayload(image_key=image_key),
            wait=True,
            idempotency_key=tokens.idempotency_key(job_part),
        )
        faces = []
        for index, found in enumerate(finish(outcome, DetectResult).faces):
            token = tokens.token(job_part, index)
            left, top, right, bottom = found.bounding_box.corners()
            faces.append(
                {
                    "face_token": token,
                    "face_name": f"{token}.jpg",
                    "top_left": [left, top],
                    "bottom_right": [right, bottom],
                }
            )
        return _ok(face_num=len(faces), faces=faces)

    @bp.route("/search", methods=["GET", "POST"])
    @dialect_view(render_failure)
    def search_faces() -> Response:
        bind_project(project_id)
        if request.method == "POST":
            threshold_text, threshold = _threshold(request.form)
            image_key = _store_image()
            job_part = tokens.new_job_part()
            probes = search(image_key, None, job_part).results or []
            if not probes:
                raise Failure(ErrorCode.NO_FACE, "no face in image_file")
            largest = max(range(len(probes)), key=lambda i: _probe_area(probes[i]))
            probe_token = tokens.token(job_part, largest)
            matches = probes[largest].faces
        else:
            probe_token = _token(request.args) or ""
            if not probe_token:
                raise Failure(ErrorCode.MISSING_ARGUMENT, "face_token is required", argument="face_token")
            threshold_text, threshold = _threshold(request.args)
            saved = stored(probe_token)
            if saved:
                matches = search(None, saved[0].face_id, None).matches()
            else:
                image_key, box, _ = tokens.resolve(probe_token)
                groups = search(image_key, None, None).results or []
                chosen = _nearest([_probe_box(group) for group in groups], box)
                matches = groups[chosen].faces
        return _ok(
            face_token=probe_token,
            threshold=threshold_text,
            threshlod=threshold_text,
            cmp_result=cmp_result(matches, probe_token, threshold),
        )

    @bp.get("/addface")
    @dialect_view(render_failure)
    def add_face() -> Response:
        bind_project(project_id)
        token = _token(request.args)
        if token is None:
            raise Failure(ErrorCode.MISSING_ARGUMENT, "face_token is required", argument="face_token")
        name = form_value(request.args, "face_name") or "unknown"
        native_user_id(
            bounded_text(name, "face_name", 128), "face_name"
        )  # refused (1001) before anything is stored
        if stored(token):  # already saved: adding again changes nothing
            return _ok(face_token=token, face_neme=name, face_name=name)
        image_key, box, face_count = tokens.resolve(token)
        image_key = _enrollable(image_key)
        ensure_face_set(project_id, face_set_name)
        # Only the token's face, found again by its box, is enrolled.
        options = EnrollOptions(select="largest" if face_count == 1 else "all", box=box.xywh())
        enroll_face(project_id, face_set_name, image_key, token, name, options)
        return _ok(face_token=token, face_neme=name, face_name=name)

    @bp.get("/removeface")
    @dialect_view(render_failure)
    def remove_face() -> Response:
        bind_project(project_id)
        token = _token(request.args)
        if token is None:
            raise Failure(ErrorCode.MISSING_ARGUMENT, "face_token is required", argument="face_token")
        rows = stored(token)
        if not rows:
            raise Failure(ErrorCode.FACE_NOT_FOUND, "face_token is not in the face set")
        delete_face_ids(project_id, ensure_face_set(project_id, face_set_name), [row.face_id for row in rows])
        return _ok(face_token=token)

    return bp
