"""faces of a face set: add (every detected face), get/list, update, delete, search."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint

from api.bodies import body_doc, parse_body
from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.routes.common import ACCEPTED, idempotency_key, job_response, v1_blueprint, wants_async
from api.routes.face_selection import selected_faces
from api.schemas import (
    AddFaceForm,
    AddFaceJson,
    AsyncQuery,
    BatchDeleteBody,
    DeleteFacesQuery,
    FaceListResponse,
    FaceQuery,
    FacesDeleted,
    FaceSetPath,
    FaceUpdate,
    FaceUpdated,
    JobHeaders,
    SearchForm,
    SearchJson,
)
from core.payloads import EnrollOptions
from core.results import EnrollResult, SearchResult, StoredFace

SEARCH_OPTIONS = ("top_n", "threshold", "filter", "sort", "return_fields", "all_faces", "group_by", "far")


def faces_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_faces", "faces", "Faces of a face set, and 1:N search")

    @bp.post(
        "/face-sets/<face_set_name>/faces",
        responses={200: EnrollResult, **ACCEPTED},
        openapi_extensions=body_doc(bp, AddFaceJson, AddFaceForm),
    )
    def add_faces(path: FaceSetPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Add every face detected in the image (or the largest / the single one)."""
        ctx = current_context()
        request_body: AddFaceJson = parse_body(AddFaceJson, AddFaceForm)
        ctx.service.face_set(path.project_id, path.face_set_name)  # 404 before storing the image
        image_key = ctx.intake.key_of(request_body)
        assert image_key is not None
        outcome = ctx.service.add_faces(
            path.project_id,
            path.face_set_name,
            image_key,
            external_image_id=request_body.external_image_id,
            external_fields=request_body.external_fields,
            user_id=request_body.user_id,
            options=EnrollOptions(
                select=request_body.select,
                on_duplicate=request_body.on_duplicate,
                quality_gate=request_body.quality_gate,
            ),
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
        )
        return job_response(path.project_id, outcome)

    @bp.get("/face-sets/<face_set_name>/faces", responses={200: FaceListResponse})
    def get_faces(path: FaceSetPath, query: FaceQuery) -> Response:
        """One face by face_id, or a page of faces (offset, limit)."""
        ctx = current_context()
        service = ctx.service
        total = None
        if query.face_id is not None:
            face_set, face = service.face(path.project_id, path.face_set_name, query.face_id)
            faces = [face]
        elif query.filter is not None:
            face_set, faces, total = selected_faces(service, path, query)
        elif query.user_id is not None:
            return _faces_of_person(ctx, path, query)
        else:
            face_set, faces = service.list_faces(path.project_id, path.face_set_name, query.offset, query.limit)
        return jsonify(
            {
                "face_set_id": face_set.id,
                "face_set_name": face_set.name,
                "faces": [StoredFace.of(face).to_json() for face in faces],
                "total": int(face_set.face_count or 0) if total is None else total,
            }
        )

    @bp.put("/face-sets/<face_set_name>/faces", responses={200: FaceUpdated, **ACCEPTED})
    def update_face(path: FaceSetPath, query: AsyncQuery, header: JobHeaders, body: FaceUpdate) -> Response:
        """Update a face's external_image_id, external_fields or user_id (and the copy of
        them the search filter reads, beside the vector)."""
        if body.external_image_id is None and body.external_fields is None and body.user_id is None:
            raise ApiError(ApiErrorCode.INVALID_PARAMETER, "nothing to update")
        face_set, outcome = current_context().service.update_face_job(
            path.project_id,
            path.face_set_name,
            body.face_id,
            external_image_id=body.external_image_id,
            external_fields=body.external_fields,
            user_id=body.user_id,
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
        )
        return job_response(
            path.project_id,
            outcome,
            lambda _: {"face_number": 1, "face_set_id": face_set.id, "face_set_name": face_set.name},
        )

    @bp.delete("/face-sets/<face_set_name>/faces", responses={200: FacesDeleted, **ACCEPTED})
    def delete_faces(path: FaceSetPath, query: DeleteFacesQuery, header: JobHeaders) -> Response:
        """Delete faces by face_id, by external_image_id or by a field filter."""
        return _delete(path, query.face_id, query.external_image_id, query.filter, query, header)

    @bp.delete("/face-sets/<face_set_name>/faces/batch", responses={200: FacesDeleted, **ACCEPTED})
    def delete_faces_by_filter(path: FaceSetPath, query: AsyncQuery, header: JobHeaders, body: BatchDeleteBody) -> Response:
        """Delete every face whose fields match the filter (the seed's batch delete)."""
        return _delete(path, None, None, body.filter, query, header)

    @bp.post(
        "/face-sets/<face_set_name>/search",
        responses={200: SearchResult, **ACCEPTED},
        openapi_extensions=body_doc(bp, SearchJson, SearchForm),
    )
    def search(path: FaceSetPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """1:N search by an image (largest face, or every face with all_faces) or a face_id."""
        ctx = current_context()
        request_body: SearchJson = parse_body(SearchJson, SearchForm)
        # Before the image is taken in: an unknown face set is refused without touching it.
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        image_key = None
        if request_body.face_id is None:
            image_key = ctx.intake.probe_key_of(request_body)
        elif any(getattr(request_body, f"image_{kind}", None) is not None for kind in ("file", "base64", "url")):
            raise ApiError(ApiErrorCode.IMAGE_SOURCE, "give either an image or face_id, not both")
        options: dict[str, Any] = {name: getattr(request_body, name) for name in SEARCH_OPTIONS}
        if request_body.far is not None and request_body.threshold > 0:
            raise ApiError(ApiErrorCode.INVALID_PARAMETER, "give either threshold or far, not both")
        outcome = ctx.service.search(
            path.project_id,
            path.face_set_name,
            image_key=image_key,
            face_id=request_body.face_id,
            options=options,
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
            face_set=face_set,
        )
        return job_response(path.project_id, outcome)

    return bp


def _faces_of_person(ctx: Any, path: FaceSetPath, query: FaceQuery) -> Response:
    from api.routes.persons import persons_of

    assert query.user_id is not None
    face_set = ctx.service.face_set(path.project_id, path.face_set_name)
    repo = persons_of(ctx)
    faces = repo.faces(path.project_id, face_set.id, query.user_id, offset=query.offset, limit=query.limit)
    return jsonify(
        {
            "face_set_id": face_set.id,
            "face_set_name": face_set.name,
            "faces": [StoredFace.of(face).to_json() for face in faces],
            "total": repo.face_count(path.project_id, face_set.id, query.user_id),
        }
    )


def _delete(
    path: FaceSetPath,
    face_id: str | None,
    external_image_id: str | None,
    filter_text: str | None,
    query: AsyncQuery,
    header: JobHeaders,
) -> Response:
    service = current_context().service
    face_set, face_ids = service.faces_to_delete(
        path.project_id,
        path.face_set_name,
        face_id=face_id,
        external_image_id=external_image_id,
        filter_text=filter_text,
    )
    if face_id is not None and not face_ids:
        raise ApiError(ApiErrorCode.FACE_NOT_FOUND, f"face {face_id[:64]!r} is not in this face set")
    if not face_ids:
        return jsonify({"face_number": 0, "face_set_id": face_set.id, "face_set_name": face_set.name})
    outcome = service.delete_faces(
        path.project_id, face_set, face_ids, wait=not wants_async(query, header), idempotency_key=idempotency_key(header)
    )
    return job_response(
        path.project_id,
        outcome,
        lambda result: {
            "face_number": result.deleted,
            "face_set_id": face_set.id,
            "face_set_name": face_set.name,
        },
    )
