"""Dialect of seed 000 (FaceRecognition_api.py): ``POST /get_face_descriptor``.

The document has no auth, so the dialect is off unless ``dialects.d000_project_id`` binds
it to one project; its jobs run (and are accounted) in that project. The descriptor is the
project's embedding (dlib ResNet by default, the same 128 floats ``face_recognition``
returns), one list per detected face, as ``face_recognition.face_encodings`` does.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from api.dialects.common import (
    IMAGE_REASONS,
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
MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.MISSING_ARGUMENT: "未上传文件",
    ErrorCode.INVALID_ARGUMENT: "请求参数无效",
    ErrorCode.UNSUPPORTED_FORMAT: "不支持的文件格式，仅支持jpg、jpeg、png、bmp",
    ErrorCode.EMPTY_IMAGE: "图片文件为空",
    ErrorCode.INVALID_IMAGE: "图片文件无效或无法加载",
    ErrorCode.IMAGE_TOO_LARGE: "图片文件过大",
    ErrorCode.IMAGE_TOO_SMALL: "图片尺寸过小",
    ErrorCode.NO_FACE: NO_FACE_MESSAGE,
}


def render_failure(failure: Failure) -> Response:
    """``{"error": "..."}``. No face is the document's normal failure answer (200); a
    request that carries no usable image is a client error (400); the rest are ours."""
    message = MESSAGES.get(failure.reason, "服务内部错误")
    response = jsonify({"error": message})
    if failure.reason is ErrorCode.NO_FACE:
        response.status_code = 200
    elif (
        failure.reason in (ErrorCode.MISSING_ARGUMENT, ErrorCode.INVALID_ARGUMENT)
        or failure.reason in IMAGE_REASONS
    ):
        response.status_code = 400
    else:
        response.status_code = server_error_status(failure.reason)
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
