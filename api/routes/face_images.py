"""faces/{face_id}/image: a face's crop or its whole source photo, for the console.

Answers only the face's own project (any other project's key gets 404 from
``authenticate_project_request`` before this runs); browsers may cache the bytes for this
user only (``Cache-Control: private``), since they are personal data.
"""

from __future__ import annotations

from typing import Literal

from flask import Response
from flask_openapi3 import APIBlueprint
from pydantic import Field

from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.request_models import RequestParameters
from api.routes.common import v1_blueprint
from api.schemas import ID_PATTERN, FaceSetPath
from infra.object_store import ObjectNotFound

CACHE_SECONDS = 3600
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"BM", "image/bmp"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
)


class FaceImagePath(FaceSetPath):
    face_id: str = Field(pattern=ID_PATTERN)


class FaceImageQuery(RequestParameters):
    variant: Literal["crop", "source"] = Field(
        "crop", description="the face's crop, or the photo it came from"
    )


def image_media_type(data: bytes) -> str:
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    return "application/octet-stream"


def face_images_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_face_images", "faces", "Faces of a face set, and 1:N search")

    @bp.get(
        "/face-sets/<face_set_name>/faces/<face_id>/image",
        responses={200: {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    def face_image(path: FaceImagePath, query: FaceImageQuery) -> Response:
        """A face's crop (variant=crop) or its source photo (variant=source); the face's
        box in the source is in the face's bounding_box."""
        ctx = current_context()
        _, face = ctx.service.face(path.project_id, path.face_set_name, path.face_id)
        key = face.crop_key if query.variant == "crop" else face.image_key
        if not key:
            raise ApiError(
                ApiErrorCode.NOT_FOUND, "this face was enrolled without a crop; ask for variant=source"
            )
        try:
            data = ctx.store.get(key)
        except ObjectNotFound as missing:
            raise ApiError(ApiErrorCode.NOT_FOUND, "the face's image is no longer stored") from missing
        response = Response(data, mimetype=image_media_type(data))
        response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.vary.add("X-Auth-Token")
        return response

    return bp
