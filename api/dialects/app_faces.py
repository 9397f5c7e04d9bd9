"""Dialect of seed 001: ``/api/face``, ``/api/singleface``, ``/api/similarity``,
``/api/detection``, ``/api/match`` and ``/api/living``, with ``msg_code`` 1-8.

Mapping (docs/DIALECTS.md):
- An external app ``Apid`` is the FaceFleet project named ``d001-app-<Apid>``; ``Kvalue``
  is an API key of that project. Unknown app -> 3, any other key -> 2, so an app's key can
  never reach another app's data.
- The app's faces live in its face set ``d001``. ``Fid`` is a number kept as the face's
  ``external_image_id``; ``Fname`` is the face's ``user_id``.
- Parameters are read from the form body on every method (the document's clients send
  ``requests.get(url, data=...)``), then from the query string.
- Every answer is HTTP 200; the outcome is ``msg_code``.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.auth_limits import AuthThrottled, authenticate_limited
from api.context import current_context
from api.dialects.common import (
    IMAGE_REASONS,
    Failure,
    all_faces,
    bind_project,
    delete_face_ids,
    dialect_view,
    enroll_face,
    ensure_face_set,
    form_value,
    new_numeric_id,
    run_job,
    run_jobs,
    server_error_status,
    store_base64,
)
from api.input_bounds import bounded_text, is_ascii_integer, native_user_id
from core.errors import ErrorCode
from core.jobs import JobKind
from core.payloads import ComparePayload, DetectPayload, LivenessPayload
from core.results import CompareResult, DetectResult, LivenessResult

PROJECT_NAME_PREFIX = "d001-app-"
FACE_SET_NAME = "d001"
MAX_FID = 2**31  # the original numbered faces with a database auto-increment
DEFAULT_THRESHOLD = 0.6
ACTIONS = {"1": "blink", "2": "mouth_open"}

OK = 1
WRONG_KEY = 2
NO_APP = 3
BAD_IMAGE = 4
NO_FACE = 5
MULTIPLE_FACES = 6
NO_SUCH_FACE = 7
BAD_VIDEO = 8

# The msg_code of each failure; a missing Fid reads as an unknown face (NO_SUCH_FACE), any
# other missing argument as a bad image. Codes not named here are ours: a real 5xx.
CODE_OF_REASON: dict[ErrorCode, int] = {
    ErrorCode.NO_FACE: NO_FACE,
    ErrorCode.MULTIPLE_FACES: MULTIPLE_FACES,
    ErrorCode.FACE_NOT_FOUND: NO_SUCH_FACE,
    ErrorCode.INVALID_VIDEO: BAD_VIDEO,
    ErrorCode.MISSING_ARGUMENT: BAD_IMAGE,
    # The document's only code for a refused request is BAD_IMAGE.
    ErrorCode.INVALID_ARGUMENT: BAD_IMAGE,
    ErrorCode.INVALID_EXTERNAL_FIELDS: BAD_IMAGE,
    ErrorCode.INVALID_SORT: BAD_IMAGE,
    ErrorCode.FACE_SET_EXISTS: BAD_IMAGE,
    ErrorCode.FACE_SET_LIMIT: BAD_IMAGE,
    ErrorCode.JOB_NOT_FOUND: BAD_IMAGE,
    **{reason: BAD_IMAGE for reason in IMAGE_REASONS},
}


class Refused(Failure):
    """An answer the table names directly (2, 3, 7)."""

    def __init__(self, msg_code: int, retry_after: int | None = None) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, f"msg_code {msg_code}")
        self.msg_code = msg_code
        self.retry_after = retry_after  # too many failed keys from this address: 429


def render_failure(failure: Failure) -> Response:
    if isinstance(failure, Refused):
        response = jsonify({"msg_code": failure.msg_code})
        if failure.retry_after is not None:
            response.status_code = 429
            response.headers["Retry-After"] = str(failure.retry_after)
        return response
    code = msg_code_of(failure)
    if code is None:
        # Never a code that would blame the client's input for our own failure.
        response = jsonify({"msg_code": 0, "error": failure.reason.value})
        response.status_code = server_error_status(failure.reason)
        return response
    return jsonify({"msg_code": code})


def msg_code_of(failure: Failure) -> int | None:
    """The document's msg_code for a failure (HTTP 200), or None for our own (a 5xx)."""
    if failure.reason is ErrorCode.MISSING_ARGUMENT and failure.argument == "Fid":
        return NO_SUCH_FACE
    return CODE_OF_REASON.get(failure.reason)


def _params() -> Any:
    return request.form if request.form else request.values


def _authenticate(params: Any) -> tuple[str, int]:
    """(project id, Apid) of the request's app; ``Refused`` with 3 or 2 otherwise."""
    apid_text = form_value(params, "Apid")
    if apid_text is None or not is_ascii_integer(apid_text):
        raise Refused(NO_APP)
    apid = int(apid_text)
    ctx = current_context()
    project = ctx.projects.get_by_name(f"{PROJECT_NAME_PREFIX}{apid}")
    if project is None:
        raise Refused(NO_APP)
    token = form_value(params, "Kvalue")
    try:
        key = authenticate_limited(token or "", ctx.api_keys.authenticate)
    except AuthThrottled as throttled:
        raise Refused(WRONG_KEY, throttled.retry_after) from throttled
    if key is None or key.project_id != project.id:
        raise Refused(WRONG_KEY)
    bind_project(project.id)
    return project.id, apid


def _existing_face_set(project_id: str) -> Any:
    """The app's face set, or None: it is created by the first accepted enrollment only,
    so that a refused request leaves nothing behind."""
    return current_context().service.face_sets.get_by_name(project_id, FACE_SET_NAME)


def _face_by_fid(project_id: str, face_set: Any, fid_text: str | None) -> Any:
    if face_set is None or fid_text is None or not is_ascii_integer(fid_text, 1, MAX_FID):
        raise Refused(NO_SUCH_FACE)
    rows = current_context().faces.find_by_external_image_id(project_id, face_set.id, str(int(fid_text)))
    if not rows:
        raise Refused(NO_SUCH_FACE)
    return rows[0]


def _name(params: Any) -> str | None:
    """Fname, when given, as a native user_id (refused otherwise: msg_code 4)."""
    name = form_value(params, "Fname")
    return None if name is None else native_user_id(bounded_text(name, "Fname", 128), "Fname")


def _threshold(params: Any) -> float:
    text = form_value(params, "Threshold")
    if text is None:
        return DEFAULT_THRESHOLD
    bounded_text(text, "Threshold", 64)
    try:
        value = float(text)
    except ValueError as bad:
        raise Failure(ErrorCode.INVALID_ARGUMENT, "Threshold must be a number", argument="Threshold") from bad
    if not 0.0 <= value <= 1.0:
        raise Failure(ErrorCode.INVALID_ARGUMENT, "Threshold must be within [0, 1]", argument="Threshold")
    return value


def _liveness_match(result: LivenessResult) -> bool:
    """Matched: closer than the threshold for the document's 36 frames or more."""
    return result.match is not None and result.match.matched


def _face_json(face: Any) -> dict[str, Any]:
    return {"Fid": int(face.external_image_id), "Fname": face.user_id or ""}


def blueprint() -> Blueprint:
    bp = Blueprint("dialect_001", __name__)

    @bp.route("/api/face", methods=["GET", "POST", "PUT", "DELETE"])
    @dialect_view(render_failure)
    def face() -> Response:
        params = _params()
        project_id, apid = _authenticate(params)
        face_set = _existing_face_set(project_id)
        if request.method == "GET":
            faces = [
                {**_face_json(row), "Apid": apid}
                for row in (all_faces(project_id, face_set.id) if face_set else [])
                if row.external_image_id.isdigit()
            ]
            return jsonify({"msg_code": OK, "faces": faces})
        if request.method == "POST":
            name = _name(params) or str(int(time.time()))
            image_key = store_base64(form_value(params, "Fimg"), "Fimg")
            face_set = ensure_face_set(project_id, FACE_SET_NAME)  # only once the input is accepted
            fid = new_numeric_id(project_id, face_set.id, MAX_FID)
            enroll_face(project_id, FACE_SET_NAME, image_key, str(fid), name)
            return jsonify({"msg_code": OK, "Fid": fid, "Fname": name})
        row = _face_by_fid(project_id, face_set, form_value(params, "Fid"))
        fid = int(row.external_image_id)
        if request.method == "DELETE":
            delete_face_ids(project_id, face_set, [row.face_id])
            return jsonify({"msg_code": OK, "Fid": fid, "Fname": row.user_id or ""})
        # PUT: a new image replaces the face (same Fid); a new name renames it.
        name = _name(params) or row.user_id or ""
        image_text = form_value(params, "Fimg")
        if image_text is not None:
            image_key = store_base64(image_text, "Fimg")
            enroll_face(
                project_id, FACE_SET_NAME, image_key, str(fid), name
            )  # the old face stays until this succeeds
            delete_face_ids(project_id, face_set, [row.face_id])
        elif name != row.user_id:
            current_context().service.update_face(
                project_id,
                FACE_SET_NAME,
                row.face_id,
                external_image_id=None,
                external_fields=None,
                user_id=name,
            )
        return jsonify({"msg_code": OK, "Fid": fid, "Fname": name})

    @bp.get("/api/singleface")
    @dialect_view(render_failure)
    def single_face() -> Response:
        params = _params()
        project_id, _ = _authenticate(params)
        face_set = _existing_face_set(project_id)
        row = _face_by_fid(project_id, face_set, form_value(params, "Fid"))
        return jsonify({"msg_code": OK, **_face_json(row)})

    @bp.route("/api/similarity", methods=["GET", "POST"])
    @dialect_view(render_failure)
    def similarity() -> Response:
        params = _params()
        project_id, _ = _authenticate(params)
        keys: list[str] = []
        while form_value(params, f"Fimg{len(keys) + 1}") is not None:
            field = f"Fimg{len(keys) + 1}"
            keys.append(store_base64(form_value(params, field), field, probe=True))
        if not keys:
            raise Failure(ErrorCode.MISSING_ARGUMENT, "Fimg1 is required", argument="Fimg1")
        payloads = [ComparePayload(image1_key=keys[0], image2_key=other) for other in keys[1:]]
        results = run_jobs(project_id, JobKind.COMPARE, list(payloads), CompareResult)
        return jsonify({"msg_code": OK, "similarity": [result.pair[1] for result in results]})

    @bp.route("/api/detection", methods=["GET", "POST"])
    @dialect_view(render_failure)
    def detection() -> Response:
        params = _params()
        project_id, _ = _authenticate(params)
        image_key = store_base64(form_value(params, "Fimg"), "Fimg", probe=True)
        faces = run_job(project_id, JobKind.DETECT, DetectPayload(image_key=image_key), DetectResult).faces
        if not faces:
            raise Failure(ErrorCode.NO_FACE)
        locations = []
        for found in faces:
            left, top, right, bottom = found.bounding_box.corners()
            # face_recognition's (top, right, bottom, left), as the document's example shows
            locations.append([top, right, bottom, left])
        return jsonify({"msg_code": OK, "location": locations})

    @bp.route("/api/match", methods=["GET", "POST"])
    @dialect_view(render_failure)
    def match() -> Response:
        params = _params()
        project_id, _ = _authenticate(params)
        face_set = _existing_face_set(project_id)
        row = _face_by_fid(project_id, face_set, form_value(params, "Fid"))
        threshold = _threshold(params)
        probe_key = store_base64(form_value(params, "Fimg"), "Fimg", probe=True)
        # The stored face was enrolled alone in its image, so its image's largest face is it.
        result = run_job(
            project_id,
            JobKind.COMPARE,
            ComparePayload(image1_key=row.image_key, image2_key=probe_key),
            CompareResult,
        )
        return jsonify({"msg_code": OK, "match": result.pair[0] <= threshold})

    @bp.route("/api/living", methods=["POST"])
    @dialect_view(render_failure)
    def living() -> Response:
        params = _params()
        project_id, _ = _authenticate(params)
        face_set = _existing_face_set(project_id)
        row = _face_by_fid(project_id, face_set, form_value(params, "Fid"))
        action = ACTIONS.get((form_value(params, "Action") or "1").strip())
        if action is None:
            raise Failure(
                ErrorCode.INVALID_ARGUMENT, "Action must be 1 (blink) or 2 (open mouth)", argument="Action"
            )
        threshold = _threshold(params)
        try:
            video_key = store_base64(form_value(params, "Fvideo"), "Fvideo", probe=True)
        except Failure as bad:
            raise Failure(ErrorCode.INVALID_VIDEO, bad.message, argument="Fvideo") from bad
        payload = LivenessPayload(
            project_id=project_id,
            video_key=video_key,
            actions=[action],  # type: ignore[list-item]
            reference_face_id=row.face_id,
            match_distance=threshold,
        )
        result = run_job(project_id, JobKind.LIVENESS, payload, LivenessResult)
        return jsonify({"msg_code": OK, "match": _liveness_match(result), "real": result.alive})

    return bp
