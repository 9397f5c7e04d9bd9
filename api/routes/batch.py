"""faces/batch: enroll many images as one job with a per-item report."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from flask import Response, request
from flask_openapi3 import APIBlueprint
from flask_openapi3.models import MediaType, Schema

from api.batch import BatchIntake, iter_prefix
from api.bodies import MULTIPART, body_doc, decode_form_fields, parse_body, validate
from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.query_params import accepts_query
from api.routes.common import ACCEPTED, idempotency_key, job_response, v1_blueprint
from api.schemas import BatchForm, BatchJson, FaceSetPath, JobHeaders
from core.payloads import EnrollOptions

ZIP_TYPES = ("application/zip", "application/x-zip-compressed")
# A zip body has no room for fields: its options travel in the query string instead.
ZIP_QUERY_OPTIONS = ("on_duplicate", "select", "quality_gate", "user_id_from", "external_fields", "items")


def _batch_body_doc(bp: APIBlueprint) -> dict[str, Any]:
    doc = body_doc(bp, BatchJson, BatchForm)
    doc["requestBody"].content["application/zip"] = MediaType(schema=Schema(type="string", format="binary"))
    return doc


def batch_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_batch", "batch", "Batch enrollment as one job with a per-item report")

    @bp.post("/face-sets/<face_set_name>/faces/batch", responses=ACCEPTED, openapi_extensions=_batch_body_doc(bp))
    @accepts_query(*ZIP_QUERY_OPTIONS)
    def enroll_batch(path: FaceSetPath, header: JobHeaders) -> Response:
        """Enroll many images: multipart files, a zip archive, or object keys / a prefix.

        Always asynchronous: answers 202 with the job; GET the job for progress and, once
        done, the report of every input (faces added, or why it was rejected)."""
        ctx = current_context()
        settings = ctx.settings
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        with BatchIntake(ctx.store, settings.images.max_bytes, settings.api.max_batch_items, path.project_id) as intake:
            mimetype = request.mimetype
            query_options = {name: value for name, value in request.args.items() if name in ZIP_QUERY_OPTIONS}
            if query_options and mimetype not in ZIP_TYPES:
                raise ApiError(
                    ApiErrorCode.INVALID_PARAMETER,
                    f"{', '.join(sorted(query_options))}: options go in the body; only a zip body takes them in the query",
                )
            if mimetype == MULTIPART or mimetype in ZIP_TYPES:
                # Images stream to the object store a few at a time: a large body is fine here.
                request.max_content_length = settings.api.max_batch_request_bytes
            if mimetype == MULTIPART:
                boundary = request.mimetype_params.get("boundary", "").encode("latin-1")
                if not boundary:
                    raise ApiError(ApiErrorCode.INVALID_BATCH, "the multipart body has no boundary")
                fields = intake.read_multipart(request.stream, boundary)
                options: Any = validate(BatchForm, decode_form_fields(BatchForm, fields))
            elif mimetype in ZIP_TYPES:
                with tempfile.TemporaryFile() as spool:
                    shutil.copyfileobj(request.stream, spool, 1024 * 1024)
                    spool.seek(0)
                    intake.read_zip(spool)
                options = validate(BatchForm, decode_form_fields(BatchForm, query_options))
            else:
                if (request.content_length or 0) > settings.api.max_request_bytes:
                    raise ApiError(ApiErrorCode.REQUEST_TOO_LARGE)
                options = parse_body(BatchJson)
                if (options.image_keys is None) == (options.prefix is None):
                    raise ApiError(ApiErrorCode.INVALID_BATCH, "give exactly one of image_keys and prefix")
                keys = (
                    options.image_keys
                    if options.image_keys is not None
                    else iter_prefix(ctx.store, options.prefix or "", path.project_id)
                )
                for key in keys:
                    intake.add_key(key)
            items = intake.manifest(
                face_set.external_fields or {}, options.external_fields, options.items, options.user_id_from
            )
            manifest_key = intake.store_manifest(items)
        outcome = ctx.service.enroll_batch(
            path.project_id,
            face_set,
            manifest_key,
            len(items),
            EnrollOptions(select=options.select, on_duplicate=options.on_duplicate, quality_gate=options.quality_gate),
            idempotency_key=idempotency_key(header),
        )
        return job_response(path.project_id, outcome)

    return bp
