"""An enrollment chunk's images, enrolled together: the pipeline's fixed costs paid once.

Each image is read, decoded and detected on its own (and fails on its own, as a rejected
item); reading and decoding run ahead of detection in two threads. The faces each image
keeps are then embedded in one ONNX call (batched inference is cheaper per face) while
their crops are written, and their vectors go in one upsert and their rows in one
transaction (``enroll.store_planned``). Face ids are those one-image-at-a-time
enrollment computes, so a redelivered chunk rewrites the same faces and adds none.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from core.errors import ErrorCode
from core.payloads import BatchItem, EnrollChunkPayload
from core.results import BatchItemReport, EnrolledFace, ItemStatus
from infra.filter_columns import FilterColumns
from pipelines.engine import FaceResult
from pipelines.errors import PipelineError
from pipelines.types import DecodedImage, DetectedFace
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.common import iter_images
from workers.services.enroll import EnrollTarget, PlannedFaces, plan_faces, store_crops, store_planned


def refused_item(index: int, item: BatchItem) -> BatchItemReport:
    """An item the intake already refused (or one without an image)."""
    return _report(
        index,
        item,
        "rejected",
        reason=item.rejected or "invalid_image",
        message=item.rejected_message or None,
    )


def rejected_item(index: int, item: BatchItem, error: PipelineError | JobFailure) -> BatchItemReport:
    if isinstance(error, PipelineError):
        return _report(index, item, "rejected", reason=str(error.code), message=error.message)
    return _report(
        index, item, "rejected", reason=error.code.value, message=error.message, details=error.details or None
    )


def enrolled_item(index: int, item: BatchItem, faces: list[EnrolledFace]) -> BatchItemReport:
    duplicate = any(face.duplicate_of is not None for face in faces)
    return _report(index, item, "duplicate" if duplicate else "added", faces=faces)


def _report(
    index: int,
    item: BatchItem,
    status: ItemStatus,
    *,
    reason: str | None = None,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    faces: list[EnrolledFace] | None = None,
) -> BatchItemReport:
    return BatchItemReport(
        index=index,
        source=item.source,
        external_image_id=item.external_image_id,
        status=status,
        reason=reason,
        message=message,
        details=details,
        faces=faces,
    )


def enroll_chunk_items(
    ctx: JobContext,
    payload: EnrollChunkPayload,
    chunk: list[tuple[int, BatchItem]],
    columns: FilterColumns,
    models: tuple[str, str | None],
) -> list[BatchItemReport]:
    """The per-item report of ``chunk`` (index, item), in order; ``models``: the face set's
    model and the one a running reindex also writes (or None)."""
    report: dict[int, BatchItemReport] = {}
    wanted: list[tuple[int, BatchItem, str]] = []
    for index, item in chunk:
        if item.rejected is not None or item.image_key is None:
            report[index] = refused_item(index, item)
        else:
            wanted.append((index, item, item.image_key))
    pipeline = ctx.runtime.pipeline_for(models[0])
    # Each image is detected as soon as it is read and decoded (the next ones are read
    # meanwhile); the faces of all of them are then embedded in one call.
    detected: list[tuple[int, BatchItem, DecodedImage, list[DetectedFace]]] = []
    images = iter_images(ctx, [key for *_, key in wanted], prepare=pipeline.prepared)
    for (index, item, _), image in zip(wanted, images, strict=True):
        try:
            if isinstance(image, (PipelineError, JobFailure)):
                raise image
            faces = pipeline.detect(image, landmarks=False)
            # The scaled copy is done with; the chunk keeps its photos until they are embedded.
            detected.append((index, item, replace(image, detection_copy=None), faces))
        except (PipelineError, JobFailure) as error:
            report[index] = rejected_item(index, item, error)

    # Faces are chosen (select, quality gate, ids) before any is embedded, so that only the
    # kept ones are; the batched path checks no duplicates, the one choice that needs vectors.
    items = dict(chunk)
    planned: list[tuple[int, PlannedFaces]] = []
    for index, item, image, faces in detected:
        try:
            target = chunk_item_target(payload, item, columns, models)
            seed = f"{payload.parent_job_id}:{index}"
            unembedded = [FaceResult(face) for face in faces]
            planned.append((index, plan_faces(ctx, target, image, unembedded, payload.options, seed)))
        except (PipelineError, JobFailure) as error:
            report[index] = rejected_item(index, item, error)
    if planned:
        refusals = _embed_with_crops(ctx, pipeline, [plan for _, plan in planned])
        for (index, _), refusal in zip(planned, refusals, strict=True):
            if refusal is not None:
                report[index] = rejected_item(index, items[index], refusal)
        planned = [entry for entry, refusal in zip(planned, refusals, strict=True) if refusal is None]
    if planned:
        added = store_planned(ctx, [plan for _, plan in planned], crops_stored=True)
        for (index, plan), stored in zip(planned, added, strict=True):
            if stored:
                report[index] = enrolled_item(index, items[index], plan.rendered(ctx))
            else:
                report[index] = _report(
                    index,
                    items[index],
                    "rejected",
                    reason=ErrorCode.FACE_SET_FULL.value,
                    message=plan.refused,
                )
    return [report[index] for index, _ in chunk]


def _embed_with_crops(
    ctx: JobContext, pipeline: Any, plans: list[PlannedFaces]
) -> list[PipelineError | None]:
    """Embed the planned faces in one call while their crops are written (JPEG encoding and
    the store's round trips overlap the network's work); returns, per plan, the embedder's
    refusal or None. A refused plan's crops stay until reconciliation, which removes the crops
    no face refers to: another face may share a content-addressed crop, so none is deleted here."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crop-writer") as background:
        crops = background.submit(store_crops, ctx, plans)
        embedded = _embed(
            pipeline, [plan.image for plan in plans], [[r.face for r in plan.results] for plan in plans]
        )
        crops.result()
    refusals: list[PipelineError | None] = []
    for plan, results in zip(plans, embedded, strict=True):
        if isinstance(results, PipelineError):
            refusals.append(results)
        else:
            plan.results = results
            refusals.append(None)
    return refusals


def _embed(pipeline: Any, images: list[DecodedImage], faces: list[list[DetectedFace]]) -> list[Any]:
    """Each image's faces, embedded in one call; an image the embedder refuses gets its
    error in its place (the others are then embedded one by one)."""
    try:
        return list(pipeline.embed_detected(images, faces))
    except PipelineError:
        embedded: list[Any] = []
        for image, found in zip(images, faces, strict=True):
            try:
                embedded.extend(pipeline.embed_detected([image], [found]))
            except PipelineError as error:
                embedded.append(error)
        return embedded


def chunk_item_target(
    payload: EnrollChunkPayload, item: BatchItem, columns: FilterColumns, models: tuple[str, str | None]
) -> EnrollTarget:
    """Where one batch item's faces go: the same for the batched path and the one-image path."""
    assert item.image_key is not None
    return EnrollTarget(
        project_id=payload.project_id,
        face_set_id=payload.face_set_id,
        image_key=item.image_key,
        external_image_id=item.external_image_id,
        external_fields=dict(item.external_fields),
        user_id=item.user_id,
        filter_columns=columns,
        model_id=models[0],
        also_model_id=models[1],
    )
