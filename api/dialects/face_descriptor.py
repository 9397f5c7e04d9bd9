"""Dialect of seed 000 (FaceRecognition_api.py): ``POST /get_face_descriptor``.

The document has no auth, so the dialect is off unless ``dialects.d000_project_id`` binds
it to one project; its jobs run (and are accounted) in that project. The descriptor is the
project's embedding (dlib ResNet by default, the same 128 floats ``face_recognition``
returns), one list per detected face, as ``face_recognition.face_encodings`` does.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from api.dialects.common import (
    Failure,
    bind_project,
    dialect_view,
    file_extension,
    run_job,
    server_error_status,
    store_upload,
)
from core.errors import ErrorCode
from core.jobs import JobKind
from core.payloads import EmbedPayload
from core.results import EmbedResult

ALLOWED_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "bmp"})
NO_FACE_MESSAGE = "未检测到人脸"
INTERNAL_MESSAGE = "服务内部错误"
INVALID_ARGUMENT_MESSAGE = "请求参数无效"
# (message, HTTP status) of each failure. No face is the document's normal failure answer
# (200); a request that carries no usable image is a client error (400); every code not
# named here is ours (INTERNAL_MESSAGE with a 5xx).
ANSWERS: dict[ErrorCode, tuple[str, int]] = {
    ErrorCode.MISSING_ARGUMENT: ("未上传文件", 400),
    ErrorCode.INVALID_ARGUMENT: (INVALID_ARGUMENT_MESSAGE, 400),
    ErrorCode.INVALID_EXTERNAL_FIELDS: (INVALID_ARGUMENT_MESSAGE, 400),
    ErrorCode.INVALID_SORT: (INVALID_ARGUMENT_MESSAGE, 400),
    ErrorCode.FACE_SET_EXISTS: (INVALID_ARGUMENT_MESSAGE, 400),
    ErrorCode.FACE_SET_LIMIT: (INVALID_ARGUMENT_MESSAGE, 400),
    ErrorCode.JOB_NOT_FOUND: (INVALID_ARGUMENT_MESSAGE, 400),
    ErrorCode.UNSUPPORTED_FORMAT: ("不支持的文件格式，仅支持jpg、jpeg、png、bmp", 400),
    ErrorCode.EMPTY_IMAGE: ("图片文件为空", 400),
    ErrorCode.INVALID_IMAGE: ("图片文件无效或无法加载", 400),
    ErrorCode.IMAGE_TOO_LARGE: ("图片文件过大", 400),
    ErrorCode.IMAGE_TOO_SMALL: ("图片尺寸过小", 400),
    ErrorCode.NO_FACE: (NO_FACE_MESSAGE, 200),
}


def answer_of(reason: ErrorCode) -> tuple[str, int]:
    return ANSWERS.get(reason, (INTERNAL_MESSAGE, server_error_status(reason)))


def render_failure(failure: Failure) -> Response:
    """``{"error": "..."}`` with the status ``ANSWERS`` gives."""
    message, status = answer_of(failure.reason)
    response = jsonify({"error": message})
    response.status_code = status
    return response


def blueprint(project_id: str) -> Blueprint:
    bp = Blueprint("dialect_000", __name__)

    @bp.post("/get_face_descriptor")
    @dialect_view(render_failure)
    def get_face_descriptor() -> Response:
        bind_project(project_id)
        upload = request.files.get("file")
        if upload is not None and upload.filename and file_extension(upload) not in ALLOWED_EXTENSIONS:
            raise Failure(ErrorCode.UNSUPPORTED_FORMAT, "extension not allowed", argument="file")
        image_key = store_upload(upload, "file", probe=True)
        result = run_job(
            project_id, JobKind.EMBED, EmbedPayload(image_key=image_key, select="all"), EmbedResult
        )
        descriptors = [face.embedding for face in result.faces if face.embedding]
        if not descriptors:
            raise Failure(ErrorCode.NO_FACE)
        return jsonify({"face_descriptor": descriptors, "success": True})

    return bp
