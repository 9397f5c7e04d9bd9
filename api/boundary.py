"""The native API's side of the input boundary (``api.input_bounds``): JSON bodies are
depth-checked before flask-openapi3 or a route parses them, ``InputRefused`` answers
``FRS.0100``, and a 413 names the limit that was actually exceeded.

Dialect blueprints render ``InputRefused`` in their own shape (``api.dialects.common``);
their paths are left alone here.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from api.auth_limits import AuthThrottled
from api.errors import ApiError, ApiErrorCode
from api.input_bounds import InputRefused, check_json_depth
from api.multipart import FormTooLarge, TooManyParts

NATIVE_PREFIX = "/v1/"


def install(app: Flask) -> None:
    @app.before_request
    def _bounded_json_body() -> None:
        if not request.path.startswith(NATIVE_PREFIX) or not request.is_json:
            return
        # A JSON body is parsed whole in memory: it may hold two base64 images (compare),
        # not the 100 MiB a streamed upload may be.
        limit = 2 * (request.max_form_memory_size or 0) + 64 * 1024
        if request.max_form_memory_size and limit < (request.content_length or 0) <= (request.max_content_length or limit):
            raise ApiError(ApiErrorCode.REQUEST_TOO_LARGE, f"a JSON body is larger than {limit} bytes")
        check_json_depth(request.get_data(cache=True))

    @app.errorhandler(AuthThrottled)
    def _throttled(error: AuthThrottled) -> Response:
        response = ApiError(ApiErrorCode.RATE_LIMITED, str(error)).response()
        response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(InputRefused)
    def _refused(error: InputRefused) -> Response:
        code = ApiErrorCode.INVALID_JSON if error.argument == "body" else ApiErrorCode.INVALID_PARAMETER
        return ApiError(code, error.message).response()


def too_large_message(error: HTTPException) -> str:
    """Which request limit raised this 413: the part count or one form field's size (each
    named by ``api.multipart``), or else the whole body, declared too long or, for a chunked
    body that declares no length, found too long while it was read."""
    if isinstance(error, (TooManyParts, FormTooLarge)):
        return str(error.description)
    limit = request.max_content_length
    return f"the request body is larger than {limit} bytes" if limit else "the request body is too large"
