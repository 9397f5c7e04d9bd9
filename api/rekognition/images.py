"""Rekognition's ``Image`` member: ``Bytes`` (base64 on the wire) or ``S3Object``.

The bytes are stored once in FaceFleet's object store (content-hash key) for the worker;
the front end reads only the image's header, for its size: Rekognition answers bounding
boxes as ratios of the image.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from api.context import current_context
from api.rekognition.protocol import ErrorType, RekognitionError, invalid
from infra.errors import ObjectNotFound
from infra.object_store.source_buckets import BucketNotAllowed, SourceBuckets, SourceObjectTooLarge

MAX_BYTES_INLINE = 5 * 1024 * 1024  # Rekognition's limit for Image.Bytes
# EXIF orientations that turn the picture a quarter: the decoded image's sides swap.
_QUARTER_TURNS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class StoredImage:
    key: str
    width: int
    height: int


def stored_image(image: dict[str, Any] | None, member: str, sources: SourceBuckets) -> StoredImage:
    if image is None:
        raise invalid(f"{member} is required")
    data_text, s3_object = image.get("Bytes"), image.get("S3Object")
    if (data_text is None) == (s3_object is None):
        raise invalid(f"{member} must hold exactly one of Bytes and S3Object")
    if data_text is not None:
        data = _inline_bytes(data_text, member)
    else:
        data = _s3_bytes(s3_object, member, sources)
    width, height = image_size(data)
    key = current_context().intake.put(data)
    return StoredImage(key, width, height)


def _inline_bytes(text: Any, member: str) -> bytes:
    if not isinstance(text, str):
        raise invalid(f"{member}.Bytes must be base64 text")
    if len(text) > (MAX_BYTES_INLINE + 2) // 3 * 4 + 4:
        raise RekognitionError(
            ErrorType.IMAGE_TOO_LARGE, f"{member}.Bytes is larger than {MAX_BYTES_INLINE} bytes"
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as bad:
        raise RekognitionError(ErrorType.INVALID_IMAGE_FORMAT, f"{member}.Bytes is not valid base64") from bad
    if not data:
        raise RekognitionError(ErrorType.INVALID_IMAGE_FORMAT, f"{member}.Bytes is empty")
    if len(data) > MAX_BYTES_INLINE:
        raise RekognitionError(
            ErrorType.IMAGE_TOO_LARGE, f"{member}.Bytes is larger than {MAX_BYTES_INLINE} bytes"
        )
    return data


def _s3_bytes(s3_object: Any, member: str, sources: SourceBuckets) -> bytes:
    if not isinstance(s3_object, dict):
        raise invalid(f"{member}.S3Object must be an object")
    bucket, name, version = s3_object.get("Bucket"), s3_object.get("Name"), s3_object.get("Version")
    if not isinstance(bucket, str) or not bucket or not isinstance(name, str) or not name:
        raise invalid(f"{member}.S3Object needs Bucket and Name")
    if version is not None and (not isinstance(version, str) or not version):
        raise invalid(f"{member}.S3Object.Version must be a non-empty string")
    try:
        return sources.read(bucket, name, version, current_context().settings.images.max_bytes)
    except BucketNotAllowed as refused:
        raise RekognitionError(ErrorType.ACCESS_DENIED, str(refused)) from refused
    except ObjectNotFound as missing:
        raise RekognitionError(
            ErrorType.INVALID_S3_OBJECT,
            "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
        ) from missing
    except SourceObjectTooLarge as large:
        raise RekognitionError(ErrorType.IMAGE_TOO_LARGE, str(large)) from large


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) as the worker will see the image (EXIF orientation applied), read
    from the header only; anything PIL cannot identify is InvalidImageFormatException."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            orientation = opened.getexif().get(_EXIF_ORIENTATION)
    except Image.DecompressionBombError as huge:
        raise RekognitionError(ErrorType.IMAGE_TOO_LARGE, "the image has too many pixels") from huge
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as bad:
        raise RekognitionError(ErrorType.INVALID_IMAGE_FORMAT, "Request has invalid image format") from bad
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return width, height
