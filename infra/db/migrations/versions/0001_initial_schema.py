"""Initial schema: projects, API keys, face sets, persons, faces and jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types: a migration must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ID = sa.String(length=64)
NAME = sa.String(length=255)
KEY = sa.String(length=512)


def timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("webhook_secret", sa.String(length=128), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint("name", name="uq_projects_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("label", NAME, nullable=True),
        timestamp("created_at"),
        timestamp("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_api_keys_project_id_projects", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_project_id", "api_keys", ["project_id"])

    op.create_table(
        "face_sets",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("external_fields", JSON, nullable=False),
        sa.Column("face_count", sa.Integer(), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_face_sets"),
        sa.UniqueConstraint("project_id", "name", name="uq_face_sets_project_id_name"),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("face_set_id", ID, nullable=False),
        sa.Column("user_id", NAME, nullable=False),
        sa.Column("name", NAME, nullable=True),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["face_set_id"], ["face_sets.id"], name="fk_persons_face_set_id_face_sets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
        sa.UniqueConstraint("face_set_id", "user_id", name="uq_persons_face_set_id_user_id"),
    )
    op.create_table(
        "faces",
        sa.Column("face_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("face_set_id", ID, nullable=False),
        sa.Column("external_image_id", NAME, nullable=False),
        sa.Column("external_fields", JSON, nullable=False),
        sa.Column("user_id", NAME, nullable=True),
        sa.Column("box_x", sa.Integer(), nullable=False),
        sa.Column("box_y", sa.Integer(), nullable=False),
        sa.Column("box_width", sa.Integer(), nullable=False),
        sa.Column("box_height", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("image_key", KEY, nullable=False),
        sa.Column("crop_key", KEY, nullable=True),
        sa.Column("model_id", NAME, nullable=False),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["face_set_id"], ["face_sets.id"], name="fk_faces_face_set_id_face_sets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("face_id", name="pk_faces"),
    )
    op.create_index("ix_faces_face_set_id_created_at", "faces", ["face_set_id", "created_at"])
    op.create_index("ix_faces_face_set_id_external_image_id", "faces", ["face_set_id", "external_image_id"])
    op.create_index("ix_faces_face_set_id_user_id", "faces", ["face_set_id", "user_id"])
    op.create_index("ix_faces_image_key", "faces", ["image_key"])
    op.create_index("ix_faces_crop_key", "faces", ["crop_key"])

    op.create_table(
        "jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", JSON, nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("parent_job_id", ID, nullable=True),
        sa.Column("idempotency_key", NAME, nullable=True),
        sa.Column("worker", NAME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("callback_url", sa.String(length=2048), nullable=True),
        sa.Column("webhook", JSON, nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
        timestamp("heartbeat_at", nullable=True),
        timestamp("expires_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("project_id", "idempotency_key", name="uq_jobs_project_id_idempotency_key"),
    )
    op.create_index("ix_jobs_expires_at", "jobs", ["expires_at"])
    op.create_index("ix_jobs_parent_job_id", "jobs", ["parent_job_id"])
    op.create_index("ix_jobs_status_heartbeat_at", "jobs", ["status", "heartbeat_at"])


def downgrade() -> None:
    for table in ("jobs", "faces", "persons", "face_sets", "api_keys", "projects"):
        op.drop_table(table)
