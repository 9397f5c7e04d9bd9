"""face-sets: create (typed custom-field schema), list, get, delete (a job)."""

from __future__ import annotations

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint

from api.context import current_context
from api.routes.common import ACCEPTED, idempotency_key, job_response, v1_blueprint, wants_async
from api.schemas import (
    AsyncQuery,
    FaceSetCreate,
    FaceSetDeleted,
    FaceSetInfoResponse,
    FaceSetListResponse,
    FaceSetPath,
    JobHeaders,
    ProjectPath,
)
from api.services import face_set_info


def face_sets_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_face_sets", "face-sets", "Face sets (libraries) and their custom-field schema")

    @bp.post("/face-sets", responses={200: FaceSetInfoResponse})
    def create_face_set(path: ProjectPath, body: FaceSetCreate) -> Response:
        """Create a face set."""
        face_set = current_context().service.create_face_set(
            path.project_id,
            body.face_set_name,
            body.face_set_capacity,
            {name: spec.model_dump() for name, spec in body.external_fields.items()},
        )
        return jsonify({"face_set_info": face_set_info(face_set)})

    @bp.get("/face-sets", responses={200: FaceSetListResponse})
    def list_face_sets(path: ProjectPath) -> Response:
        """List the project's face sets."""
        face_sets = current_context().service.list_face_sets(path.project_id)
        return jsonify({"face_sets_info": [face_set_info(face_set) for face_set in face_sets]})

    @bp.get("/face-sets/<face_set_name>", responses={200: FaceSetInfoResponse})
    def get_face_set(path: FaceSetPath) -> Response:
        """Get one face set."""
        face_set = current_context().service.face_set(path.project_id, path.face_set_name)
        return jsonify({"face_set_info": face_set_info(face_set)})

    @bp.delete("/face-sets/<face_set_name>", responses={200: FaceSetDeleted, **ACCEPTED})
    def delete_face_set(path: FaceSetPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Delete a face set with all its faces, images and vectors."""
        outcome = current_context().service.delete_face_set(
            path.project_id,
            path.face_set_name,
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
        )
        return job_response(
            path.project_id,
            outcome,
            lambda result: {"face_set_name": path.face_set_name, "deleted_faces": result.deleted_faces},
        )

    return bp
