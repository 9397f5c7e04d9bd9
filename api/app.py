"""The Flask application factory: native API v1, OpenAPI document, docs, operations.

``create_app(settings)`` wires the infra adapters into an ``ApiContext`` (see
``api.context``), registers the v1 blueprints and, when present, the seed dialects from
``api.dialects``. Cross-cutting behaviour lives here: one error format for everything
(including Flask's own 404/405/413 and flask-limiter's 429), per-key rate limits, request
size limits, CORS (off unless origins are configured) and Prometheus metrics.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import Response, jsonify, redirect, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_openapi3 import Info, OpenAPI
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError as SqlOperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response as BaseResponse

from api import auth_limits, boundary, dialects, metrics
from api.bodies import describe_validation_error
from api.console import console_blueprint
from api.context import ApiContext, build_context
from api.errors import ApiError, ApiErrorCode, domain_error
from api.fleet_history import fleet_history_blueprint
from api.multipart import FastFormRequest
from api.openapi_links import LinkedOpenAPI
from api.rekognition import register as register_rekognition
from api.rekognition.admin import register as register_access_key_admin
from api.rekognition.auth import access_key_id_of
from api.routes import register_v1
from api.routes.admin import register_admin
from api.routes.fleet import install_fleet_signals
from api.routes.ops import ops_blueprint
from core.errors import DomainError
from infra.errors import TransientInfraError
from infra.settings import Settings

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SECURITY_SCHEMES: dict[str, Any] = {"token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}}
_STATUS_CODES: dict[int, ApiErrorCode] = {
    400: ApiErrorCode.INVALID_PARAMETER,
    401: ApiErrorCode.AUTH_TOKEN_ABNORMAL,
    403: ApiErrorCode.FORBIDDEN,
    404: ApiErrorCode.NOT_FOUND,
    405: ApiErrorCode.METHOD_NOT_ALLOWED,
    413: ApiErrorCode.REQUEST_TOO_LARGE,
    415: ApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ApiErrorCode.RATE_LIMITED,
}


def create_app(settings: Settings | None = None, context: ApiContext | None = None) -> OpenAPI:
    settings = settings or Settings()
    app = LinkedOpenAPI(
        __name__,
        info=Info(title="FaceFleet API", version=API_VERSION, description=_DESCRIPTION),
        security_schemes=SECURITY_SCHEMES,
        validation_error_status=400,
        validation_error_callback=_validation_error_response,
        doc_prefix="/docs",
        doc_url="/openapi.json",
    )
    app.request_class = FastFormRequest
    app.config.update(
        MAX_CONTENT_LENGTH=settings.api.max_request_bytes,
        # Non-file form fields (image_base64 sent as a form field) are held in memory.
        MAX_FORM_MEMORY_SIZE=settings.images.max_bytes * 4 // 3 + 64 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["facefleet"] = context or build_context(settings)

    _install_error_handlers(app)
    boundary.install(app)
    auth_limits.install(app, settings)
    _keep_retry_after_for_refusals(app)  # before the limiter: after-request hooks run in reverse
    _install_rate_limits(app, settings)
    if settings.api.cors_origins:
        CORS(app, origins=settings.api.cors_origins, expose_headers=["Location", "Retry-After"])
    metrics.install(app, job_outcomes=getattr(app.extensions["facefleet"].jobs, "outcome_counts", None))

    register_v1(app)
    register_admin(app)
    app.register_api(ops_blueprint())
    install_fleet_signals(app, app.extensions["facefleet"])
    app.register_api(fleet_history_blueprint())
    app.register_blueprint(console_blueprint())
    dialects.register(app)
    register_rekognition(app)
    register_access_key_admin(app)

    app.add_url_rule("/v1/openapi.json", "openapi_v1", lambda: jsonify(app.api_doc))
    app.add_url_rule("/docs", "docs_home", lambda: redirect("/docs/swagger", code=302))
    return app


def _validation_error_response(error: ValidationError) -> Response:
    locations = {str(item["loc"][0]) for item in error.errors(include_url=False) if item["loc"]}
    if IDEMPOTENCY_HEADER.lower() in {location.lower() for location in locations}:
        return ApiError(ApiErrorCode.IDEMPOTENCY_KEY_INVALID).response()
    return ApiError(ApiErrorCode.INVALID_PARAMETER, describe_validation_error(error)).response()


def _install_error_handlers(app: OpenAPI) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error.response()

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return domain_error(error).response()

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> BaseResponse:
        if error.response is not None:  # flask-openapi3 aborts with a ready response
            return error.response
        status = error.code or 500
        code = _STATUS_CODES.get(status)
        if code is None:
            return ApiError(ApiErrorCode.INTERNAL).response() if status >= 500 else _generic(status, error)
        message = None
        if status == 429:
            message = f"rate limit exceeded ({error.description}); retry later"
        elif status == 413:
            message = boundary.too_large_message(error)
        response = ApiError(code, message).response()
        if status == 429:
            retry_after = getattr(error, "retry_after", None)
            if retry_after:
                response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(TransientInfraError)
    def _unavailable(error: TransientInfraError) -> Response:
        log.warning("dependency unavailable: %s", error)
        return ApiError(ApiErrorCode.STORAGE_UNAVAILABLE, f"{error.service} is unreachable; retry later").response()

    @app.errorhandler(SqlOperationalError)
    def _database_unavailable(error: SqlOperationalError) -> Response:
        log.warning("database unavailable: %s", error.__class__.__name__)
        return ApiError(ApiErrorCode.STORAGE_UNAVAILABLE, "the database is unreachable; retry later").response()

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return ApiError(ApiErrorCode.INTERNAL).response()


def _keep_retry_after_for_refusals(app: OpenAPI) -> None:
    """flask-limiter sends Retry-After (the window's reset) on every response; on a success it
    tells clients to wait for nothing. Refusals keep it: 429 and 503 natively, and the 400 that
    Rekognition's ProvisionedThroughputExceededException travels in."""

    @app.after_request
    def _drop_retry_after(response: Response) -> Response:
        if response.status_code < 400:
            response.headers.pop("Retry-After", None)
        return response


def _generic(status: int, error: HTTPException) -> Response:
    response = jsonify({"error_code": ApiErrorCode.INVALID_PARAMETER.spec.code, "error_msg": error.description})
    response.status_code = status
    return response


def _rate_limit_key() -> str:
    """Per API key without a database read (limits run before authentication): the
    token's hash; anonymous requests share their address's bucket."""
    # Native and dialect credentials alike: every client key gets its own bucket.
    token = (
        request.headers.get("X-Auth-Token")
        or request.headers.get("X-GW-Authorization")
        # Seed 001 sends its key as a form field; only its paths are parsed early, since
        # reading the form would consume the streamed body of a batch upload.
        or (request.values.get("Kvalue") if request.path.startswith("/api/") else None)
    )
    if token:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    access_key_id = access_key_id_of(request.headers.get("Authorization", ""))  # Rekognition's SigV4
    if access_key_id:
        return "access-key:" + access_key_id
    return "addr:" + auth_limits.client_address()


def _install_rate_limits(app: OpenAPI, settings: Settings) -> None:
    limit = settings.api.rate_limit_per_minute
    limiter = Limiter(
        _rate_limit_key,
        app=app,
        default_limits=[f"{limit}/minute"] if limit > 0 else [],
        # Every API path, native and dialect; operations and documentation are exempt.
        default_limits_exempt_when=lambda: request.path in ("/v1/openapi.json", "/healthz", "/readyz", "/metrics")
        or request.path.startswith(("/docs", "/static", "/console")),
        headers_enabled=True,
        storage_uri=settings.api.rate_limit_storage_uri,
        # A sliding window: no double burst across a window boundary (fixed windows allow one).
        strategy="moving-window",
        # A broken limiter storage must not take the API down with it.
        swallow_errors=True,
    )
    app.extensions["facefleet_limiter"] = limiter


_DESCRIPTION = """Self-hosted face recognition. Shaped after the Huawei FRS API: every path is
under `/v1/{project_id}/`, authenticated with `X-Auth-Token`. Compute endpoints run
synchronously within a bounded wait; send `Prefer: respond-async` or `?async=true` to get
`202` with a job at once. Errors are `{"error_code": "FRS.xxxx", "error_msg": "..."}`;
see docs/API.md for every code."""

