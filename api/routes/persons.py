"""Persons (faces grouped by user_id): list them with face counts, read one, erase one in
a face set or in the whole project. An erasure is a job like every delete: synchronous
within the bounded wait, 202 with ``Prefer: respond-async``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint

from api.context import ApiContext, current_context
from api.errors import ApiError, ApiErrorCode
from api.ops_schemas import (
    PageQuery,
    PersonDeleted,
    PersonListResponse,
    PersonPath,
    PersonResponse,
    ProjectPersonPath,
)
from api.routes.common import ACCEPTED, idempotency_key, job_response, v1_blueprint, wants_async
from api.schemas import AsyncQuery, FaceSetPath, JobHeaders
from core.jobs import JobKind
from core.payloads import DeletePersonPayload
from core.results import DeletePersonResult, StoredFace
from infra.db.persons import PersonRepo

PERSON_FACES_LIMIT = 1000


def persons_of(ctx: ApiContext) -> PersonRepo:
    return PersonRepo(ctx.database)


def persons_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_persons", "persons", "Persons: the faces of one user_id, listed and erased together")

    @bp.get("/face-sets/<face_set_name>/persons", responses={200: PersonListResponse})
    def list_persons(path: FaceSetPath, query: PageQuery) -> Response:
        """A page of the face set's persons (by user_id) with their face counts."""
        ctx = current_context()
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        repo = persons_of(ctx)
        page = repo.list(path.project_id, face_set.id, offset=query.offset, limit=query.limit)
        return jsonify(
            {
                "face_set_id": face_set.id,
                "face_set_name": face_set.name,
                "persons": [{"user_id": person.user_id, "face_count": person.face_count} for person in page],
                "total": repo.count(path.project_id, face_set.id),
            }
        )

    @bp.get("/face-sets/<face_set_name>/persons/<user_id>", responses={200: PersonResponse})
    def get_person(path: PersonPath) -> Response:
        """One person's faces (up to 1000; page larger ones with GET faces?user_id=)."""
        ctx = current_context()
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        repo = persons_of(ctx)
        count = repo.face_count(path.project_id, face_set.id, path.user_id)
        if count == 0:
            raise _no_such_person(path.user_id, "in this face set")
        faces = repo.faces(path.project_id, face_set.id, path.user_id, limit=PERSON_FACES_LIMIT)
        return jsonify(
            {
                "face_set_id": face_set.id,
                "face_set_name": face_set.name,
                "user_id": path.user_id,
                "face_count": count,
                "faces": [StoredFace.of(face).to_json() for face in faces],
            }
        )

    @bp.delete("/face-sets/<face_set_name>/persons/<user_id>", responses={200: PersonDeleted, **ACCEPTED})
    def delete_person(path: PersonPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Erase the person from this face set: every face, vector, crop and image (an
        image another face still uses is kept), each store checked afterwards."""
        ctx = current_context()
        face_set = ctx.service.face_set(path.project_id, path.face_set_name)
        if persons_of(ctx).face_count(path.project_id, face_set.id, path.user_id) == 0:
            raise _no_such_person(path.user_id, "in this face set")
        payload = DeletePersonPayload(project_id=path.project_id, user_id=path.user_id, face_set_id=face_set.id)
        return _erase(ctx, path.project_id, payload, query, header)

    @bp.delete("/persons/<user_id>", responses={200: PersonDeleted, **ACCEPTED})
    def delete_person_everywhere(path: ProjectPersonPath, query: AsyncQuery, header: JobHeaders) -> Response:
        """Erase the person from every face set of the project (a GDPR erasure request)."""
        ctx = current_context()
        if not persons_of(ctx).face_sets_of(path.project_id, path.user_id):
            raise _no_such_person(path.user_id, "in any face set of this project")
        payload = DeletePersonPayload(project_id=path.project_id, user_id=path.user_id)
        return _erase(ctx, path.project_id, payload, query, header)

    return bp


def _erase(
    ctx: ApiContext, project_id: str, payload: DeletePersonPayload, query: AsyncQuery, header: JobHeaders
) -> Response:
    outcome = ctx.gateway.run(
        project_id,
        JobKind.DELETE_PERSON,
        payload,
        wait=not wants_async(query, header),
        idempotency_key=idempotency_key(header),
    )
    return job_response(project_id, outcome, _rendered_erasure)


def _rendered_erasure(result: DeletePersonResult) -> dict[str, Any]:
    return result.model_dump(mode="json", include={"user_id", "deleted_faces", "face_sets", "verified"})


def _no_such_person(user_id: str, where: str) -> ApiError:
    return ApiError(ApiErrorCode.PERSON_NOT_FOUND, f"user_id {user_id[:64]!r} has no face {where}")
