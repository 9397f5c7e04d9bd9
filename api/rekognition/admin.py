"""``/v1/admin/projects/<project_id>/access-keys``: create, list and revoke the access-key
pairs of the Rekognition endpoint. The secret is in the create response only.

Like the rest of ``/v1/admin``: the operator's token (``api.admin_token``) only, never a
project's key; with no admin token configured, use ``facefleet access-key`` instead.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from api.auth import authenticate_admin
from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.rekognition.calls import rekognition_context
from infra.db.errors import NotFound
from infra.db.rekognition import AccessKeyRow, EncryptionNotConfigured

MAX_LABEL_LENGTH = 255


def _authorize(project_id: str) -> None:
    authenticate_admin()
    if current_context().projects.get(project_id) is None:
        raise ApiError(ApiErrorCode.NOT_FOUND, "the project does not exist")


def _row(key: AccessKeyRow) -> dict[str, Any]:
    return {
        "access_key_id": key.id,
        "label": key.label,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def create(project_id: str) -> tuple[Response, int]:
    _authorize(project_id)
    body = request.get_json(silent=True) or {}
    label = body.get("label") if isinstance(body, dict) else None
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH):
        raise ApiError(
            ApiErrorCode.INVALID_PARAMETER, f"label must be a string of at most {MAX_LABEL_LENGTH} characters"
        )
    try:
        issued = rekognition_context().access_keys.create(project_id, label)
    except NotFound as missing:
        raise ApiError(ApiErrorCode.NOT_FOUND, "the project does not exist") from missing
    except EncryptionNotConfigured as off:
        raise ApiError(ApiErrorCode.FORBIDDEN, str(off)) from off
    return (
        jsonify(
            {
                "access_key_id": issued.id,
                "secret_access_key": issued.secret,
                "label": issued.label,
                "created_at": issued.created_at.isoformat(),
            }
        ),
        201,
    )


def list_keys(project_id: str) -> Response:
    _authorize(project_id)
    return jsonify({"access_keys": [_row(key) for key in rekognition_context().access_keys.list(project_id)]})


def revoke(project_id: str, key_id: str) -> Response:
    _authorize(project_id)
    if not rekognition_context().access_keys.revoke(project_id, key_id):
        raise ApiError(ApiErrorCode.NOT_FOUND, "the project has no active access key with this id")
    return jsonify({"access_key_id": key_id, "revoked": True})


def register(app: Flask) -> None:
    bp = Blueprint("rekognition_access_keys", __name__)
    base = "/v1/admin/projects/<project_id>/access-keys"
    bp.add_url_rule(base, "create", create, methods=["POST"])
    bp.add_url_rule(base, "list", list_keys, methods=["GET"])
    bp.add_url_rule(base + "/<key_id>", "revoke", revoke, methods=["DELETE"])
    app.register_blueprint(bp)
