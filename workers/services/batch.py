"""Batch enrollment: a manifest of thousands of images, fanned out in small chunks.

The parent job splits the manifest into chunk jobs on the batch queue. Small chunks keep
every worker free to pick up interactive work between them, spread a batch across the
fleet, and bound what a crash has to redo. Each chunk stores its per-item report as its
own result; the chunk that completes the set writes the parent's result. Redelivering a
chunk recomputes the same face ids, so nothing is duplicated.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from core.errors import ErrorCode
from core.jobs import JobKind, JobStatus
from core.payloads import BatchItem, EnrollBatchPayload, EnrollChunkPayload
from core.results import BatchItemReport, EnrollBatchResult, EnrollChunkResult
from infra import batch_manifest
from infra.errors import ObjectNotFound, TransientInfraError
from infra.filter_columns import FilterColumns
from pipelines.errors import PipelineError
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.chunk_enroll import (
    chunk_item_target,
    enroll_chunk_items,
    enrolled_item,
    refused_item,
    rejected_item,
)
from workers.services.common import load_image
from workers.services.enroll import enroll_image

DEFERRED = None  # a handler returning this leaves the job running: its completion happens elsewhere


def chunk_job_id(parent_job_id: str, chunk_index: int) -> str:
    return f"{parent_job_id}.c{chunk_index:05d}"


def enroll_batch(ctx: JobContext, payload: EnrollBatchPayload) -> EnrollBatchResult | None:
    runtime = ctx.runtime
    if payload.total == 0:
        return summarize([])
    job = runtime.jobs.get(ctx.job_id)
    if job is None or not job.progress_total:  # a re-sent parent keeps the progress it has
        ctx.progress(0, payload.total)
    for index in range(min(_in_flight(ctx), _chunk_count(ctx, payload.total))):
        _send_chunk(ctx, ctx.job_id, payload, index)
    # A parent re-sent after all its chunks ended (the finishing chunk died before writing
    # the parent's result) completes here instead of waiting for a chunk that never comes.
    _finish_parent_if_complete(ctx, ctx.job_id, payload.total)
    return DEFERRED


def enroll_chunk(ctx: JobContext, payload: EnrollChunkPayload) -> EnrollChunkResult | None:
    runtime = ctx.runtime
    items = batch_manifest.read_items(runtime.store, payload.manifest_key, payload.start, payload.stop)
    face_set = runtime.face_sets.get(payload.project_id, payload.face_set_id)
    # A face set deleted meanwhile refuses each item's faces when they are added; one whose
    # delete job is queued takes them, and the job removes them with the rest.
    columns = FilterColumns.for_schema(face_set.external_fields if face_set is not None else {})
    models = (
        (face_set.model_id, face_set.reindex_model_id)
        if face_set is not None
        else (runtime.pipeline.model_id, None)
    )
    chunk = list(zip(range(payload.start, payload.stop), items, strict=True))
    if payload.options.on_duplicate == "allow":
        report = enroll_chunk_items(ctx, payload, chunk, columns, models)
    else:
        # A duplicate check must see the faces of the chunk's earlier images: one at a time.
        report = [_enroll_item(ctx, payload, index, item, columns, models) for index, item in chunk]
    # Progress and its events once per chunk, not per image.
    ctx.progress(len(chunk), len(chunk))
    runtime.lifecycle.parent_progress(payload.parent_job_id)
    # The next chunk is sent before this one is marked done: a crash in between makes the
    # broker redeliver this chunk, which re-sends the next one if it has not started.
    following = payload.start // _chunk_size(ctx) + _in_flight(ctx)
    if following < _chunk_count(ctx, payload.total):
        _send_chunk(ctx, payload.parent_job_id, payload, following)
    # A chunk is internal: its row is written without events; the parent's are what clients see.
    runtime.lifecycle.succeed_internal(ctx.job_id, EnrollChunkResult(items=report))
    _finish_parent_if_complete(ctx, payload.parent_job_id, payload.total)
    return DEFERRED


def _chunk_size(ctx: JobContext) -> int:
    return max(1, ctx.runtime.settings.jobs.batch_chunk_size)


def _in_flight(ctx: JobContext) -> int:
    """Chunks of one batch queued at a time. Each finished chunk sends the next, so two
    batches share the workers instead of the second waiting behind all of the first."""
    return max(1, ctx.runtime.settings.jobs.batch_chunks_in_flight)


def _chunk_count(ctx: JobContext, total: int) -> int:
    return -(-total // _chunk_size(ctx))


def _send_chunk(
    ctx: JobContext, parent_job_id: str, batch: EnrollBatchPayload | EnrollChunkPayload, index: int
) -> None:
    runtime = ctx.runtime
    start = index * _chunk_size(ctx)
    chunk = EnrollChunkPayload(
        parent_job_id=parent_job_id,
        project_id=batch.project_id,
        face_set_id=batch.face_set_id,
        manifest_key=batch.manifest_key,
        start=start,
        stop=min(start + _chunk_size(ctx), batch.total),
        total=batch.total,
        options=batch.options,
    )
    job_id = chunk_job_id(parent_job_id, index)
    body = chunk.model_dump(mode="json")
    created = runtime.jobs.create_child(
        job_id=job_id,
        project_id=batch.project_id,
        kind=JobKind.ENROLL_CHUNK.value,
        payload=body,
        parent_job_id=parent_job_id,
    )
    existing = None if created else runtime.jobs.get(job_id)
    # Sent again only if it never started: a redelivered sender may have died before sending.
    if created or (existing is not None and JobStatus(existing.status) is JobStatus.PENDING):
        # With the broker down this raises TransientInfraError: the sender stays unfinished
        # and runs again (retried, or redelivered once the broker is back, since its message
        # was never acked), and then sends this still-pending chunk. Failing the sender
        # instead would leave this chunk unsent and the batch running forever.
        runtime.dispatch(JobKind.ENROLL_CHUNK, job_id, body)


def _enroll_item(
    ctx: JobContext,
    payload: EnrollChunkPayload,
    index: int,
    item: BatchItem,
    columns: FilterColumns,
    models: tuple[str, str | None],
) -> BatchItemReport:
    if item.rejected is not None or item.image_key is None:
        return refused_item(index, item)
    target = chunk_item_target(payload, item, columns, models)
    try:
        image = load_image(ctx, item.image_key)
        faces = enroll_image(ctx, target, image, payload.options, id_seed=f"{payload.parent_job_id}:{index}")
    except (PipelineError, JobFailure) as error:
        return rejected_item(index, item, error)
    return enrolled_item(index, item, faces)


def chunk_failed(ctx: JobContext, payload: EnrollChunkPayload) -> None:
    """A chunk that gave up (its store stayed down, or a bug) still hands on: the next
    chunk is sent and the batch completes, reporting the chunk's items as rejected with the
    chunk's error code instead of hanging."""
    following = payload.start // _chunk_size(ctx) + _in_flight(ctx)
    if following < _chunk_count(ctx, payload.total):
        try:
            _send_chunk(ctx, payload.parent_job_id, payload, following)
        except TransientInfraError:
            # Nothing redelivers a failed chunk, so the unsent successor is left to
            # housekeeping: marked stale, it is sent by the next sweep once the broker is back.
            ctx.runtime.jobs.release_claim(chunk_job_id(payload.parent_job_id, following), stale_since=_EPOCH)
    _finish_parent_if_complete(ctx, payload.parent_job_id, payload.total)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _finish_parent_if_complete(ctx: JobContext, parent_job_id: str, total: int) -> None:
    runtime = ctx.runtime
    chunk_count = _chunk_count(ctx, total)
    # Every chunk asks; only the last reads the chunks' rows, each with its item reports
    # (reading them all at every chunk's end made a batch quadratic in its size).
    if runtime.jobs.count_final_children(parent_job_id) < chunk_count:
        return
    chunks = runtime.jobs.get_many([chunk_job_id(parent_job_id, i) for i in range(chunk_count)])
    if len(chunks) < chunk_count or any(not JobStatus(c.status).is_final for c in chunks):
        return
    items = [item for chunk in sorted(chunks, key=lambda c: c.id) for item in _chunk_items(ctx, chunk)]
    runtime.lifecycle.succeed(parent_job_id, summarize(items))


def _chunk_items(ctx: JobContext, chunk: Any) -> list[BatchItemReport]:
    if JobStatus(chunk.status) is JobStatus.SUCCEEDED:
        return list(EnrollChunkResult.model_validate(chunk.result).items)
    failed = EnrollChunkPayload.model_validate(chunk.payload)
    try:
        sources: list[BatchItem] | None = batch_manifest.read_items(
            ctx.runtime.store, failed.manifest_key, failed.start, failed.stop
        )
    except (ObjectNotFound, TransientInfraError):
        sources = None  # the chunk failed because the store is down; report the items without names
    return [
        BatchItemReport(
            index=index,
            source=sources[index - failed.start].source if sources else None,
            external_image_id=sources[index - failed.start].external_image_id if sources else None,
            status="rejected",
            reason=chunk.error_code or ErrorCode.INTERNAL.value,
            message=chunk.error_message or "",
        )
        for index in range(failed.start, failed.stop)
    ]


def summarize(items: list[BatchItemReport]) -> EnrollBatchResult:
    statuses = Counter(item.status for item in items)
    # A rejected item always carries its reason (an error code).
    reasons = Counter(item.reason or ErrorCode.INTERNAL.value for item in items if item.status == "rejected")
    return EnrollBatchResult(
        total=len(items),
        added=statuses.get("added", 0),
        duplicates=statuses.get("duplicate", 0),
        rejected=statuses.get("rejected", 0),
        faces_added=sum(len(item.faces or []) for item in items if item.status == "added"),
        rejected_by_reason=dict(sorted(reasons.items())),
        items=items,
    )
