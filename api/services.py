"""The face service as HTTP layers see it: one facade for the native API and the dialects.

Everything here speaks project ids, face-set names, object keys and pydantic models, and
raises ``core.errors.DomainError`` (a failed job's too); rendering (field names, codes,
statuses) is each front end's, from its one table of ``ErrorCode``s. Compute runs as jobs
through the ``JobGateway`` (whose own refusals, a reused Idempotency-Key, a refused callback
URL or an unreachable job queue, are still the native API's ``ApiError``); metadata reads
and writes go straight to SQL.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import Any

from api.face_filters import check_search_filter, matching_face_ids
from api.fields import check_known, validate_schema, validate_values
from api.jobs import JobGateway, JobOutcome
from core.errors import DomainError, ErrorCode
from core.jobs import JobKind
from core.payloads import (
    ComparePayload,
    DeleteFaceSetPayload,
    DeleteFacesPayload,
    DetectPayload,
    EnrollBatchPayload,
    EnrollOptions,
    EnrollPayload,
    SearchPayload,
    UpdateFacePayload,
)
from infra.settings import Settings

_ID_ALPHABET = string.ascii_letters + string.digits


def new_external_image_id(seed: str | None = None) -> str:
    """The seed generates an 8-letter id when the client gives none. With a ``seed`` (an
    Idempotency-Key, a batch item's identity) the id is derived from it, so a retried
    request builds the same job payload and finds its first job."""
    if seed is None:
        return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    letters = []
    for _ in range(8):
        number, index = divmod(number, len(_ID_ALPHABET))
        letters.append(_ID_ALPHABET[index])
    return "".join(letters)


class FaceService:
    def __init__(
        self, *, settings: Settings, face_sets: Any, faces: Any, jobs: Any, gateway: JobGateway
    ) -> None:
        self.settings = settings
        self.face_sets = face_sets
        self.faces = faces
        self.jobs = jobs
        self.gateway = gateway

    # ------------------------------------------------------------------ face sets

    def create_face_set(
        self,
        project_id: str,
        name: str,
        capacity: int | None,
        external_fields: dict[str, Any],
        model: str | None = None,
    ) -> Any:
        """``model``: the embedding model its faces are searched with (settings'
        ``pipeline.face_set_model`` when None)."""
        limits = self.settings.api
        model = model or self.settings.pipeline.face_set_model
        if not self.offers_model(model):
            offered = ", ".join(self.settings.pipeline.face_set_models)
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT, f"model must be one of: {offered}, or a registered arcface-<name>"
            )
        capacity = limits.default_face_set_capacity if capacity is None else capacity
        if not 1 <= capacity <= limits.max_face_set_capacity:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"face_set_capacity must be between 1 and {limits.max_face_set_capacity}",
            )
        schema = validate_schema(external_fields)
        if self.face_sets.get_by_name(project_id, name) is not None:
            raise DomainError(ErrorCode.FACE_SET_EXISTS, f"a face set named {name!r} already exists")
        if self.face_sets.count(project_id) >= limits.max_face_sets_per_project:
            raise DomainError(
                ErrorCode.FACE_SET_LIMIT,
                f"a project may hold at most {limits.max_face_sets_per_project} face sets",
            )
        created = self.face_sets.create(
            project_id=project_id, name=name, capacity=capacity, external_fields=schema, model_id=model
        )
        if created is None and self.face_sets.get_by_name(project_id, name) is None:
            raise DomainError(
                ErrorCode.FACE_SET_EXISTS,
                f"the face set named {name!r} is being deleted; create it again once its delete job has finished",
            )
        if created is None:  # lost a race with a concurrent create of the same name
            raise DomainError(ErrorCode.FACE_SET_EXISTS, f"a face set named {name!r} already exists")
        return created

    def offers_model(self, model: str) -> bool:
        """A built-in model a face set may use, or one registered with ``facefleet models add``."""
        if model in self.settings.pipeline.face_set_models:
            return True
        from infra.model_registry import lookup, name_of
        from infra.object_store import object_store_from_settings

        name = name_of(model)
        return name is not None and lookup(object_store_from_settings(self.settings), name) is not None

    def list_face_sets(self, project_id: str) -> list[Any]:
        return list(self.face_sets.list(project_id))

    def face_set(self, project_id: str, name: str, include_deleting: bool = False) -> Any:
        face_set = self.face_sets.get_by_name(project_id, name, include_deleting=include_deleting)
        if face_set is None:
            raise DomainError(ErrorCode.FACE_SET_NOT_FOUND, f"face set {name[:64]!r} does not exist")
        return face_set

    def delete_face_set(
        self, project_id: str, name: str, *, wait: bool, idempotency_key: str | None
    ) -> JobOutcome:
        # One being deleted too: a second DELETE re-sends the job of a delete that failed.
        face_set = self.face_set(project_id, name, include_deleting=True)
        payload = DeleteFaceSetPayload(project_id=project_id, face_set_id=face_set.id)
        outcome = self.gateway.run(
            project_id, JobKind.DELETE_FACE_SET, payload, wait=wait, idempotency_key=idempotency_key
        )
        if not outcome.finished:
            # Queued, not yet done: the face set is gone for clients from now on (404), not
            # only once the job has removed its faces.
            self.face_sets.mark_deleting(project_id, face_set.id)
        return outcome

    # ------------------------------------------------------------------ faces

    def add_faces(
        self,
        project_id: str,
        name: str,
        image_key: str,
        *,
        external_image_id: str | None,
        external_fields: dict[str, Any],
        user_id: str | None,
        options: EnrollOptions,
        wait: bool,
        idempotency_key: str | None,
    ) -> JobOutcome:
        face_set = self.face_set(project_id, name)
        payload = EnrollPayload(
            project_id=project_id,
            face_set_id=face_set.id,
            image_key=image_key,
            external_image_id=external_image_id
            or new_external_image_id(f"{project_id}\0{idempotency_key}" if idempotency_key else None),
            external_fields=validate_values(face_set.external_fields or {}, external_fields),
            user_id=user_id,
            options=options,
        )
        return self.gateway.run(
            project_id, JobKind.ENROLL, payload, wait=wait, idempotency_key=idempotency_key
        )

    def face(self, project_id: str, name: str, face_id: str) -> tuple[Any, Any]:
        face_set = self.face_set(project_id, name)
        face = self.faces.get(project_id, face_set.id, face_id)
        if face is None:
            raise DomainError(ErrorCode.FACE_NOT_FOUND, f"face {face_id[:64]!r} is not in this face set")
        return face_set, face

    def list_faces(self, project_id: str, name: str, offset: int, limit: int) -> tuple[Any, list[Any]]:
        face_set = self.face_set(project_id, name)
        return face_set, list(self.faces.list(project_id, face_set.id, offset=offset, limit=limit))

    def update_face(
        self,
        project_id: str,
        name: str,
        face_id: str,
        *,
        external_image_id: str | None,
        external_fields: dict[str, Any] | None,
        user_id: str | None,
    ) -> Any:
        """The face set, once the face is updated (raises the job's error if it failed)."""
        face_set, outcome = self.update_face_job(
            project_id,
            name,
            face_id,
            external_image_id=external_image_id,
            external_fields=external_fields,
            user_id=user_id,
            wait=True,
            idempotency_key=None,
        )
        outcome.raise_failure()
        return face_set

    def update_face_job(
        self,
        project_id: str,
        name: str,
        face_id: str,
        *,
        external_image_id: str | None,
        external_fields: dict[str, Any] | None,
        user_id: str | None,
        wait: bool,
        idempotency_key: str | None,
    ) -> tuple[Any, JobOutcome]:
        face_set, _ = self.face(project_id, name, face_id)
        fields = None
        if external_fields is not None:
            fields = validate_values(face_set.external_fields or {}, external_fields)
        # A job, not a direct SQL write: search filters read the copy of these values kept
        # beside the vector, and the worker rewrites both.
        payload = UpdateFacePayload(
            project_id=project_id,
            face_set_id=face_set.id,
            face_id=face_id,
            external_image_id=external_image_id,
            external_fields=fields,
            user_id=user_id,
        )
        outcome = self.gateway.run(
            project_id, JobKind.UPDATE_FACE, payload, wait=wait, idempotency_key=idempotency_key
        )
        return face_set, outcome

    def faces_to_delete(
        self,
        project_id: str,
        name: str,
        *,
        face_id: str | None,
        external_image_id: str | None,
        filter_text: str | None,
    ) -> tuple[Any, list[str]]:
        given = [value for value in (face_id, external_image_id, filter_text) if value is not None]
        if len(given) != 1:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT, "give exactly one of face_id, external_image_id and filter"
            )
        face_set = self.face_set(project_id, name)
        if face_id is not None:
            found = self.faces.get(project_id, face_set.id, face_id)
            return face_set, [face_id] if found is not None else []
        if external_image_id is not None:
            rows = self.faces.find_by_external_image_id(project_id, face_set.id, external_image_id)
            return face_set, [row.face_id for row in rows]
        return face_set, matching_face_ids(self.faces, project_id, face_set, filter_text or "")

    def delete_faces(
        self, project_id: str, face_set: Any, face_ids: list[str], *, wait: bool, idempotency_key: str | None
    ) -> JobOutcome:
        payload = DeleteFacesPayload(project_id=project_id, face_set_id=face_set.id, face_ids=face_ids)
        return self.gateway.run(
            project_id, JobKind.DELETE_FACES, payload, wait=wait, idempotency_key=idempotency_key
        )

    # ------------------------------------------------------------------ compute

    def detect(
        self,
        project_id: str,
        image_key: str,
        attributes: list[int],
        *,
        wait: bool,
        idempotency_key: str | None,
    ) -> JobOutcome:
        payload = DetectPayload(image_key=image_key, attributes=attributes)
        return self.gateway.run(
            project_id, JobKind.DETECT, payload, wait=wait, idempotency_key=idempotency_key
        )

    def compare(
        self,
        project_id: str,
        image1_key: str,
        image2_key: str,
        *,
        wait: bool,
        idempotency_key: str | None,
        far: float | None = None,
        face_set_name: str | None = None,
    ) -> JobOutcome:
        """With ``far``, the threshold comes from ``face_set_name``'s own calibration, as for
        search: a compare has no face set of its own, and no model-wide FAR table is shipped
        (the shared pairs cannot support 1e-3; docs/PIPELINE.md)."""
        face_set_id = None
        if (far is None) != (face_set_name is None):
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                "far and face_set_name go together: the face set's labelled faces calibrate the threshold",
            )
        if face_set_name is not None:
            face_set_id = self.face_set(project_id, face_set_name).id
        payload = ComparePayload(
            image1_key=image1_key,
            image2_key=image2_key,
            far=far,
            project_id=None if face_set_id is None else project_id,
            face_set_id=face_set_id,
        )
        return self.gateway.run(
            project_id, JobKind.COMPARE, payload, wait=wait, idempotency_key=idempotency_key
        )

    def search(
        self,
        project_id: str,
        name: str,
        *,
        image_key: str | None,
        face_id: str | None,
        options: dict[str, Any],
        wait: bool,
        idempotency_key: str | None,
        face_set: Any | None = None,
    ) -> JobOutcome:
        """``face_set``: the row of ``name`` where the caller read it already (a second read
        would be a round trip on a sync call's path)."""
        if (image_key is None) == (face_id is None):
            raise DomainError(ErrorCode.MISSING_ARGUMENT, "give exactly one of an image and face_id")
        if face_set is None:
            face_set = self.face_set(project_id, name)
        schema = face_set.external_fields or {}
        if options.get("filter"):
            check_search_filter(options["filter"], schema)  # refuse bad filters before queueing
        check_known(schema, [name for spec in options.get("sort", []) for name in spec], "sort")
        check_known(schema, options.get("return_fields") or [], "return_fields")
        if face_id is not None and self.faces.get(project_id, face_set.id, face_id) is None:
            raise DomainError(ErrorCode.FACE_NOT_FOUND, f"face {face_id[:64]!r} is not in this face set")
        payload = SearchPayload(
            project_id=project_id, face_set_id=face_set.id, image_key=image_key, face_id=face_id, **options
        )
        return self.gateway.run(
            project_id, JobKind.SEARCH, payload, wait=wait, idempotency_key=idempotency_key
        )

    def enroll_batch(
        self,
        project_id: str,
        face_set: Any,
        manifest_key: str,
        total: int,
        options: EnrollOptions,
        *,
        idempotency_key: str | None,
    ) -> JobOutcome:
        payload = EnrollBatchPayload(
            project_id=project_id,
            face_set_id=face_set.id,
            manifest_key=manifest_key,
            total=total,
            options=options,
        )
        return self.gateway.run(
            project_id, JobKind.ENROLL_BATCH, payload, wait=False, idempotency_key=idempotency_key
        )

    # ------------------------------------------------------------------ jobs

    def job(self, project_id: str, job_id: str) -> Any:
        job = self.jobs.get(job_id)
        if job is None or job.project_id != project_id:
            raise DomainError(ErrorCode.JOB_NOT_FOUND, f"job {job_id[:64]!r} does not exist")
        return job
