"""Moving a face set to another embedding model without downtime.

1. The API marks the face set (``reindex_model_id``): from then on every enrollment writes
   its faces with both models (``enroll.enroll_image``), while searches keep using the old
   vectors.
2. This job re-embeds every stored face from its stored photo and box with the new model
   into that model's collection, page by page with progress. A face whose new vector is
   already there is skipped, so a job re-sent after a worker died resumes where it was, and
   upserts by face id never double a face.
3. A last pass fills any face the pages missed (enrolled while they ran), then the face set
   and its faces switch to the new model in one transaction (``FaceSetRepo.switch_model``).
4. The old vectors stay until ``drop_previous_vectors`` (``POST .../reindex/cleanup``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from core.errors import ErrorCode
from core.payloads import DropPreviousVectorsPayload, ReindexPayload
from core.results import DropPreviousVectorsResult, ReindexResult
from pipelines.types import BoundingBox, DetectedFace
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.common import load_image

PAGE: Final = 20  # small pages: progress moves often and a killed worker loses little


def reindex(ctx: JobContext, payload: ReindexPayload) -> ReindexResult:
    runtime = ctx.runtime
    face_set = runtime.face_sets.get(payload.project_id, payload.face_set_id)
    if face_set is None:
        raise JobFailure(ErrorCode.FACE_SET_NOT_FOUND, "the face set no longer exists")
    if face_set.model_id == payload.model:  # a re-sent job whose first run switched already
        return _result(face_set, reembedded=0, kept=face_set.face_count)
    if face_set.reindex_model_id != payload.model:
        raise JobFailure(ErrorCode.INVALID_ARGUMENT, f"the face set is not being moved to {payload.model}")
    total = face_set.face_count
    reembedded = kept = 0
    offset = 0
    ctx.progress(0, total)
    while True:
        page = runtime.faces.list(payload.project_id, face_set.id, offset=offset, limit=PAGE)
        done, present = _reembed(ctx, payload, face_set, page)
        reembedded, kept = reembedded + done, kept + present
        offset += len(page)
        ctx.progress(min(offset, total), total)
        if len(page) < PAGE:
            break
    # Faces enrolled while the pages ran were written to both models; any that were not
    # (enrolled just before the mark reached their worker) are filled here.
    offset = 0
    while True:
        page = runtime.faces.list(payload.project_id, face_set.id, offset=offset, limit=PAGE)
        reembedded += _reembed(ctx, payload, face_set, page)[0]
        offset += len(page)
        if len(page) < PAGE:
            break
    switched = runtime.face_sets.switch_model(payload.project_id, face_set.id, payload.model)
    if switched is None:
        raise JobFailure(ErrorCode.FACE_SET_NOT_FOUND, "the face set was deleted during the reindex")
    return _result(switched, reembedded=reembedded, kept=kept)


def _reembed(ctx: JobContext, payload: ReindexPayload, face_set: Any, rows: list[Any]) -> tuple[int, int]:
    """Re-embed the faces of ``rows`` that have no vector of the new model yet; returns
    (re-embedded, already there)."""
    runtime = ctx.runtime
    if not rows:
        return 0, 0
    present = runtime.index.get_vectors(payload.model, [row.face_id for row in rows])
    missing = [row for row in rows if row.face_id not in present]
    by_image: dict[str, list[Any]] = defaultdict(list)
    for row in missing:
        by_image[row.image_key].append(row)
    embedder = runtime.pipeline_for(payload.model).embedder
    records = []
    for image_key, faces in by_image.items():
        image = load_image(ctx, image_key)
        boxes = [DetectedFace(BoundingBox(r.box.x, r.box.y, r.box.width, r.box.height), r.confidence or 1.0)
                 for r in faces]
        for row, embedding in zip(faces, embedder.embed(image.pixels, boxes), strict=True):
            records.append(runtime.index_record(
                face_id=row.face_id,
                vector=embedding.vector,
                project_id=payload.project_id,
                face_set_id=face_set.id,
                user_id=row.user_id,
                fields=dict(row.external_fields or {}),
                columns=_columns(face_set).values(dict(row.external_fields or {})),
            ))
    if records:
        written_ts = runtime.index.upsert(payload.model, records)
        runtime.face_sets.record_vector_write(payload.project_id, face_set.id, written_ts)
    return len(records), len(rows) - len(missing)


def _columns(face_set: Any) -> Any:
    from infra.filter_columns import FilterColumns

    return FilterColumns.for_schema(face_set.external_fields)


def _result(face_set: Any, *, reembedded: int, kept: int) -> ReindexResult:
    return ReindexResult(
        face_set_id=face_set.id,
        face_set_name=face_set.name,
        model=face_set.model_id,
        previous_model=face_set.previous_model_id,
        reembedded_faces=reembedded,
        already_reembedded=kept,
    )


def drop_previous_vectors(ctx: JobContext, payload: DropPreviousVectorsPayload) -> DropPreviousVectorsResult:
    runtime = ctx.runtime
    face_set = runtime.face_sets.get(payload.project_id, payload.face_set_id)
    if face_set is None:
        raise JobFailure(ErrorCode.FACE_SET_NOT_FOUND, "the face set no longer exists")
    previous = face_set.previous_model_id
    if previous is not None and previous != face_set.model_id:
        runtime.index.delete_by_face_set(previous, payload.project_id, face_set.id)
    runtime.face_sets.forget_previous_model(payload.project_id, face_set.id)
    return DropPreviousVectorsResult(face_set_name=face_set.name, model=face_set.model_id, dropped_model=previous)
