"""X-Auth-Token authentication and project scoping for /v1/{project_id}/ routes.

The key's project must be the path's project. Any other project id answers 404, exactly
like a project that does not exist, so a key cannot probe which projects exist.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from flask import g, request

from api.auth_limits import MAX_TOKEN_LENGTH, authenticate_limited
from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from infra.db.projects import KEY_USE_RESOLUTION

TOKEN_HEADER = "X-Auth-Token"
__all__ = ["MAX_TOKEN_LENGTH", "TOKEN_HEADER", "authenticate_operator", "authenticate_project_request"]


def authenticate_operator() -> None:
    """Fleet-wide, tenant-free endpoints (queue signals): the operator's token when one is
    configured (``X-Auth-Token`` or ``Authorization: Bearer``), else any valid key."""
    admin_token = current_context().settings.api.admin_token.get_secret_value()
    token = request.headers.get(TOKEN_HEADER, "") or _bearer_token()
    if not token:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL)
    if admin_token:
        if authenticate_limited(token, _is_token(admin_token)) is None:
            raise ApiError(ApiErrorCode.FORBIDDEN, "only the operator's token may read fleet signals")
        return
    if authenticate_limited(token, current_context().api_keys.authenticate) is None:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL)


def authenticate_admin() -> None:
    """The admin API (projects, keys, webhook settings): only the operator's token, and
    nothing at all when none is configured; a project key never manages projects."""
    admin_token = current_context().settings.api.admin_token.get_secret_value()
    token = request.headers.get(TOKEN_HEADER, "") or _bearer_token()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL, "the operator's admin token is missing")
    if not admin_token:
        raise ApiError(
            ApiErrorCode.FORBIDDEN,
            "the admin API is off: no admin token is configured (FACEFLEET_API__ADMIN_TOKEN)",
        )
    if authenticate_limited(token, _is_token(admin_token)) is None:  # guesses are limited like keys
        raise ApiError(ApiErrorCode.FORBIDDEN, "only the operator's admin token may use the admin API")


def _is_token(expected: str) -> Any:
    """A verifier for ``authenticate_limited``: True for ``expected``, else None."""

    def verify(candidate: str) -> bool | None:
        return True if hmac.compare_digest(candidate.encode(), expected.encode()) else None

    return verify


def _bearer_token() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def authenticate_project_request() -> None:
    token = request.headers.get(TOKEN_HEADER, "")
    if not token:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL, f"the {TOKEN_HEADER} header is missing")
    # Over-long tokens are failures too (api.auth_limits counts them, then refuses them).
    key = authenticate_limited(token, current_context().api_keys.authenticate)
    if key is None:
        raise ApiError(ApiErrorCode.AUTH_TOKEN_ABNORMAL)
    project_id = (request.view_args or {}).get("project_id")
    if project_id != key.project_id:
        raise ApiError(ApiErrorCode.NOT_FOUND, "the project does not exist")
    g.project_id = key.project_id
    g.api_key_id = key.id
    _note_key_use(key)


def _note_key_use(key: Any) -> None:
    last_used = getattr(key, "last_used_at", None)
    if last_used is None or datetime.now(UTC) - last_used >= KEY_USE_RESOLUTION:
        current_context().api_keys.touch(key.id)
