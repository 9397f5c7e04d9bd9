"""Dialect of seed 003 (``/cv/face/*`` gateway): register, update, delete, search, check,
recognise (1:N) and compare (1:1), status codes 200 and 40201-40318.

Mapping (docs/DIALECTS.md):
- ``X-GW-Authorization`` carries a FaceFleet API key (a ``Bearer `` prefix is accepted);
  its project is the tenant. Each ``app_id`` is that project's face set ``d003-<app_id>``,
  created by the first ``face_register``, so libraries are isolated per app and per project.
- A face's numeric ``face_id`` is kept as its ``external_image_id``; ``user_id`` is the
  face's ``user_id`` (one user may own several faces).
- Documented outcomes are HTTP 200 with ``code``; only our own failures (queue or store
  down, bug) are 5xx, still in the ``{"code", "message"}`` shape.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import probes
from api.auth_limits import AuthThrottled, authenticate_limited
from api.context import current_context
from api.dialects.common import (
    Failure,
    bind_project,
    delete_face_ids,
    enroll_face,
    ensure_face_set,
    faces_of_user,
    failure_of,
    matching_face,
    new_numeric_id,
    run_job,
    run_jobs,
)
from api.dialects.face_gateway_codes import CODE_OF_CHECK, MESSAGES, Status, status_of
from api.images import decode_base64_image
from api.input_bounds import NATIVE_USER_ID, InputRefused, bounded_text, is_ascii_integer, native_name
from core.errors import ErrorCode
from core.jobs import JobKind
from core.payloads import ComparePayload, DetectPayload
from core.results import CompareResult, DetectedFace, DetectResult

FACE_SET_PREFIX = "d003-"
MAX_IMAGE_BYTES = 4 * 1024 * 1024  # the document's limit
MAX_PARAM_LENGTH = 128
MAX_FACE_NUMBER = 2**53  # exact in every JSON reader
OK_MESSAGE = "success"


def _view(**failure_fields: Any) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Renders failures with the endpoint's own fields (``face_id: -1``...) filled in."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapped(*args: Any) -> Response:
            try:
                return view(*args)
            except Exception as error:  # noqa: BLE001  # every failure answers in the document's shape
                status, code, fields = status_of(failure_of(error))
                response = jsonify({"code": code, "message": MESSAGES[code], **failure_fields, **fields})
                response.status_code = status
                return response

        return wrapped

    return decorate


def _ok(**fields: Any) -> Response:
    return jsonify({"code": 200, "message": OK_MESSAGE, **fields})


# ---------------------------------------------------------------------------- inputs


class Unauthorized(Exception):
    """No valid key: answered by the gateway itself (401), before any documented code."""


def _authenticate() -> str:
    token = request.headers.get("X-GW-Authorization", "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    key = authenticate_limited(token, current_context().api_keys.authenticate)
    if key is None:
        raise Unauthorized
    bind_project(key.project_id)
    return str(key.project_id)


def _param(name: str, required: bool = True) -> str | None:
    value = request.form.get(name)
    if value is None or not value.strip():
        if required:
            raise Failure(ErrorCode.MISSING_ARGUMENT, f"{name} is required", argument=name)
        return None
    value = value.strip()
    try:
        bounded_text(value, name, MAX_PARAM_LENGTH)  # bytes: 128 emoji are 512 of them
    except InputRefused as refused:
        raise Status(40202) from refused
    return value


def _user_id(required: bool = True) -> str | None:
    """user_id as a native user_id; anything else is 40310 ("user_id error")."""
    value = _param("user_id", required)
    if value is not None and not NATIVE_USER_ID.fullmatch(value):
        raise Status(40310)
    return value


def _image(name: str, required: bool = True, probe: bool = False) -> str | None:
    """A multipart file part; a plain form field is read as base64 (binary bytes cannot
    survive a text field), so text that is not base64 is an input image error (40308).
    A ``probe`` (only checked, recognised or compared) leaves the store with its job."""
    upload = request.files.get(name)
    if upload is not None:
        data = upload.stream.read(MAX_IMAGE_BYTES + 1)
    else:
        text = request.form.get(name, "")
        if not text.strip():
            if not required:
                return None
            raise Failure(ErrorCode.MISSING_ARGUMENT, f"{name} is required", argument="image")
        data = decode_base64_image(text, MAX_IMAGE_BYTES, name)  # ApiError -> 40308
    if not data:
        raise Failure(ErrorCode.EMPTY_IMAGE, f"{name} is empty", argument="image")
    if len(data) > MAX_IMAGE_BYTES:
        raise Failure(ErrorCode.IMAGE_TOO_LARGE, f"{name} is larger than 4 MB")
    return current_context().intake.put(data, probe=probe)


def _direction() -> int | None:
    text = _param("face_direction", required=False)
    if text is None:
        return None
    if text not in {"0", "1", "2", "3", "4"}:
        raise Status(40203)
    return int(text)


def _face_number(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _app_name() -> str:
    try:
        return native_name(_param("app_id") or "", "app_id", FACE_SET_PREFIX)
    except InputRefused as refused:  # a set the native API could not name: never created
        raise Status(40307) from refused


def _app(project_id: str, create: bool = False) -> Any:
    name = _app_name()
    if create:
        return ensure_face_set(project_id, name)
    face_set = current_context().service.face_sets.get_by_name(project_id, name)
    if face_set is None:
        raise Failure(ErrorCode.FACE_SET_NOT_FOUND, "unknown app_id")
    return face_set


# ---------------------------------------------------------------------------- checks


def _quality_of(face: DetectedFace) -> tuple[int, int | None]:
    """(check_result, measured direction code) of a detected face; (0, None) when the
    worker gave no quality measures."""
    quality = face.quality or {}
    check = int(quality.get("check_result", 0) or 0)
    direction = quality.get("direction_code")
    return check, int(direction) if direction is not None else None


def _detect(project_id: str, image_key: str) -> list[DetectedFace]:
    """Faces with quality measures, best first. Falls back to plain detection when the
    workers cannot measure quality, so the gate degrades instead of every call failing."""
    try:
        result = run_job(
            project_id, JobKind.DETECT, DetectPayload(image_key=image_key, quality=True), DetectResult
        )
    except Failure as failed:
        if failed.reason is not ErrorCode.INTERNAL:
            raise
        # The failed job deleted its probe; this second job reads it again.
        probes.store_again(current_context().store, image_key)
        result = run_job(project_id, JobKind.DETECT, DetectPayload(image_key=image_key), DetectResult)
    return list(result.faces)


def check_result_of(face: DetectedFace, direction: int | None) -> int:
    """The document's check_result for one detected face and the requested direction."""
    check, measured = _quality_of(face)
    if check == 0 and direction is not None and measured is not None and measured != direction:
        check = 40
    if check == 40 and direction is None:
        check = 0  # a direction mismatch only counts when the client asked for one
    return check


def _checked_single_face(project_id: str, image_key: str, direction: int | None) -> None:
    """The enrollment gate: exactly one face, good quality, the requested direction."""
    faces = _detect(project_id, image_key)
    if not faces:
        raise Status(40304, check_result=10)
    if len(faces) > 1:
        raise Status(40306, check_result=50)
    check = check_result_of(faces[0], direction)
    if check != 0:
        raise Status(CODE_OF_CHECK.get(check, 40314), check_result=check)


def _same_face(project_id: str, face_set: Any, image_key: str, user_id: str, replacing: str | None) -> None:
    """40315 when the app already holds this face: the same photo for this user, or the
    same person under another user id (one user may own several faces of themselves)."""
    for row in faces_of_user(project_id, face_set.id, user_id):
        if row.image_key == image_key and row.face_id != replacing:
            raise Status(40315, face_id=_face_number(row.external_image_id), check_result=50)
    if not face_set.face_count:
        return
    best = matching_face(project_id, face_set.name, image_key)
    if best is not None and best.user_id != user_id:
        raise Status(40315, face_id=_face_number(best.external_image_id), check_result=50)


def _face_row(project_id: str, face_set: Any, code: int) -> Any:
    number = _param("face_id", required=False)
    if number is None:
        raise Status(40318)
    if not is_ascii_integer(number, 1, MAX_FACE_NUMBER):
        raise Status(code)  # no stored face has another kind of number
    rows = current_context().faces.find_by_external_image_id(project_id, face_set.id, number)
    if not rows:
        raise Status(code)
    return rows[0]


# ---------------------------------------------------------------------------- routes


def blueprint() -> Blueprint:
    bp = Blueprint("dialect_003", __name__, url_prefix="/cv/face")

    @bp.errorhandler(Unauthorized)
    def _unauthorized(_: Unauthorized) -> Response:
        response = jsonify({"code": 401, "message": "X-GW-Authorization is missing or invalid"})
        response.status_code = 401
        return response

    @bp.errorhandler(AuthThrottled)
    def _throttled(throttled: AuthThrottled) -> Response:
        response = jsonify({"code": 429, "message": "too many failed authentications; retry later"})
        response.status_code = 429
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response

    def authenticated(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapped() -> Response:
            return view(_authenticate())

        return wrapped

    @bp.post("/face_register")
    @authenticated
    @_view(check_result=50, register_result=50, face_id=-1)
    def face_register(project_id: str) -> Response:
        _app_name()  # refused before anything is created or stored
        user_id = _user_id()
        assert user_id is not None
        direction = _direction()
        image_key = _image("image")
        assert image_key is not None
        _checked_single_face(project_id, image_key, direction)
        face_set = _app(project_id, create=True)
        _same_face(project_id, face_set, image_key, user_id, replacing=None)
        number = new_numeric_id(project_id, face_set.id, MAX_FACE_NUMBER)
        enroll_face(project_id, face_set.name, image_key, str(number), user_id)
        return _ok(check_result=0, register_result=0, face_id=number)

    @bp.post("/face_update")
    @authenticated
    @_view(check_result=50, register_result=50, face_id=-1)
    def face_update(project_id: str) -> Response:
        face_set = _app(project_id)
        row = _face_row(project_id, face_set, 40318)
        number = _face_number(row.external_image_id)
        image_key = _image("image", required=False)
        if image_key is None:  # the document: no image means delete this face
            delete_face_ids(project_id, face_set, [row.face_id])
            return _ok(check_result=0, register_result=0, face_id=number)
        _checked_single_face(project_id, image_key, _direction())
        _same_face(project_id, face_set, image_key, row.user_id or "", replacing=row.face_id)
        enroll_face(project_id, face_set.name, image_key, row.external_image_id, row.user_id or "")
        delete_face_ids(project_id, face_set, [row.face_id])  # only once the new face is in
        return _ok(check_result=0, register_result=0, face_id=number)

    @bp.post("/face_delete")
    @authenticated
    @_view(face_id=-1)
    def face_delete(project_id: str) -> Response:
        face_set = _app(project_id)
        row = _face_row(project_id, face_set, 40313)
        if not delete_face_ids(project_id, face_set, [row.face_id]):
            raise Status(40313)
        return _ok(face_id=_face_number(row.external_image_id))

    @bp.post("/face_search")
    @authenticated
    @_view(result=[])
    def face_search(project_id: str) -> Response:
        face_set = _app(project_id)
        user_id = _user_id()
        assert user_id is not None
        rows = faces_of_user(project_id, face_set.id, user_id)
        if not rows:
            raise Status(40317)
        return _ok(result=[_face_number(row.external_image_id) for row in rows])

    @bp.post("/face_check")
    @authenticated
    @_view(face_num=0, check_result=50, face_information=[])
    def face_check(project_id: str) -> Response:
        max_text = _param("max_num", required=False) or "1"
        if not is_ascii_integer(max_text, 1, 100):
            raise Status(40203)
        image_key = _image("image", probe=True)
        assert image_key is not None
        faces = _detect(project_id, image_key)
        if not faces:
            raise Status(40304, check_result=10)
        information = []
        for face in faces[: int(max_text)]:
            left, top, right, bottom = face.bounding_box.corners()
            information.append(
                {
                    "check_result": _quality_of(face)[0],
                    "face_location": f"({left},{top}),({right},{bottom})",
                    "face_probability": round(min(1.0, max(0.0, face.confidence)), 4),
                    "landmark": [{"x": p.x, "y": p.y} for p in face.landmarks],
                }
            )
        return _ok(
            face_num=len(faces), check_result=information[0]["check_result"], face_information=information
        )

    @bp.post("/face_recognise")
    @authenticated
    @_view(check_result=50, user_id="-1", score=-1)
    def face_recognise(project_id: str) -> Response:
        face_set = _app(project_id)
        image_key = _image("image", probe=True)
        assert image_key is not None
        best = matching_face(project_id, face_set.name, image_key)
        if best is None:
            raise Status(40312, check_result=0)
        return _ok(check_result=0, user_id=best.user_id or "", score=best.similarity)

    @bp.post("/face_compare")
    @authenticated
    @_view(check_result=50, result=-1, score=-1)
    def face_compare(project_id: str) -> Response:
        image_key = _image("image", probe=True)
        assert image_key is not None
        other = _image("image_1", required=False, probe=True)
        if other is not None:
            references = [other]
        else:
            if _param("app_id", required=False) is None:
                raise Status(40201)  # neither image_1 nor app_id
            face_set = _app(project_id)
            user_id = _user_id()
            assert user_id is not None
            references = [row.image_key for row in faces_of_user(project_id, face_set.id, user_id)]
            if not references:
                raise Status(40309)
        payloads = [ComparePayload(image1_key=image_key, image2_key=key) for key in references]
        results = run_jobs(project_id, JobKind.COMPARE, list(payloads), CompareResult)
        best = min(results, key=lambda result: result.pair[0])
        distance, similarity = best.pair
        same = best.match_distance is not None and distance <= best.match_distance
        return _ok(check_result=0, result=same, score=round(similarity, 4))

    return bp
