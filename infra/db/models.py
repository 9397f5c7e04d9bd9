"""The SQL schema as typed ORM classes. Alembic migrations create it; tests compare the two.

Ids are strings chosen by the application (random for projects, face sets and keys;
deterministic for faces and jobs) so that a retried write finds what its first try wrote.
``project_id`` columns are not foreign keys: tools and workers create face sets and jobs
for a project id the API has already authenticated, and a project row is only what the
API authenticates against.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 64
NAME_LENGTH = 255
KEY_LENGTH = 512
LEGACY_FACE_SET_MODEL = "dlib-resnet-v1"

JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JsonColumn}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    # Signs this project's webhook calls (infra.webhooks).
    webhook_secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Where job callbacks go when a request names none (X-Callback-Url / callback_url).
    default_callback_url: Mapped[str | None] = mapped_column(String(2048))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    # sha256 of the secret part only: the raw key is shown once and never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None]
    # Refreshed at most once a minute per key (see ApiKeyRepo.touch), not on every request.
    last_used_at: Mapped[datetime | None]


class FaceSet(Base):
    __tablename__ = "face_sets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_face_sets_project_id_name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    capacity: Mapped[int] = mapped_column(Integer)
    # The typed custom-field schema: {field name: {"type": ...}}.
    external_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Kept in the same transaction as every face insert/delete; capacity checks read it.
    face_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Set when a delete job for it was queued: from then on it is gone for clients (404),
    # while the job removes its faces, vectors and images.
    deleting_since: Mapped[datetime | None]
    # The embedding model its faces are searched with (vectors of models never mix); face
    # sets from before model versions hold the raw dlib descriptor.
    model_id: Mapped[str] = mapped_column(
        String(NAME_LENGTH), default=LEGACY_FACE_SET_MODEL, server_default=LEGACY_FACE_SET_MODEL
    )
    # While a reindex job re-embeds its faces: the model they are also written with (new
    # enrollments go to both collections). After the switch: the model whose vectors stay
    # until an explicit cleanup.
    reindex_model_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    previous_model_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    # The vector index's own timestamp of the latest write of its faces' vectors, set in the
    # transaction that adds their rows: a search right after asks the index to be at least
    # that current (``infra.vector_index``), not as current as its clock (Strong).
    vector_written_ts: Mapped[int | None] = mapped_column(BigInteger)


class Person(Base):
    """A user id grouping several faces of one face set."""

    __tablename__ = "persons"
    __table_args__ = (UniqueConstraint("face_set_id", "user_id", name="uq_persons_face_set_id_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    face_set_id: Mapped[str] = mapped_column(ForeignKey("face_sets.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Face(Base):
    __tablename__ = "faces"
    __table_args__ = (
        Index("ix_faces_face_set_id_created_at", "face_set_id", "created_at"),
        Index("ix_faces_face_set_id_external_image_id", "face_set_id", "external_image_id"),
        Index("ix_faces_face_set_id_user_id", "face_set_id", "user_id"),
    )

    face_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    face_set_id: Mapped[str] = mapped_column(ForeignKey("face_sets.id", ondelete="CASCADE"))
    external_image_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    external_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    box_x: Mapped[int] = mapped_column(Integer)
    box_y: Mapped[int] = mapped_column(Integer)
    box_width: Mapped[int] = mapped_column(Integer)
    box_height: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float | None] = mapped_column(Float)
    image_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    crop_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH), index=True)
    # Vectors of different models are never comparable: each face says which made it.
    model_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key", name="uq_jobs_project_id_idempotency_key"),
        Index("ix_jobs_status_heartbeat_at", "status", "heartbeat_at"),
        # The console's jobs list: a project's newest jobs first.
        Index("ix_jobs_project_id_created_at", "project_id", "created_at"),
        # The fleet's figures per minute: jobs (and their workers) finished lately.
        Index("ix_jobs_finished_at", "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[dict[str, Any] | None]
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    parent_job_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    worker: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    # The delivery report of the job's signed callback (workers.webhooks).
    webhook: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Last sign of life of the worker running it, or when it was last (re)sent.
    heartbeat_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class FleetSample(Base):
    """One minute of fleet figures (``GET /v1/admin/queues`` sampled by the API), for the
    console's last-hour chart. The minute is the key, so API processes sampling the same
    minute write it once."""

    __tablename__ = "fleet_samples"

    minute: Mapped[datetime] = mapped_column(primary_key=True)
    ready: Mapped[int] = mapped_column(Integer, default=0)
    unacked: Mapped[int] = mapped_column(Integer, default=0)
    workers: Mapped[int | None] = mapped_column(Integer)
    jobs_finished: Mapped[int] = mapped_column(Integer, default=0)
    queues: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RekognitionAccessKey(Base):
    """An access-key pair of the Rekognition endpoint. SigV4 is an HMAC, so the server needs
    the secret itself: it is kept Fernet-encrypted under ``rekognition.encryption_keys``."""

    __tablename__ = "rekognition_access_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)  # the access key id
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None]


class RekognitionCollection(Base):
    """A Rekognition CollectionId (up to 255 characters, wider than native names) → the face
    set that holds its faces. The face set gets a fresh native name per creation, so a
    collection id is free again the moment it is deleted."""

    __tablename__ = "rekognition_collections"
    __table_args__ = (
        UniqueConstraint("project_id", "collection_id", name="uq_rekognition_collections_project_id_collection_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    collection_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    face_set_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RekognitionUser(Base):
    """A Rekognition user of a collection. Faces carry the user id (``faces.user_id``, the
    native persons); this row keeps a user that has no face yet, as Rekognition does."""

    __tablename__ = "rekognition_users"
    __table_args__ = (UniqueConstraint("face_set_id", "user_id", name="uq_rekognition_users_face_set_id_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    face_set_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    user_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RekognitionImage(Base):
    """The size of an image indexed through the Rekognition endpoint, by its content key:
    Rekognition gives bounding boxes as ratios of the image, and ListFaces has no image."""

    __tablename__ = "rekognition_images"

    image_key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class JobOutcomeCount(Base):
    """How many jobs of each kind ended in each final state, counted in the transaction
    that made the job final: exactly once, whichever process finished it, and never
    decreasing when old job rows expire (Prometheus counters read it)."""

    __tablename__ = "job_outcome_counts"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
