"""Every error the native API can answer, in one table, and the one error format.

Body: ``{"error_code": "FRS.xxxx", "error_msg": "..."}`` — never a traceback.
Codes that appear in the FRS seed keep the seed's meaning (FRS.0002, FRS.0018, FRS.0404,
FRS.0501); the others are FaceFleet's own, in ranges the seed does not use. docs/API.md
lists them all, and a test checks that the document and this table agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from flask import Response, jsonify

from core.errors import DomainError, ErrorCode
from core.jobs import JobKind


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    message: str
    # The shared code other front ends render this failure with; a request error of the
    # native API's own (a reused Idempotency-Key...) reads as an invalid argument.
    error: ErrorCode | None = None

    @property
    def core_code(self) -> ErrorCode:
        if self.error is not None:
            return self.error
        return ErrorCode.INTERNAL if self.status >= 500 else ErrorCode.INVALID_ARGUMENT


class ApiErrorCode(Enum):
    # --- from the FRS seed ---
    AUTH_TOKEN_ABNORMAL = ErrorSpec("FRS.0002", 401, "The authentication token is missing or abnormal.")
    INTERNAL = ErrorSpec("FRS.0018", 500, "The service inner error.", ErrorCode.INTERNAL)
    NO_FACE_TO_ADD = ErrorSpec(
        "FRS.0404", 400, "Detect no face, can not add it to face set.", ErrorCode.NO_FACE
    )
    NO_FACE = ErrorSpec("FRS.0501", 400, "Detect no face, check out your picture.", ErrorCode.NO_FACE)
    # --- request shape (400) ---
    INVALID_PARAMETER = ErrorSpec("FRS.0100", 400, "A request parameter is invalid.")
    INVALID_JSON = ErrorSpec("FRS.0101", 400, "The request body is not valid JSON.")
    IMAGE_SOURCE = ErrorSpec(
        "FRS.0102",
        400,
        "Give exactly one of image_file, image_base64 and image_url.",
        ErrorCode.MISSING_ARGUMENT,
    )
    INVALID_BASE64 = ErrorSpec("FRS.0103", 400, "image_base64 is not valid base64.", ErrorCode.INVALID_IMAGE)
    IMAGE_URL_REFUSED = ErrorSpec("FRS.0104", 400, "image_url must name an object of this service's store.")
    IMAGE_URL_NOT_FOUND = ErrorSpec("FRS.0105", 400, "The object named by image_url does not exist.")
    IMAGE_TOO_LARGE = ErrorSpec(
        "FRS.0106", 400, "The image is larger than allowed.", ErrorCode.IMAGE_TOO_LARGE
    )
    UNSUPPORTED_MEDIA_TYPE = ErrorSpec("FRS.0107", 400, "Send application/json or multipart/form-data.")
    INVALID_IMAGE = ErrorSpec("FRS.0110", 400, "The image cannot be decoded.", ErrorCode.INVALID_IMAGE)
    UNSUPPORTED_FORMAT = ErrorSpec(
        "FRS.0111", 400, "The image format is not supported (JPG, PNG, BMP).", ErrorCode.UNSUPPORTED_FORMAT
    )
    IMAGE_TOO_SMALL = ErrorSpec("FRS.0112", 400, "The image is too small.", ErrorCode.IMAGE_TOO_SMALL)
    MULTIPLE_FACES = ErrorSpec(
        "FRS.0113", 400, "More than one face was found where one was expected.", ErrorCode.MULTIPLE_FACES
    )
    LOW_QUALITY = ErrorSpec("FRS.0114", 400, "The face failed the quality gate.", ErrorCode.LOW_QUALITY)
    DUPLICATE_FACE = ErrorSpec(
        "FRS.0115", 400, "The face set already holds this face.", ErrorCode.DUPLICATE_FACE
    )
    INVALID_VIDEO = ErrorSpec("FRS.0116", 400, "The video cannot be decoded.", ErrorCode.INVALID_VIDEO)
    INVALID_FILTER = ErrorSpec("FRS.0120", 400, "The filter is invalid.", ErrorCode.INVALID_FILTER)
    INVALID_EXTERNAL_FIELDS = ErrorSpec(
        "FRS.0121",
        400,
        "external_fields does not match the face set's schema.",
        ErrorCode.INVALID_EXTERNAL_FIELDS,
    )
    INVALID_SORT = ErrorSpec(
        "FRS.0122", 400, "sort or return_fields names an unknown field.", ErrorCode.INVALID_SORT
    )
    INVALID_BATCH = ErrorSpec("FRS.0123", 400, "The batch request is invalid.")
    IDEMPOTENCY_KEY_INVALID = ErrorSpec(
        "FRS.0130", 400, "Idempotency-Key must be 1 to 64 of [A-Za-z0-9_.:-]."
    )
    IDEMPOTENCY_KEY_REUSED = ErrorSpec(
        "FRS.0131", 400, "This Idempotency-Key was already used for a different request."
    )
    CALLBACK_URL_REFUSED = ErrorSpec(
        "FRS.0132", 400, "The callback URL is not allowed (scheme, host or address not on the allow-list)."
    )
    # --- face sets and faces ---
    FACE_SET_EXISTS = ErrorSpec(
        "FRS.0201", 400, "A face set with this name already exists.", ErrorCode.FACE_SET_EXISTS
    )
    FACE_SET_LIMIT = ErrorSpec(
        "FRS.0202", 400, "The project holds the maximum number of face sets.", ErrorCode.FACE_SET_LIMIT
    )
    FACE_SET_FULL = ErrorSpec("FRS.0203", 400, "The face set is full.", ErrorCode.FACE_SET_FULL)
    # --- not found (404): another project's resources answer these too ---
    NOT_FOUND = ErrorSpec("FRS.0200", 404, "The requested resource does not exist.")
    FACE_SET_NOT_FOUND = ErrorSpec(
        "FRS.0210", 404, "The face set does not exist.", ErrorCode.FACE_SET_NOT_FOUND
    )
    FACE_NOT_FOUND = ErrorSpec("FRS.0211", 404, "The face does not exist.", ErrorCode.FACE_NOT_FOUND)
    JOB_NOT_FOUND = ErrorSpec("FRS.0212", 404, "The job does not exist.", ErrorCode.JOB_NOT_FOUND)
    METHOD_NOT_ALLOWED = ErrorSpec("FRS.0213", 405, "The method is not allowed for this resource.")
    PERSON_NOT_FOUND = ErrorSpec("FRS.0214", 404, "The person (user_id) has no face here.")
    # --- protection ---
    FORBIDDEN = ErrorSpec("FRS.0003", 403, "The key may not perform this operation.")
    REQUEST_TOO_LARGE = ErrorSpec("FRS.0301", 413, "The request body is larger than allowed.")
    RATE_LIMITED = ErrorSpec("FRS.0302", 429, "Too many requests for this key; retry later.")
    # --- dependencies (503) ---
    BROKER_UNAVAILABLE = ErrorSpec(
        "FRS.0601", 503, "The job queue is unreachable; the job was not started.", ErrorCode.UNAVAILABLE
    )
    STORAGE_UNAVAILABLE = ErrorSpec(
        "FRS.0602", 503, "A storage service is unreachable; retry later.", ErrorCode.UNAVAILABLE
    )

    @property
    def spec(self) -> ErrorSpec:
        return self.value  # type: ignore[no-any-return]


class ApiError(Exception):
    """Raised anywhere in a request; the app's handler renders it in the one format."""

    def __init__(
        self, code: ApiErrorCode, message: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message or code.spec.message)
        self.code = code
        self.message = message or code.spec.message
        self.details = details or {}

    @property
    def status(self) -> int:
        return self.code.spec.status

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error_code": self.code.spec.code, "error_msg": self.message}
        if self.details:
            body["error_details"] = self.details
        return body

    def response(self) -> Response:
        response = jsonify(self.body())
        response.status_code = self.status
        return response


# The native API's one table: every shared code (a failed job's, or a service's
# ``DomainError``) as the FRS code it answers. A sync call still running answers 202 with
# its job, so ``timeout`` is never rendered here; a deployment fault is an internal error.
CODE_OF_ERROR: dict[ErrorCode, ApiErrorCode] = {
    ErrorCode.MISSING_ARGUMENT: ApiErrorCode.IMAGE_SOURCE,
    # Front ends refuse an empty upload themselves; a job that met one cannot say more.
    ErrorCode.EMPTY_IMAGE: ApiErrorCode.INTERNAL,
    ErrorCode.INVALID_IMAGE: ApiErrorCode.INVALID_IMAGE,
    ErrorCode.UNSUPPORTED_FORMAT: ApiErrorCode.UNSUPPORTED_FORMAT,
    ErrorCode.IMAGE_TOO_LARGE: ApiErrorCode.IMAGE_TOO_LARGE,
    ErrorCode.IMAGE_TOO_SMALL: ApiErrorCode.IMAGE_TOO_SMALL,
    ErrorCode.NO_FACE: ApiErrorCode.NO_FACE,
    ErrorCode.MULTIPLE_FACES: ApiErrorCode.MULTIPLE_FACES,
    ErrorCode.LOW_QUALITY: ApiErrorCode.LOW_QUALITY,
    ErrorCode.INVALID_VIDEO: ApiErrorCode.INVALID_VIDEO,
    ErrorCode.DUPLICATE_FACE: ApiErrorCode.DUPLICATE_FACE,
    ErrorCode.FACE_SET_FULL: ApiErrorCode.FACE_SET_FULL,
    ErrorCode.FACE_SET_EXISTS: ApiErrorCode.FACE_SET_EXISTS,
    ErrorCode.FACE_SET_LIMIT: ApiErrorCode.FACE_SET_LIMIT,
    ErrorCode.FACE_SET_NOT_FOUND: ApiErrorCode.FACE_SET_NOT_FOUND,
    ErrorCode.FACE_NOT_FOUND: ApiErrorCode.FACE_NOT_FOUND,
    ErrorCode.JOB_NOT_FOUND: ApiErrorCode.JOB_NOT_FOUND,
    ErrorCode.INVALID_FILTER: ApiErrorCode.INVALID_FILTER,
    ErrorCode.INVALID_EXTERNAL_FIELDS: ApiErrorCode.INVALID_EXTERNAL_FIELDS,
    ErrorCode.INVALID_SORT: ApiErrorCode.INVALID_SORT,
    ErrorCode.INVALID_ARGUMENT: ApiErrorCode.INVALID_PARAMETER,
    ErrorCode.UNKNOWN_MODEL: ApiErrorCode.INTERNAL,
    ErrorCode.UNAVAILABLE: ApiErrorCode.STORAGE_UNAVAILABLE,
    ErrorCode.TIMEOUT: ApiErrorCode.INTERNAL,
    ErrorCode.INTERNAL: ApiErrorCode.INTERNAL,
}


def api_error_code_of(code: ErrorCode, kind: JobKind | str | None = None) -> ApiErrorCode:
    if code is ErrorCode.NO_FACE and kind in (JobKind.ENROLL, JobKind.ENROLL.value):
        return ApiErrorCode.NO_FACE_TO_ADD  # the seed's add-face endpoint has its own code
    return CODE_OF_ERROR[code]


def api_error_of(
    code: ErrorCode,
    message: str | None,
    kind: JobKind | str | None = None,
    details: dict[str, Any] | None = None,
) -> ApiError:
    api_code = api_error_code_of(code, kind)
    # Internal failures keep the generic text: the stored message may name internals.
    text = api_code.spec.message if api_code is ApiErrorCode.INTERNAL else (message or api_code.spec.message)
    return ApiError(api_code, text, details)


def domain_error(error: DomainError) -> ApiError:
    """A service's ``DomainError`` in the native format."""
    return api_error_of(error.code, error.message, details=error.details)


def job_error(
    job_code: str | None,
    message: str | None,
    kind: JobKind | str | None = None,
    details: dict[str, Any] | None = None,
) -> ApiError:
    """A failed job's stored code (one this version does not know reads as internal)."""
    return api_error_of(ErrorCode.parse(job_code), message, kind, details)


def all_codes() -> list[ErrorSpec]:
    return [member.spec for member in ApiErrorCode]
