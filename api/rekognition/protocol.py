"""Rekognition's JSON 1.1 wire format: errors (``__type`` + ``message``), parameter checks
and the translation of FaceFleet's failures into Rekognition's error codes.

Statuses follow AWS's API reference for Rekognition: client errors are 400 (including
``ResourceNotFoundException`` and ``AccessDeniedException``), authentication failures 403,
``ThrottlingException`` and ``InternalServerError`` 500, which botocore's standard retry
mode retries.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flask import Response

from api.errors import ApiError
from api.input_bounds import check_json_depth
from api.jobs import JobOutcome, ResultT
from core.errors import DomainError, ErrorCode
from core.jobs import JobStatus

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
IDENTIFIER = re.compile(r"^[a-zA-Z0-9_.\-:]+$")
MAX_IDENTIFIER = 255


class ErrorType(Enum):
    INVALID_PARAMETER = ("InvalidParameterException", 400)
    RESOURCE_NOT_FOUND = ("ResourceNotFoundException", 400)
    RESOURCE_EXISTS = ("ResourceAlreadyExistsException", 400)
    INVALID_IMAGE_FORMAT = ("InvalidImageFormatException", 400)
    IMAGE_TOO_LARGE = ("ImageTooLargeException", 400)
    INVALID_S3_OBJECT = ("InvalidS3ObjectException", 400)
    ACCESS_DENIED = ("AccessDeniedException", 400)
    INVALID_PAGINATION_TOKEN = ("InvalidPaginationTokenException", 400)
    CONFLICT = ("ConflictException", 400)
    SERVICE_QUOTA_EXCEEDED = ("ServiceQuotaExceededException", 400)
    THROUGHPUT_EXCEEDED = ("ProvisionedThroughputExceededException", 400)
    UNKNOWN_OPERATION = ("UnknownOperationException", 400)
    SERIALIZATION = ("SerializationException", 400)
    MISSING_AUTHENTICATION = ("MissingAuthenticationTokenException", 403)
    INCOMPLETE_SIGNATURE = ("IncompleteSignatureException", 400)
    INVALID_SIGNATURE = ("InvalidSignatureException", 403)
    UNRECOGNIZED_CLIENT = ("UnrecognizedClientException", 403)
    THROTTLING = ("ThrottlingException", 500)
    INTERNAL = ("InternalServerError", 500)

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def status(self) -> int:
        return int(self.value[1])


@dataclass
class RekognitionError(Exception):
    type: ErrorType
    message: str

    def response(self) -> Response:
        return json_response({"__type": self.type.code, "message": self.message}, self.type.status)


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, content_type=CONTENT_TYPE)


# ---------------------------------------------------------------------------- failures

# Rekognition's one table: the error type of every shared code (a failed job's, a
# service's ``DomainError``, or a shared ``ApiError``'s ``core_code``).
TYPE_OF_ERROR: dict[ErrorCode, ErrorType] = {
    ErrorCode.MISSING_ARGUMENT: ErrorType.INVALID_PARAMETER,
    ErrorCode.EMPTY_IMAGE: ErrorType.INVALID_IMAGE_FORMAT,
    ErrorCode.INVALID_IMAGE: ErrorType.INVALID_IMAGE_FORMAT,
    ErrorCode.UNSUPPORTED_FORMAT: ErrorType.INVALID_IMAGE_FORMAT,
    ErrorCode.IMAGE_TOO_LARGE: ErrorType.IMAGE_TOO_LARGE,
    ErrorCode.IMAGE_TOO_SMALL: ErrorType.INVALID_PARAMETER,
    ErrorCode.NO_FACE: ErrorType.INVALID_PARAMETER,
    ErrorCode.MULTIPLE_FACES: ErrorType.INVALID_PARAMETER,
    ErrorCode.LOW_QUALITY: ErrorType.INVALID_PARAMETER,
    ErrorCode.INVALID_VIDEO: ErrorType.INVALID_PARAMETER,
    ErrorCode.DUPLICATE_FACE: ErrorType.INVALID_PARAMETER,
    ErrorCode.FACE_SET_FULL: ErrorType.SERVICE_QUOTA_EXCEEDED,
    ErrorCode.FACE_SET_EXISTS: ErrorType.RESOURCE_EXISTS,
    ErrorCode.FACE_SET_LIMIT: ErrorType.SERVICE_QUOTA_EXCEEDED,
    ErrorCode.FACE_SET_NOT_FOUND: ErrorType.RESOURCE_NOT_FOUND,
    ErrorCode.FACE_NOT_FOUND: ErrorType.RESOURCE_NOT_FOUND,
    ErrorCode.JOB_NOT_FOUND: ErrorType.RESOURCE_NOT_FOUND,
    ErrorCode.INVALID_FILTER: ErrorType.INVALID_PARAMETER,
    ErrorCode.INVALID_ARGUMENT: ErrorType.INVALID_PARAMETER,
    ErrorCode.INVALID_EXTERNAL_FIELDS: ErrorType.INVALID_PARAMETER,
    ErrorCode.INVALID_SORT: ErrorType.INVALID_PARAMETER,
    ErrorCode.UNKNOWN_MODEL: ErrorType.INTERNAL,
    ErrorCode.UNAVAILABLE: ErrorType.INTERNAL,
    # Retryable: the SDK's standard mode tries again.
    ErrorCode.TIMEOUT: ErrorType.THROTTLING,
    ErrorCode.INTERNAL: ErrorType.INTERNAL,
}


def error_of(failure: Exception) -> RekognitionError:
    if isinstance(failure, RekognitionError):
        return failure
    if isinstance(failure, DomainError):
        return RekognitionError(TYPE_OF_ERROR[failure.code], failure.message)
    if isinstance(failure, ApiError):
        return RekognitionError(TYPE_OF_ERROR[failure.code.spec.core_code], failure.message)
    log.exception("unexpected error in a Rekognition request")
    return RekognitionError(ErrorType.INTERNAL, "internal server error")


def finished(outcome: JobOutcome, model: type[ResultT]) -> ResultT:
    """The job's result model; a job still running at the sync deadline is ThrottlingException
    (retryable: the SDK's standard mode tries again), a failed job its Rekognition error."""
    if not outcome.finished:
        raise RekognitionError(
            TYPE_OF_ERROR[ErrorCode.TIMEOUT],
            f"the request did not finish within the service's wait (job {outcome.job_id})",
        )
    if outcome.status is JobStatus.FAILED:
        error_type = TYPE_OF_ERROR[outcome.failure().code]
        message = outcome.job.error_message or "the request failed"
        if error_type is ErrorType.INTERNAL:
            message = "internal server error"  # the stored message may name internals
        raise RekognitionError(error_type, message)
    return outcome.result_as(model)


# ---------------------------------------------------------------------------- parameters


class Params:
    """The request's JSON object with typed, bounded accessors; every refusal is an
    InvalidParameterException naming the member."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    @classmethod
    def parse(cls, raw: bytes) -> Params:
        try:
            check_json_depth(raw or b"{}")  # Python's decoder recurses out near 1000 levels
            body = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as bad:
            raise RekognitionError(ErrorType.SERIALIZATION, "the request body is not valid JSON") from bad
        if not isinstance(body, dict):
            raise RekognitionError(ErrorType.SERIALIZATION, "the request body must be a JSON object")
        return cls(body)

    def has(self, name: str) -> bool:
        return self.body.get(name) is not None

    def string(self, name: str, *, required: bool = False, max_length: int = MAX_IDENTIFIER) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise invalid(f"{name} is required")
            return None
        if not isinstance(value, str) or not value:
            raise invalid(f"{name} must be a non-empty string")
        if len(value) > max_length:
            raise invalid(f"{name} must be at most {max_length} characters")
        return value

    def identifier(self, name: str, *, required: bool = True, max_length: int = MAX_IDENTIFIER) -> str | None:
        value = self.string(name, required=required, max_length=max_length)
        if value is not None and not IDENTIFIER.fullmatch(value):
            raise invalid(f"{name} must match [a-zA-Z0-9_.\\-:]+")
        return value

    def required_identifier(self, name: str, max_length: int = MAX_IDENTIFIER) -> str:
        value = self.identifier(name, required=True, max_length=max_length)
        assert value is not None
        return value

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(f"{name} must be an integer from {low} to {high}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise invalid(f"{name} must be a number from {low} to {high}")
        return float(value)

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.body.get(name, default)
        if value not in allowed:
            raise invalid(f"{name} must be one of {', '.join(allowed)}")
        return str(value)

    def string_list(
        self, name: str, *, required: bool, max_items: int, allowed: tuple[str, ...] | None = None
    ) -> list[str]:
        value = self.body.get(name)
        if value is None:
            if required:
                raise invalid(f"{name} is required")
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise invalid(f"{name} must be a list of strings")
        if required and not value:
            raise invalid(f"{name} must not be empty")
        if len(value) > max_items:
            raise invalid(f"{name} holds at most {max_items} items")
        if allowed is not None and any(item not in allowed for item in value):
            raise invalid(f"{name} items must be among {', '.join(allowed)}")
        return list(value)

    def object(self, name: str, *, required: bool) -> dict[str, Any] | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise invalid(f"{name} is required")
            return None
        if not isinstance(value, dict):
            raise invalid(f"{name} must be an object")
        return value


def invalid(message: str) -> RekognitionError:
    return RekognitionError(ErrorType.INVALID_PARAMETER, message)


def not_found(message: str) -> RekognitionError:
    return RekognitionError(ErrorType.RESOURCE_NOT_FOUND, message)


# ---------------------------------------------------------------------------- paging


def encode_token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as bad:
        raise RekognitionError(ErrorType.INVALID_PAGINATION_TOKEN, "NextToken is invalid") from bad


def offset_of(token: str | None) -> int:
    decoded = decode_token(token)
    if decoded is None:
        return 0
    kind, _, number = decoded.partition(":")
    if kind != "offset" or not number.isdigit():
        raise RekognitionError(ErrorType.INVALID_PAGINATION_TOKEN, "NextToken is invalid")
    return int(number)


def offset_token(offset: int) -> str:
    return encode_token(f"offset:{offset}")
