"""The one vocabulary of failures: every code a job (or a request) can fail with.

A failed job stores ``ErrorCode.value``; the API's services raise ``DomainError``. Each
front end (the native API, each seed dialect, Rekognition) maps a code to its own code and
status in one table (docs/ERRORS.md lists them all); nothing below the front ends knows
about HTTP. Pipeline codes (``invalid_image``, ``no_face``...) are these same
strings, so a pipeline error passes through unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    # --- the request itself (front ends raise these before any job runs) ---
    MISSING_ARGUMENT = "missing_argument"
    EMPTY_IMAGE = "empty_image"
    # --- requests and jobs ---
    INVALID_IMAGE = "invalid_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    LOW_QUALITY = "low_quality"
    INVALID_VIDEO = "invalid_video"
    DUPLICATE_FACE = "duplicate_face"
    FACE_SET_FULL = "face_set_full"
    FACE_SET_EXISTS = "face_set_exists"
    FACE_SET_LIMIT = "face_set_limit"
    FACE_SET_NOT_FOUND = "face_set_not_found"
    FACE_NOT_FOUND = "face_not_found"
    JOB_NOT_FOUND = "job_not_found"
    INVALID_FILTER = "invalid_filter"
    # A face set's custom fields: a schema or a face's values that do not fit it, and
    # sort / return_fields naming a field the face set does not declare.
    INVALID_EXTERNAL_FIELDS = "invalid_external_fields"
    INVALID_SORT = "invalid_sort"
    INVALID_ARGUMENT = "invalid_argument"
    UNKNOWN_MODEL = "unknown_model"
    UNAVAILABLE = "unavailable"
    # A sync request whose job was still running when the front end stopped waiting.
    TIMEOUT = "timeout"
    INTERNAL = "internal"

    @property
    def meaning(self) -> str:
        return MEANING[self]

    @property
    def is_client_error(self) -> bool:
        """The input was at fault (a 4xx in every front end); otherwise the service was."""
        return self not in SERVICE_ERRORS

    @property
    def is_transient(self) -> bool:
        """The service could not answer now; the same request may succeed later (a 503)."""
        return self in (ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT)

    @classmethod
    def parse(cls, stored: str | None) -> ErrorCode:
        """A stored code; one this version does not know (or none) reads as internal."""
        try:
            return cls(stored or "")
        except ValueError:
            return cls.INTERNAL


SERVICE_ERRORS = frozenset(
    {ErrorCode.UNKNOWN_MODEL, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.INTERNAL}
)
# Everything that is wrong with the image a request sent.
IMAGE_ERRORS = frozenset(
    {
        ErrorCode.EMPTY_IMAGE,
        ErrorCode.INVALID_IMAGE,
        ErrorCode.UNSUPPORTED_FORMAT,
        ErrorCode.IMAGE_TOO_LARGE,
        ErrorCode.IMAGE_TOO_SMALL,
    }
)

MEANING: dict[ErrorCode, str] = {
    ErrorCode.MISSING_ARGUMENT: "A required parameter (or image) is missing.",
    ErrorCode.EMPTY_IMAGE: "The image sent is empty.",
    ErrorCode.INVALID_IMAGE: "The image cannot be decoded (or is no longer stored).",
    ErrorCode.UNSUPPORTED_FORMAT: "The image format is not supported (JPG, PNG, BMP).",
    ErrorCode.IMAGE_TOO_LARGE: "The image is larger than allowed.",
    ErrorCode.IMAGE_TOO_SMALL: "The image is too small.",
    ErrorCode.NO_FACE: "No face was detected.",
    ErrorCode.MULTIPLE_FACES: "More than one face was found where one was expected.",
    ErrorCode.LOW_QUALITY: "The face failed the quality gate.",
    ErrorCode.INVALID_VIDEO: "The video cannot be decoded or shows no usable face.",
    ErrorCode.DUPLICATE_FACE: "The face set already holds this face.",
    ErrorCode.FACE_SET_FULL: "The face set is full.",
    ErrorCode.FACE_SET_EXISTS: "A face set with this name already exists (or is still being deleted).",
    ErrorCode.FACE_SET_LIMIT: "The project holds the maximum number of face sets.",
    ErrorCode.FACE_SET_NOT_FOUND: "The face set does not exist.",
    ErrorCode.FACE_NOT_FOUND: "The face does not exist.",
    ErrorCode.JOB_NOT_FOUND: "The job does not exist (or belongs to another project).",
    ErrorCode.INVALID_FILTER: "The filter is invalid.",
    ErrorCode.INVALID_EXTERNAL_FIELDS: (
        "external_fields does not match the face set's schema, or the schema itself is invalid."
    ),
    ErrorCode.INVALID_SORT: "sort or return_fields names a field the face set does not declare.",
    ErrorCode.INVALID_ARGUMENT: "A parameter is invalid.",
    ErrorCode.UNKNOWN_MODEL: "A configured model name is not in the registry (a deployment error).",
    ErrorCode.UNAVAILABLE: "A storage service or the job queue stayed unreachable.",
    ErrorCode.TIMEOUT: "The job was still running when the request stopped waiting for it.",
    ErrorCode.INTERNAL: "An internal error; nothing about it is the client's fault.",
}


class DomainError(Exception):
    """A failure in the shared vocabulary: raised by the API's services for a request they
    refuse, and (as ``workers.errors.JobFailure``) by a job. Each front end renders it
    from ``code`` with its own table; ``details`` are machine-readable extras."""

    def __init__(
        self, code: ErrorCode | str, message: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        self.code = ErrorCode(code)
        self.message = self.code.meaning if message is None else message
        self.details = details or {}
        super().__init__(self.message)
