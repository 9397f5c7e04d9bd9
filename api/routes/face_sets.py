"""face-sets: create (typed custom-field schema), list, get, delete (a job)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint

from api.calibration_chart import roc_svg
from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.routes.common import ACCEPTED, format_date, idempotency_key, job_response, v1_blueprint, wants_async
from api.schemas import (
    AsyncQuery,
    CalibrationQuery,
    CalibrationResponse,
    FaceSetCreate,
    FaceSetDeleted,
    FaceSetInfoResponse,
    FaceSetListResponse,
    FaceSetPath,
    JobHeaders,
    ProjectPath,
    ReindexBody,
)
from core.jobs import JobKind
from core.payloads import CalibratePayload, DropPreviousVectorsPayload, ReindexPayload
from core.results import CalibrationResult, DropPreviousVectorsResult


def face_set_info(face_set: Any) -> dict[str, Any]:
    return {
        "face_set_id": face_set.id,
        "face_set_name": face_set.name,
        "face_number": int(face_set.face_count or 0),
        "face_set_capacity": int(face_set.capacity),
        "create_date": format_date(face_set.created_at),
        "external_fields": dict(face_set.external_fields or {}),
        "model": face_set.model_id,
        "reindex_model": getattr(face_set, "reindex_model_id", None),
        "previous_model": getattr(face_set, "previous_model_id", None),
    }


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
            body.model,
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

    @bp.get("/face-sets/<face_set_name>/calibration", responses={200: CalibrationResponse, **ACCEPTED})
    def calibration(path: FaceSetPath, query: CalibrationQuery, header: JobHeaders) -> Response:
        """The face set's own ROC from its faces' user ids (genuine pairs: one user id; impostor
        pairs: two), with thresholds for FAR 1e-2, 1e-3 and 1e-4 where the pairs support them."""
        ctx = current_context()
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        outcome = ctx.service.gateway.run(
            path.project_id,
            JobKind.CALIBRATE,
            CalibratePayload(project_id=path.project_id, face_set_id=face_set.id),
            wait=not wants_async(query, header),
            idempotency_key=None,
        )
        if query.format == "svg" and outcome.finished and not outcome.asynchronous:
            outcome.raise_if_failed()
            calibration = outcome.result_as(CalibrationResult)
            title = f"{path.face_set_name}: FAR and FRR by distance ({calibration.model_id})"
            return Response(roc_svg(calibration, title), mimetype="image/svg+xml")
        return job_response(path.project_id, outcome)

    @bp.post("/face-sets/<face_set_name>/reindex", responses={**ACCEPTED})
    def reindex(path: FaceSetPath, body: ReindexBody, header: JobHeaders) -> Response:
        """Move the face set to another model as a batch job (always 202): every stored face is
        re-embedded while searches use the old vectors and new faces are written with both;
        the set switches when done. The old vectors stay until ``/reindex/cleanup``."""
        ctx = current_context()
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        if not ctx.service.offers_model(body.model):
            offered = ", ".join(ctx.settings.pipeline.face_set_models)
            raise ApiError(ApiErrorCode.INVALID_PARAMETER, f"model must be one of: {offered}, or a registered arcface-<name>")
        if body.model == face_set.model_id:
            raise ApiError(ApiErrorCode.INVALID_PARAMETER, f"the face set already uses {body.model}")
        if ctx.service.face_sets.start_reindex(path.project_id, face_set.id, body.model) is None:
            raise ApiError(
                ApiErrorCode.INVALID_PARAMETER, f"the face set is already moving to {face_set.reindex_model_id}"
            )
        outcome = ctx.service.gateway.run(
            path.project_id,
            JobKind.REINDEX,
            ReindexPayload(project_id=path.project_id, face_set_id=face_set.id, model=body.model),
            wait=False,
            idempotency_key=idempotency_key(header),
        )
        return job_response(path.project_id, outcome)

    @bp.post("/face-sets/<face_set_name>/reindex/cleanup", responses={200: DropPreviousVectorsResult, **ACCEPTED})
    def reindex_cleanup(path: FaceSetPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Remove the vectors of the model the face set used before its last reindex."""
        ctx = current_context()
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        outcome = ctx.service.gateway.run(
            path.project_id,
            JobKind.DROP_PREVIOUS_VECTORS,
            DropPreviousVectorsPayload(project_id=path.project_id, face_set_id=face_set.id),
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
        )
        return job_response(path.project_id, outcome)

    return bp
