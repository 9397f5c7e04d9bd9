"""Helpers shared by the job handlers: loading inputs once and describing faces as result models."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from core import results
from core.errors import ErrorCode
from infra.errors import ObjectNotFound
from pipelines.engine import FaceResult
from pipelines.errors import PipelineError
from pipelines.types import DecodedImage, DetectedFace
from workers.errors import JobFailure
from workers.execution import JobContext

# Threads that read and decode a job's images ahead of it. Few: the job takes its images in
# order, and with eight decoding at once on a 2-core host the first image was ready only
# when most were (a chunk's job thread waited for images 34 % of its time; 9-11 % with two).
IMAGE_READERS = 2

Item = TypeVar("Item")
Output = TypeVar("Output")


def map_concurrently(function: Callable[[Item], Output], items: Sequence[Item], at_most: int) -> list[Output]:
    """``function`` of each item, in order, at most ``at_most`` at once: for object-store round
    trips, which leave the core idle. The first failure is raised; one item runs here."""
    if len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(at_most, len(items))) as threads:
        return list(threads.map(function, items))


def load_image(ctx: JobContext, key: str) -> DecodedImage:
    """Read an image once (from the task message when it came inline, else from the object
    store) and decode it with the configured limits."""
    return ctx.runtime.decode(_image_bytes(ctx, key))


def iter_images(
    ctx: JobContext, keys: list[str], prepare: Callable[[DecodedImage], DecodedImage] | None = None
) -> Iterator[DecodedImage | PipelineError | JobFailure]:
    """``load_image`` for each key, then ``prepare`` (``FacePipeline.prepared``), in order,
    with each failure in its image's place. Threads read, decode and prepare ahead of the
    caller, so that its work on one image (detection) overlaps the object-store round trips,
    the decoding and the scaling of the next: all leave the job's core to others (the
    store's wait; Pillow's decoder and OpenCV's scaling release the GIL)."""

    def read(key: str) -> DecodedImage | PipelineError | JobFailure:
        return _load_or_failure(ctx, key, prepare)

    if len(keys) < 2:
        yield from (read(key) for key in keys)
        return
    threads = ThreadPoolExecutor(max_workers=min(IMAGE_READERS, len(keys)), thread_name_prefix="image-reader")
    try:
        yield from threads.map(read, keys)
    finally:
        # A caller that stops early (its job failed) does not wait for the reads ahead.
        threads.shutdown(wait=False, cancel_futures=True)


def _load_or_failure(
    ctx: JobContext, key: str, prepare: Callable[[DecodedImage], DecodedImage] | None = None
) -> DecodedImage | PipelineError | JobFailure:
    try:
        image = load_image(ctx, key)
        return prepare(image) if prepare is not None else image
    except (PipelineError, JobFailure) as failure:
        return failure


def _image_bytes(ctx: JobContext, key: str) -> bytes:
    carried = ctx.inline_images.get(key)
    if carried is not None:
        return carried
    try:
        data: bytes = ctx.runtime.store.get(key)
    except ObjectNotFound as missing:
        raise JobFailure(ErrorCode.INVALID_IMAGE, "the image of this job is no longer stored") from missing
    return data


def detected_face(face: DetectedFace, analysis: Mapping[str, Any] | None = None) -> results.DetectedFace:
    """A detected face as every result shows it (with the analysis a detect job asked for)."""
    return results.DetectedFace(
        bounding_box=results.Box.of(face.box),
        confidence=round(float(face.confidence), 6),
        landmarks=[results.Point(x=round(p.x, 2), y=round(p.y, 2)) for p in face.landmarks],
        **(analysis or {}),
    )


def largest(results: list[FaceResult]) -> FaceResult:
    if not results:
        raise JobFailure(ErrorCode.NO_FACE, "no face was detected in the image")
    return max(results, key=lambda r: r.face.box.area)


def stable_face_id(*parts: object) -> str:
    """A face id derived from what produced the face, so a redelivered job yields the same
    ids and its writes become no-ops. 16 base-32 characters carry 80 bits."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()[:16]
