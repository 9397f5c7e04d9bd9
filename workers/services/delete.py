"""Deletion (the right to erasure): rows first, then vectors, then unreferenced images.

The SQL delete is the moment the faces disappear for clients. Vectors and images left
behind by a crash after it are unreferenced and `reconcile` removes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.payloads import DeleteFaceSetPayload, DeleteFacesPayload
from core.results import DeleteFaceSetResult, DeleteFacesResult
from workers.execution import JobContext


def delete_faces(ctx: JobContext, payload: DeleteFacesPayload) -> DeleteFacesResult:
    runtime = ctx.runtime
    removed = runtime.faces.delete_faces(payload.project_id, payload.face_set_id, payload.face_ids)
    by_model: dict[str, list[str]] = {}
    for row in removed:
        by_model.setdefault(row.model_id, []).append(row.face_id)
    for model_id, face_ids in by_model.items():
        runtime.index.delete(model_id, face_ids)
    purge_unreferenced_objects(ctx, object_keys_of(removed))
    return DeleteFacesResult(deleted=len(removed), face_ids=[row.face_id for row in removed])


def delete_face_set(ctx: JobContext, payload: DeleteFaceSetPayload) -> DeleteFaceSetResult:
    runtime = ctx.runtime
    removed = runtime.face_sets.delete_with_faces(payload.project_id, payload.face_set_id)
    # Every collection, not only the models of the removed rows: vectors written by a crashed
    # enrollment have no row, and must go with their face set too.
    runtime.index.delete_by_face_set(None, payload.project_id, payload.face_set_id)
    purge_unreferenced_objects(ctx, object_keys_of(removed))
    return DeleteFaceSetResult(face_set_id=payload.face_set_id, deleted_faces=len(removed))


def object_keys_of(rows: Iterable[Any]) -> set[str]:
    keys: set[str] = set()
    for row in rows:
        keys.add(row.image_key)
        if row.crop_key:
            keys.add(row.crop_key)
    return keys


def purge_unreferenced_objects(ctx: JobContext, keys: Iterable[str]) -> None:
    """Content-addressed objects may be shared by several faces (the same photo enrolled
    twice): only delete those no remaining face refers to."""
    runtime = ctx.runtime
    still_used = runtime.faces.referenced_keys(list(keys))
    for key in keys:
        if key not in still_used:
            runtime.store.delete(key)
