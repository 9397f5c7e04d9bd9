"""Seed 003's status codes, their messages, and how every failure maps onto them."""

from __future__ import annotations

from typing import Any

from api.dialects.common import (
    Failure,
    server_error_status,
)
from core.errors import ErrorCode

MESSAGES = {
    40201: "Not enough param",
    40202: "param too long",
    40203: "invalid param",
    40300: "Empty image",
    40301: "Image darkness error",
    40302: "Image quality error",
    40303: "Image bright error",
    40304: "No face",
    40305: "Face direction match error",
    40306: "More than one face",
    40307: "app_id error",
    40308: "Input image error",
    40309: "user_id image not registed",
    40310: "user_id error",
    40311: "Not single face",
    40312: "Database has no similar face",
    40313: "Delete faceid failed",
    40314: "Detect face failed",
    40315: "Database has same face",
    40316: "Dababase has no appid",
    40317: "Dababase has no userid",
    40318: "Faceid error",
}
# check_result -> status code of a refused face
CODE_OF_CHECK = {10: 40304, 20: 40302, 30: 40303, 31: 40301, 40: 40305, 50: 40314}
CHECK_OF_ISSUE = {"blurry": 20, "bright": 30, "dark": 31, "wrong_direction": 40}
MISSING_CODES = {"image": 40300, "app_id": 40307, "user_id": 40310, "face_id": 40318}
# Refusals the document has no code of their own for: "invalid param".
REFUSED_ARGUMENTS = frozenset(
    {
        ErrorCode.INVALID_ARGUMENT,
        ErrorCode.INVALID_EXTERNAL_FIELDS,
        ErrorCode.INVALID_SORT,
        ErrorCode.FACE_SET_EXISTS,
        ErrorCode.FACE_SET_LIMIT,
        ErrorCode.JOB_NOT_FOUND,
    }
)


class Status(Failure):
    """A documented non-200 outcome, with the fields the endpoint answers beside it."""

    def __init__(self, code: int, **fields: Any) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, MESSAGES[code])
        self.code = code
        self.fields = fields


def status_of(failure: Failure) -> tuple[int, int, dict[str, Any]]:
    """(HTTP status, code, extra fields) of any failure."""
    if isinstance(failure, Status):
        return 200, failure.code, failure.fields
    reason = failure.reason
    if reason is ErrorCode.MISSING_ARGUMENT:
        return 200, MISSING_CODES.get(failure.argument or "", 40201), {}
    if reason is ErrorCode.EMPTY_IMAGE:
        return 200, 40300, {}
    if reason in (
        ErrorCode.INVALID_IMAGE,
        ErrorCode.UNSUPPORTED_FORMAT,
        ErrorCode.IMAGE_TOO_LARGE,
        ErrorCode.IMAGE_TOO_SMALL,
    ):
        return 200, 40308, {}
    if reason is ErrorCode.NO_FACE:
        return 200, 40304, {"check_result": 10}
    if reason is ErrorCode.MULTIPLE_FACES:
        return 200, 40306, {"check_result": 50}
    if reason is ErrorCode.LOW_QUALITY:
        issues = failure.details.get("reasons", [])
        check = next((CHECK_OF_ISSUE[i] for i in issues if i in CHECK_OF_ISSUE), 50)
        return 200, CODE_OF_CHECK[check], {"check_result": check}
    if reason is ErrorCode.DUPLICATE_FACE:
        return 200, 40315, {}
    if reason is ErrorCode.FACE_SET_NOT_FOUND:
        return 200, 40316, {}
    if reason in REFUSED_ARGUMENTS:
        return 200, 40203, {}
    return server_error_status(reason), 40314, {}
