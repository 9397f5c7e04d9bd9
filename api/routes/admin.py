"""The admin API: projects, their API keys and their webhook settings, under the
operator's admin token (``api.admin_token``), never a project's key.

Secrets (a new key, a new webhook secret) appear once, in the answer that creates them;
only a key's hash is stored. Keys are listed by id and name with created, last-used and
revoked times, so a rotation can be finished only once the old key is no longer used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, OpenAPI, Tag

from api.auth import authenticate_admin
from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.ops_schemas import (
    AdminKeyPath,
    AdminProjectPath,
    ApiKeyInfo,
    ApiKeyIssued,
    ApiKeyList,
    KeyCreate,
    ProjectCreate,
    ProjectCreated,
    ProjectInfo,
    ProjectList,
)
from api.query_params import refuse_unknown_query_parameters
from api.routes.common import ERROR_RESPONSES
from infra.db.errors import DuplicateName, NotFound


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_info(key: Any) -> dict[str, Any]:
    return {
        "key_id": key.id,
        "name": key.label,
        "created_at": iso(key.created_at),
        "last_used_at": iso(getattr(key, "last_used_at", None)),
        "revoked_at": iso(getattr(key, "revoked_at", None)),
    }


def project_info(project: Any) -> dict[str, Any]:
    return {"project_id": project.id, "name": project.name, "created_at": iso(project.created_at)}


def register_admin(app: OpenAPI) -> None:
    app.register_api(admin_blueprint())


def admin_blueprint() -> APIBlueprint:
    bp = APIBlueprint(
        "admin",
        __name__,
        url_prefix="/v1/admin",
        abp_tags=[Tag(name="admin", description="Projects, API keys and webhook settings (operator's admin token)")],
        abp_security=[{"token": []}],
        abp_responses=ERROR_RESPONSES,
    )
    bp.before_request(authenticate_admin)
    bp.before_request(refuse_unknown_query_parameters)

    @bp.get("/projects", responses={200: ProjectList})
    def list_projects() -> Response:
        """Every project."""
        return jsonify({"projects": [project_info(project) for project in current_context().projects.list()]})

    @bp.post("/projects", responses={201: ProjectCreated})
    def create_project(body: ProjectCreate) -> Response:
        """A new project with its first key and its webhook secret (both shown once)."""
        ctx = current_context()
        try:
            project = ctx.projects.create(body.name)
        except DuplicateName as taken:
            raise ApiError(ApiErrorCode.INVALID_PARAMETER, f"a project named {body.name!r} already exists") from taken
        issued = ctx.api_keys.create(project.id, label="created with the project")
        response = jsonify(
            {**project_info(project), "api_key": {**key_info(issued), "key": issued.key}, "webhook_secret": project.webhook_secret}
        )
        response.status_code = 201
        return response

    @bp.get("/projects/<project_id>", responses={200: ProjectInfo})
    def get_project(path: AdminProjectPath) -> Response:
        """One project."""
        return jsonify(project_info(_project(path.project_id)))

    @bp.get("/projects/<project_id>/keys", responses={200: ApiKeyList})
    def list_keys(path: AdminProjectPath) -> Response:
        """The project's keys (revoked ones too), oldest first; never their secrets."""
        _project(path.project_id)
        keys = current_context().api_keys.list(path.project_id)
        return jsonify({"project_id": path.project_id, "keys": [key_info(key) for key in keys]})

    @bp.post("/projects/<project_id>/keys", responses={201: ApiKeyIssued})
    def create_key(path: AdminProjectPath, body: KeyCreate) -> Response:
        """A new key for the project; the whole key is in this answer only."""
        _project(path.project_id)
        try:
            issued = current_context().api_keys.create(path.project_id, label=body.name)
        except NotFound as missing:
            raise _no_project(path.project_id) from missing
        response = jsonify({**key_info(issued), "key": issued.key})
        response.status_code = 201
        return response

    @bp.delete("/projects/<project_id>/keys/<key_id>", responses={200: ApiKeyInfo})
    def revoke_key(path: AdminKeyPath) -> Response:
        """Revoke a key: it is refused from the next request on. Revoking twice is harmless."""
        ctx = current_context()
        key = ctx.api_keys.get(path.key_id)
        if key is None or key.project_id != path.project_id:
            raise ApiError(ApiErrorCode.NOT_FOUND, f"the project has no key {path.key_id!r}")
        ctx.api_keys.revoke(path.key_id)
        return jsonify(key_info(ctx.api_keys.get(path.key_id)))

    return bp


def _project(project_id: str) -> Any:
    project = current_context().projects.get(project_id)
    if project is None:
        raise _no_project(project_id)
    return project


def _no_project(project_id: str) -> ApiError:
    return ApiError(ApiErrorCode.NOT_FOUND, f"project {project_id[:64]!r} does not exist")
