"""Batch enrollment: a manifest of thousands of images, fanned out in small chunks.

The parent job splits the manifest into chunk jobs on the batch queue. Small chunks keep
every worker free to pick up interactive work between them, spread a batch across the
fleet, and bound what a crash has to redo. Each chunk stores its per-item report as its
own result; the chunk that completes the set writes the parent's result. Redelivering a
chunk recomputes the same face ids, so nothing is duplicated.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pipelines.errors import PipelineError
from workers.contracts import (
    BatchItem,
    EnrollBatchPayload,
    EnrollChunkPayload,
    JobKind,
    JobStatus,
)
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.common import load_image
from workers.services.enroll import EnrollTarget, enroll_image

DEFERRED = None  # a handler returning this leaves the job running: its completion happens elsewhere


def chunk_job_id(parent_job_id: str, chunk_index: int) -> str:
    return f"{parent_job_id}.c{chunk_index:05d}"


def enroll_batch(ctx: JobContext, payload: EnrollBatchPayload) -> dict[str, Any] | None:
    runtime = ctx.runtime
    if payload.total == 0:
        return summarize([])
    size = max(1, runtime.settings.jobs.batch_chunk_size)
    job = runtime.jobs.get(ctx.job_id)
    if job is None or not job.progress_total:  # a re-sent parent keeps the progress it has
        ctx.progress(0, payload.total)
    starts = range(0, payload.total, size)
    for index, start in enumerate(starts):
        chunk = EnrollChunkPayload(
            parent_job_id=ctx.job_id,
            project_id=payload.project_id,
            face_set_id=payload.face_set_id,
            manifest_key=payload.manifest_key,
            start=start,
            stop=min(start + size, payload.total),
            total=payload.total,
            options=payload.options,
        )
        job_id = chunk_job_id(ctx.job_id, index)
        created = runtime.jobs.create_child(
            job_id=job_id,
            project_id=payload.project_id,
            kind=JobKind.ENROLL_CHUNK.value,
            payload=chunk.model_dump(mode="json"),
            parent_job_id=ctx.job_id,
        )
        if created:
            runtime.dispatch(JobKind.ENROLL_CHUNK, job_id, chunk.model_dump(mode="json"))
    return DEFERRED


def enroll_chunk(ctx: JobContext, payload: EnrollChunkPayload) -> dict[str, Any] | None:
    runtime = ctx.runtime
    items = read_manifest(ctx, payload.manifest_key)
    report = []
    for index in range(payload.start, payload.stop):
        report.append(_enroll_item(ctx, payload, index, items[index]))
        ctx.progress(index + 1 - payload.start, payload.stop - payload.start)
        runtime.lifecycle.parent_progress(payload.parent_job_id)
    # A chunk is internal: its row is written without events; the parent's are what clients see.
    runtime.jobs.succeed(ctx.job_id, {"items": report})
    _finish_parent_if_complete(ctx, payload)
    return DEFERRED


def read_manifest(ctx: JobContext, key: str) -> list[BatchItem]:
    raw = json.loads(ctx.runtime.store.get(key))
    return [BatchItem.model_validate(entry) for entry in raw]


def _enroll_item(ctx: JobContext, payload: EnrollChunkPayload, index: int, item: BatchItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index, "source": item.source, "external_image_id": item.external_image_id}
    if item.rejected is not None or item.image_key is None:
        return {**entry, "status": "rejected", "reason": item.rejected or "invalid_image"}
    target = EnrollTarget(
        project_id=payload.project_id,
        face_set_id=payload.face_set_id,
        image_key=item.image_key,
        external_image_id=item.external_image_id,
        external_fields=dict(item.external_fields),
        user_id=item.user_id,
    )
    try:
        image = load_image(ctx, item.image_key)
        faces = enroll_image(ctx, target, image, payload.options, id_seed=f"{payload.parent_job_id}:{index}")
    except PipelineError as error:
        return {**entry, "status": "rejected", "reason": str(error.code), "message": error.message}
    except JobFailure as failure:
        rejected = {**entry, "status": "rejected", "reason": failure.code.value, "message": failure.message}
        if failure.details:
            rejected["details"] = failure.details
        return rejected
    status = "duplicate" if any("duplicate_of" in face for face in faces) else "added"
    return {**entry, "status": status, "faces": faces}


def _finish_parent_if_complete(ctx: JobContext, payload: EnrollChunkPayload) -> None:
    runtime = ctx.runtime
    size = max(1, runtime.settings.jobs.batch_chunk_size)
    chunk_count = -(-payload.total // size)
    chunks = runtime.jobs.get_many([chunk_job_id(payload.parent_job_id, i) for i in range(chunk_count)])
    if len(chunks) < chunk_count or any(JobStatus(c.status) != JobStatus.SUCCEEDED for c in chunks):
        return
    items = [item for chunk in sorted(chunks, key=lambda c: c.id) for item in (chunk.result or {})["items"]]
    runtime.lifecycle.succeed(payload.parent_job_id, summarize(items))


def summarize(items: list[dict[str, Any]]) -> dict[str, Any]:
    statuses = Counter(item["status"] for item in items)
    reasons = Counter(item["reason"] for item in items if item["status"] == "rejected")
    return {
        "total": len(items),
        "added": statuses.get("added", 0),
        "duplicates": statuses.get("duplicate", 0),
        "rejected": statuses.get("rejected", 0),
        "faces_added": sum(len(item.get("faces", [])) for item in items if item["status"] == "added"),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "items": items,
    }
