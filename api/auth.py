"""X-Auth-Token authentication and project scoping for /v1/{project_id}/ routes.

The key's project must be the path's project. Any other project id answers 404, exactly
like a project that does not exist, so a key cannot probe which projects exist.
"""

from __future__ import annotations

from flask import g, request

from api.context import current_context
from api.errors import ApiError, ApiErrorCode

TOKEN_HEADER = "X-Auth-Token"
MAX_TOKEN_LENGTH = 512


def authenticate_key() -> None:
    """Any valid key: for fleet-wide, tenant-free endpoints such as queue signals."""
    token = request.headers.get(TOKEN_HEADER, "")
    if not token or len(token) > MAX_TOKEN_LENGTH or current_context().api_keys.authenticate(token) is None:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL)


def authenticate_project_request() -> None:
    token = request.headers.get(TOKEN_HEADER, "")
    if not token:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL, f"the {TOKEN_HEADER} header is missing")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL)
    key = current_context().api_keys.authenticate(token)
    if key is None:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL)
    project_id = (request.view_args or {}).get("project_id")
    if project_id != key.project_id:
        raise ApiError(ApiErrorCode.NOT_FOUND, "the project does not exist")
    g.project_id = key.project_id
    g.api_key_id = key.id


def current_project_id() -> str:
    return str(g.project_id)
