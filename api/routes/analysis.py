"""face-detect and face-compare: stateless compute on one or two images."""

from __future__ import annotations

from flask import Response
from flask_openapi3 import APIBlueprint

from api.attributes import seed_face
from api.bodies import body_doc, parse_body
from api.context import current_context
from api.detect_schemas import CompareForm, CompareJson, DetectForm, DetectJson, DetectResponse
from api.routes.common import ACCEPTED, idempotency_key, job_response, v1_blueprint, wants_async
from api.schemas import AsyncQuery, JobHeaders, ProjectPath
from core.results import CompareResult


def analysis_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_analysis", "analysis", "Face detection and 1:1 comparison")

    @bp.post(
        "/face-detect",
        responses={200: DetectResponse, **ACCEPTED},
        openapi_extensions=body_doc(bp, DetectJson, DetectForm),
    )
    def face_detect(path: ProjectPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Detect faces (and optional attributes) in one image."""
        ctx = current_context()
        request_body: DetectJson = parse_body(DetectJson, DetectForm)
        image_key = ctx.intake.probe_key_of(request_body)
        assert image_key is not None
        outcome = ctx.service.detect(
            path.project_id,
            image_key,
            request_body.attribute_list(),
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
        )
        return job_response(
            path.project_id, outcome, lambda result: {"faces": [seed_face(face) for face in result.faces]}
        )

    @bp.post(
        "/face-compare",
        responses={200: CompareResult, **ACCEPTED},
        openapi_extensions=body_doc(bp, CompareJson, CompareForm),
    )
    def face_compare(path: ProjectPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Compare the largest face of image1 with the largest face of image2."""
        ctx = current_context()
        request_body: CompareJson = parse_body(CompareJson, CompareForm)
        first = ctx.intake.probe_key_of(request_body, "image1")
        second = ctx.intake.probe_key_of(request_body, "image2")
        assert first is not None and second is not None
        outcome = ctx.service.compare(
            path.project_id,
            first,
            second,
            wait=not wants_async(query, header),
            idempotency_key=idempotency_key(header),
            far=request_body.far,
            face_set_name=request_body.face_set_name,
        )
        return job_response(path.project_id, outcome)

    return bp
