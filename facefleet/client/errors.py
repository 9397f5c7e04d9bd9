"""Typed errors: every failure of the API arrives as ``FaceFleetError`` with its code."""

from __future__ import annotations

from typing import Any


class FaceFleetError(Exception):
    """The API answered with its error format ``{"error_code", "error_msg"}``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class NotFound(FaceFleetError):
    """404: the resource does not exist (or belongs to another project)."""


class AuthenticationFailed(FaceFleetError):
    """401: the API key is missing, revoked or wrong."""


class RateLimited(FaceFleetError):
    """429, after the client's own retries."""


class Unavailable(FaceFleetError):
    """503 or no connection, after the client's own retries: retry later."""


class JobFailed(FaceFleetError):
    """An asynchronous job ended ``failed``."""


class JobTimeout(FaceFleetError):
    """``Job.wait`` ran out of time while the job was still running."""


_BY_STATUS: dict[int, type[FaceFleetError]] = {
    401: AuthenticationFailed,
    404: NotFound,
    429: RateLimited,
    503: Unavailable,
}


def error_from_response(status: int, body: Any) -> FaceFleetError:
    body = body if isinstance(body, dict) else {}
    code = str(body.get("error_code") or f"HTTP.{status}")
    message = str(body.get("error_msg") or "request failed")
    return _BY_STATUS.get(status, FaceFleetError)(status, code, message, body.get("error_details"))
