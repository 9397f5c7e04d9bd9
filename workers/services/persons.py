"""Erasing a person (the right to erasure for one user id): every face row, vector, crop
and image of that person, then a check of each store that nothing of it is left.

Order as in ``workers.services.delete``: rows first (the person disappears for clients),
then vectors, then the objects no remaining face refers to. The check reads each store
back: a succeeded erasure is a verified one. A leftover fails the job with what was left
(the rows are gone by then, and the maintenance reconciliation removes vectors and
objects that no face refers to).
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorCode
from core.payloads import DeletePersonPayload
from core.results import DeletePersonResult, ErasedFromFaceSet, ErasureCheck
from infra.db.persons import PersonRepo
from workers.errors import JobFailure
from workers.execution import JobContext
from workers.services.delete import object_keys_of, purge_unreferenced_objects


def delete_person(ctx: JobContext, payload: DeletePersonPayload) -> DeletePersonResult:
    runtime = ctx.runtime
    persons = PersonRepo(runtime.database)
    face_set_ids = (
        [payload.face_set_id]
        if payload.face_set_id is not None
        else persons.face_sets_of(payload.project_id, payload.user_id)
    )
    erased: list[ErasedFromFaceSet] = []
    removed_rows: list[Any] = []
    for face_set_id in face_set_ids:
        rows = persons.erase(payload.project_id, face_set_id, payload.user_id)
        removed_rows.extend(rows)
        erased.append(ErasedFromFaceSet(face_set_id=face_set_id, deleted_faces=len(rows)))
    by_model: dict[str, list[str]] = {}
    for row in removed_rows:
        by_model.setdefault(row.model_id, []).append(row.face_id)
    for model_id, face_ids in by_model.items():
        runtime.index.delete(model_id, face_ids)
    keys = object_keys_of(removed_rows)
    purge_unreferenced_objects(ctx, keys)
    verification = _verify_erased(ctx, persons, payload, face_set_ids, by_model, keys)
    return DeletePersonResult(
        user_id=payload.user_id,
        deleted_faces=len(removed_rows),
        face_sets=erased,
        face_ids=[row.face_id for row in removed_rows],
        verified=verification,
    )


def _verify_erased(
    ctx: JobContext,
    persons: PersonRepo,
    payload: DeletePersonPayload,
    face_set_ids: list[str],
    vectors_by_model: dict[str, list[str]],
    keys: set[str],
) -> ErasureCheck:
    runtime = ctx.runtime
    rows_left = sum(persons.face_count(payload.project_id, face_set_id, payload.user_id) for face_set_id in face_set_ids)
    vectors_left = sum(len(runtime.index.get_vectors(model_id, ids)) for model_id, ids in vectors_by_model.items())
    # An object another face (another person, another project) still uses is kept on purpose.
    still_used = runtime.faces.referenced_keys(keys)
    objects_left = sum(1 for key in keys if key not in still_used and runtime.store.exists(key))
    if rows_left or vectors_left or objects_left:
        raise JobFailure(
            ErrorCode.INTERNAL,
            f"erasure incomplete: {rows_left} rows, {vectors_left} vectors, {objects_left} objects left",
        )
    return ErasureCheck(
        faces_remaining=rows_left,
        vectors_remaining=vectors_left,
        objects_remaining=objects_left,
        objects_kept_shared=len(keys & still_used),
    )
