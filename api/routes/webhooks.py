"""A project's webhook settings: its default callback URL (used by asynchronous jobs that
name none) and its signing secret, rotated on request and shown once."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint

from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.ops_schemas import WebhookSecretRotated, WebhookSettingsUpdate, WebhookSettingsView
from api.routes.common import v1_blueprint
from api.schemas import ProjectPath
from infra.webhooks import SIGNATURE_HEADER


def webhook_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_webhook", "webhook", "The project's default callback URL and signing secret")

    @bp.get("/webhook", responses={200: WebhookSettingsView})
    def get_webhook(path: ProjectPath) -> Response:
        """The default callback URL and how callbacks are signed (never the secret)."""
        return jsonify(_view(path.project_id))

    @bp.put("/webhook", responses={200: WebhookSettingsView})
    def set_webhook(path: ProjectPath, body: WebhookSettingsUpdate) -> Response:
        """Set (or clear, with null) the default callback URL; it must pass the same checks
        as a per-request callback_url (FRS.0132 otherwise)."""
        ctx = current_context()
        url = ctx.gateway.checked_callback_url(body.callback_url)
        if not ctx.projects.set_default_callback_url(path.project_id, url):
            raise ApiError(ApiErrorCode.NOT_FOUND, "the project does not exist")
        return jsonify(_view(path.project_id))

    @bp.post("/webhook/secret", responses={200: WebhookSecretRotated})
    def rotate_secret(path: ProjectPath) -> Response:
        """A new signing secret, in this answer only. Callbacks are signed with it from now
        on; a delivery already under way finishes with the secret it started with."""
        secret = current_context().projects.rotate_webhook_secret(path.project_id)
        if secret is None:
            raise ApiError(ApiErrorCode.NOT_FOUND, "the project does not exist")
        return jsonify({"webhook_secret": secret})

    return bp


def _view(project_id: str) -> dict[str, object]:
    ctx = current_context()
    project = ctx.projects.get(project_id)
    return {
        "callback_url": getattr(project, "default_callback_url", None),
        "signature_header": SIGNATURE_HEADER,
        "signature_tolerance_seconds": ctx.settings.webhooks.signature_tolerance_seconds,
    }
