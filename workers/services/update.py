"""Updating a face's metadata: the SQL row and the copy of it that search filters use.

The vector index holds ``user_id`` and the custom fields next to each vector, so that a
filtered search is one Milvus query. Both are rewritten by the same job; the row first,
then the vector from the row, so a retry after any failure converges on the row's values.
"""

from __future__ import annotations

from core.errors import ErrorCode
from core.payloads import UpdateFacePayload
from core.results import UpdateFaceResult
from infra.filter_columns import FilterColumns
from workers.errors import JobFailure
from workers.execution import JobContext


def update_face(ctx: JobContext, payload: UpdateFacePayload) -> UpdateFaceResult:
    runtime = ctx.runtime
    row = runtime.faces.update(
        payload.project_id,
        payload.face_set_id,
        payload.face_id,
        external_image_id=payload.external_image_id,
        external_fields=payload.external_fields,
        user_id=payload.user_id,
    )
    if row is None:
        raise JobFailure(ErrorCode.FACE_NOT_FOUND, f"face {payload.face_id} is not in this face set")
    vectors = runtime.index.get_vectors(row.model_id, [row.face_id])
    face_set = runtime.face_sets.get(payload.project_id, payload.face_set_id)
    if row.face_id in vectors and face_set is not None:
        fields = dict(row.external_fields or {})
        written_ts = runtime.index.upsert(
            row.model_id,
            [
                runtime.index_record(
                    face_id=row.face_id,
                    vector=vectors[row.face_id],
                    project_id=payload.project_id,
                    face_set_id=payload.face_set_id,
                    user_id=row.user_id,
                    fields=fields,
                    columns=FilterColumns.for_schema(face_set.external_fields).values(fields),
                )
            ],
        )
        # A filtered search right after must see the new fields (infra.vector_index.freshness).
        runtime.face_sets.record_vector_write(payload.project_id, payload.face_set_id, written_ts)
    return UpdateFaceResult(
        face_id=row.face_id,
        external_image_id=row.external_image_id,
        external_fields=dict(row.external_fields or {}),
        user_id=row.user_id,
    )
