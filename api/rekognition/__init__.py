"""A Rekognition-compatible front end: AWS's JSON 1.1 protocol at ``/rekognition``.

``POST /rekognition`` with ``X-Amz-Target: RekognitionService.<Operation>`` and a SigV4
signature by one of the project's access keys; boto3 and the AWS CLI use it with
``endpoint_url=<FaceFleet URL>/rekognition``. Every operation is a thin translation onto the
same ``FaceService`` / job gateway as the native API (docs/REKOGNITION.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from api.auth_limits import AuthThrottled, authenticate_limited
from api.rekognition import collections, faces, users
from api.rekognition.auth import access_key_id_of, authenticate
from api.rekognition.calls import Call, rekognition_context
from api.rekognition.protocol import ErrorType, Params, RekognitionError, error_of, json_response
from infra.db.rekognition import EncryptionNotConfigured

PATH = "/rekognition"
TARGET_PREFIX = "RekognitionService."
MAX_BODY_BYTES = 16 * 1024 * 1024

Operation = Callable[[Call], dict[str, Any]]
OPERATIONS: dict[str, Operation] = {
    "CreateCollection": collections.create_collection,
    "DescribeCollection": collections.describe_collection,
    "ListCollections": collections.list_collections,
    "DeleteCollection": collections.delete_collection,
    "IndexFaces": faces.index_faces,
    "ListFaces": faces.list_faces,
    "DeleteFaces": faces.delete_faces,
    "SearchFaces": faces.search_faces,
    "SearchFacesByImage": faces.search_faces_by_image,
    "CompareFaces": faces.compare_faces,
    "DetectFaces": faces.detect_faces,
    "CreateUser": users.create_user,
    "DeleteUser": users.delete_user,
    "ListUsers": users.list_users,
    "AssociateFaces": users.associate_faces,
    "DisassociateFaces": users.disassociate_faces,
    "SearchUsers": users.search_users,
    "SearchUsersByImage": users.search_users_by_image,
}


def serve() -> Response:
    try:
        return _serve()
    except Exception as failure:  # noqa: BLE001  # every failure leaves in Rekognition's error shape
        response = error_of(failure).response()
        retry_after = getattr(failure, "retry_after", None)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response


def _serve() -> Response:
    # Two 5 MB images as base64 (CompareFaces) fit; the body is read before the signature
    # can be checked, so nothing larger is ever read.
    if request.content_length is None or request.content_length > MAX_BODY_BYTES:
        raise RekognitionError(
            ErrorType.IMAGE_TOO_LARGE, f"the request body must be at most {MAX_BODY_BYTES} bytes"
        )
    target = request.headers.get("X-Amz-Target", "")
    operation = OPERATIONS.get(target[len(TARGET_PREFIX) :]) if target.startswith(TARGET_PREFIX) else None
    context = rekognition_context()
    settings = context.api.settings.rekognition
    try:
        caller = _limited_authentication(context, settings.max_clock_skew_seconds)
    except EncryptionNotConfigured as off:
        raise RekognitionError(
            ErrorType.UNRECOGNIZED_CLIENT, "access keys are not enabled on this server"
        ) from off
    g.project_id = caller.project_id
    if operation is None:
        raise RekognitionError(ErrorType.UNKNOWN_OPERATION, f"unknown operation {target[:128]!r}")
    g.metrics_route = f"{PATH}#{target[len(TARGET_PREFIX) :]}"  # one of OPERATIONS: a bounded label set
    params = Params.parse(request.get_data(cache=True))
    return json_response(operation(Call(caller.project_id, caller.region, params, context)))


def _limited_authentication(context: Any, max_skew_seconds: int) -> Any:
    """SigV4 authentication counted by the failed-authentication limiter (per client
    address and per access key id), as every other surface's keys are."""
    refusals: list[RekognitionError] = []

    def verify(_: str) -> Any:
        try:
            return authenticate(request, context.access_keys, max_skew_seconds)
        except RekognitionError as refused:
            refusals.append(refused)
            return None

    try:
        # The signature changes on every request; the access key id names the credential.
        key_id = access_key_id_of(request.headers.get("Authorization", "")) or "-"
        caller = authenticate_limited("rekognition:" + key_id[:128], verify)
    except AuthThrottled as throttled:
        error = RekognitionError(ErrorType.THROUGHPUT_EXCEEDED, "too many failed authentications; retry later")
        error.retry_after = throttled.retry_after  # type: ignore[attr-defined]
        raise error from throttled
    if caller is None:
        raise refusals[0] if refusals else RekognitionError(ErrorType.UNRECOGNIZED_CLIENT, "unknown access key")
    return caller


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 429:
        return RekognitionError(ErrorType.THROUGHPUT_EXCEEDED, "Provisioned rate exceeded").response()
    if status == 413:
        return RekognitionError(
            ErrorType.IMAGE_TOO_LARGE, "the request body is larger than allowed"
        ).response()
    if status >= 500:
        return RekognitionError(ErrorType.INTERNAL, "internal server error").response()
    return RekognitionError(ErrorType.INVALID_PARAMETER, error.description or "bad request").response()


def register(app: Flask) -> None:
    bp = Blueprint("rekognition", __name__)
    bp.add_url_rule(PATH, "serve", serve, methods=["POST"])
    bp.add_url_rule(PATH + "/", "serve_slash", serve, methods=["POST"])
    bp.register_error_handler(HTTPException, _http_error)
    app.register_blueprint(bp)
