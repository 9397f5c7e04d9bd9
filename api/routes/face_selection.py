"""A page of the faces whose fields match a filter (``GET faces?filter=``), optionally of one
person (``&user_id=``), with the total of the selection."""

from __future__ import annotations

from typing import Any

from api.schemas import FaceQuery, FaceSetPath
from api.services import FaceService


def selected_faces(service: FaceService, path: FaceSetPath, query: FaceQuery) -> tuple[Any, list[Any], int]:
    face_set = service.face_set(path.project_id, path.face_set_name)
    _, face_ids = service.faces_to_delete(
        path.project_id, path.face_set_name, face_id=None, external_image_id=None, filter_text=query.filter
    )
    if query.user_id is None:  # only the page's rows are read
        page = face_ids[query.offset : query.offset + query.limit]
        rows = service.faces.get_many(path.project_id, face_set.id, page)
        return face_set, [rows[face_id] for face_id in page if face_id in rows], len(face_ids)
    rows = service.faces.get_many(path.project_id, face_set.id, face_ids)
    faces = [
        rows[face_id] for face_id in face_ids if face_id in rows and rows[face_id].user_id == query.user_id
    ]
    return face_set, faces[query.offset : query.offset + query.limit], len(faces)
