"""What repositories return: frozen snapshots, safe to use after their session closed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from infra.db.models import ApiKey, Face, FaceSet, Job, Person, Project, UtcDateTime


@dataclass(frozen=True)
class ProjectRow:
    id: str
    name: str
    webhook_secret: str
    created_at: datetime
    default_callback_url: str | None = None

    @property
    def project_id(self) -> str:
        return self.id

    @classmethod
    def of(cls, model: Project) -> ProjectRow:
        return cls(
            id=model.id,
            name=model.name,
            webhook_secret=model.webhook_secret,
            created_at=model.created_at,
            default_callback_url=model.default_callback_url,
        )


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    project_id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = None

    @classmethod
    def of(cls, model: ApiKey | Row[Any]) -> ApiKeyRow:
        return cls(
            id=model.id,
            project_id=model.project_id,
            label=model.label,
            created_at=model.created_at,
            revoked_at=model.revoked_at,
            last_used_at=model.last_used_at,
        )


@dataclass(frozen=True)
class IssuedApiKey:
    """A new key: ``key`` is the only copy of the secret, to be shown once."""

    id: str
    project_id: str
    key: str
    label: str | None
    created_at: datetime


@dataclass(frozen=True)
class FaceSetRow:
    id: str
    project_id: str
    name: str
    capacity: int
    external_fields: dict[str, Any]
    face_count: int
    created_at: datetime
    model_id: str = "dlib-resnet-v1"
    reindex_model_id: str | None = None
    previous_model_id: str | None = None
    vector_written_ts: int | None = None

    @property
    def face_set_id(self) -> str:
        return self.id

    @classmethod
    def of(cls, model: FaceSet | Row[Any]) -> FaceSetRow:
        return cls(
            id=model.id,
            project_id=model.project_id,
            name=model.name,
            capacity=model.capacity,
            external_fields=dict(model.external_fields or {}),
            face_count=model.face_count,
            created_at=model.created_at,
            model_id=model.model_id,
            reindex_model_id=model.reindex_model_id,
            previous_model_id=model.previous_model_id,
            vector_written_ts=model.vector_written_ts,
        )


@dataclass(frozen=True)
class Box:
    """A face's bounding box in image pixels (top-left corner, size)."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class FaceRow:
    face_id: str
    project_id: str
    face_set_id: str
    external_image_id: str
    external_fields: dict[str, Any]
    user_id: str | None
    box: Box
    confidence: float | None
    image_key: str
    crop_key: str | None
    model_id: str
    created_at: datetime

    @property
    def id(self) -> str:
        return self.face_id

    @classmethod
    def of(cls, model: Face | Row[Any]) -> FaceRow:
        return cls(
            face_id=model.face_id,
            project_id=model.project_id,
            face_set_id=model.face_set_id,
            external_image_id=model.external_image_id,
            external_fields=dict(model.external_fields or {}),
            user_id=model.user_id,
            box=Box(model.box_x, model.box_y, model.box_width, model.box_height),
            confidence=model.confidence,
            image_key=model.image_key,
            crop_key=model.crop_key,
            model_id=model.model_id,
            created_at=model.created_at,
        )


@dataclass(frozen=True)
class PersonRow:
    project_id: str
    face_set_id: str
    user_id: str
    name: str | None
    created_at: datetime

    @classmethod
    def of(cls, model: Person) -> PersonRow:
        return cls(
            project_id=model.project_id,
            face_set_id=model.face_set_id,
            user_id=model.user_id,
            name=model.name,
            created_at=model.created_at,
        )


@dataclass(frozen=True)
class JobRow:
    id: str
    project_id: str
    kind: str
    status: str
    payload: dict[str, Any] | None
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    error_details: dict[str, Any] | None
    progress_done: int
    progress_total: int | None
    parent_job_id: str | None
    idempotency_key: str | None
    worker: str | None
    attempts: int
    callback_url: str | None
    webhook: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    expires_at: datetime | None

    @property
    def job_id(self) -> str:
        return self.id

    @property
    def progress(self) -> tuple[int, int | None]:
        return self.progress_done, self.progress_total

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> JobRow:
        """From the row as PostgreSQL's ``row_to_json`` writes it (a completion push): JSON
        columns as they were stored, timestamps as ISO text, turned into UTC datetimes as
        the columns' type reads them. Raises KeyError or ValueError for anything else."""
        values = {name: fields[name] for name in _JOB_ROW_FIELDS}
        for name in _JOB_ROW_TIMESTAMPS:
            text = values[name]
            values[name] = None if text is None else datetime.fromisoformat(text).astimezone(UTC)
        return cls(**values)

    @classmethod
    def of(cls, model: Job | Row[Any]) -> JobRow:
        """From a model or from a Core row of the jobs table (``Database.statement``,
        ``Database.connection``)."""
        return cls(
            id=model.id,
            project_id=model.project_id,
            kind=model.kind,
            status=model.status,
            payload=model.payload,
            result=model.result,
            error_code=model.error_code,
            error_message=model.error_message,
            error_details=model.error_details,
            progress_done=model.progress_done,
            progress_total=model.progress_total,
            parent_job_id=model.parent_job_id,
            idempotency_key=model.idempotency_key,
            worker=model.worker,
            attempts=model.attempts,
            callback_url=model.callback_url,
            webhook=model.webhook,
            created_at=model.created_at,
            updated_at=model.updated_at,
            started_at=model.started_at,
            finished_at=model.finished_at,
            heartbeat_at=model.heartbeat_at,
            expires_at=model.expires_at,
        )


_JOB_ROW_FIELDS = tuple(field.name for field in dataclasses.fields(JobRow))
# The columns that ``row_to_json`` writes as text and a read returns as UTC datetimes.
_JOB_ROW_TIMESTAMPS = tuple(column.name for column in Job.__table__.columns if isinstance(column.type, UtcDateTime))
