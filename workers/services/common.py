"""Helpers shared by the job handlers: loading inputs once and rendering faces as JSON."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from core.errors import ErrorCode
from infra.errors import ObjectNotFound
from pipelines.engine import FaceResult
from pipelines.types import BoundingBox, DecodedImage, DetectedFace
from workers.errors import JobFailure
from workers.execution import JobContext


def load_image(ctx: JobContext, key: str) -> DecodedImage:
    """Read an image once (from the task message when it came inline, else from the object
    store) and decode it with the configured limits."""
    carried = ctx.inline_images.get(key)
    if carried is not None:
        return ctx.runtime.decode(carried)
    try:
        data = ctx.runtime.store.get(key)
    except ObjectNotFound as missing:
        raise JobFailure(ErrorCode.INVALID_IMAGE, "the image of this job is no longer stored") from missing
    return ctx.runtime.decode(data)


def box_json(box: BoundingBox) -> dict[str, int]:
    return {"top_left_x": box.x, "top_left_y": box.y, "width": box.width, "height": box.height}


def face_json(face: DetectedFace) -> dict[str, Any]:
    return {
        "bounding_box": box_json(face.box),
        "confidence": round(float(face.confidence), 6),
        "landmarks": [{"x": round(p.x, 2), "y": round(p.y, 2)} for p in face.landmarks],
    }


def largest(results: list[FaceResult]) -> FaceResult:
    if not results:
        raise JobFailure(ErrorCode.NO_FACE, "no face was detected in the image")
    return max(results, key=lambda r: r.face.box.area)


def stable_face_id(*parts: object) -> str:
    """A face id derived from what produced the face, so a redelivered job yields the same
    ids and its writes become no-ops. 16 base-32 characters carry 80 bits."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()[:16]
