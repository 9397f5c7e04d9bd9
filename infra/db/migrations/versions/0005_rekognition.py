"""The Rekognition-compatible endpoint: access-key pairs, collection ids and users.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=64)
NAME = sa.String(length=255)


def timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "rekognition_access_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("label", NAME, nullable=True),
        timestamp("created_at"),
        timestamp("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_rekognition_access_keys_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rekognition_access_keys"),
    )
    op.create_index("ix_rekognition_access_keys_project_id", "rekognition_access_keys", ["project_id"])
    op.create_table(
        "rekognition_collections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("collection_id", NAME, nullable=False),
        sa.Column("face_set_id", ID, nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_rekognition_collections"),
        sa.UniqueConstraint(
            "project_id", "collection_id", name="uq_rekognition_collections_project_id_collection_id"
        ),
    )
    op.create_index("ix_rekognition_collections_face_set_id", "rekognition_collections", ["face_set_id"])
    op.create_table(
        "rekognition_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("face_set_id", ID, nullable=False),
        sa.Column("user_id", NAME, nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_rekognition_users"),
        sa.UniqueConstraint("face_set_id", "user_id", name="uq_rekognition_users_face_set_id_user_id"),
    )
    op.create_table(
        "rekognition_images",
        sa.Column("image_key", sa.String(length=512), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("image_key", name="pk_rekognition_images"),
    )


def downgrade() -> None:
    op.drop_table("rekognition_images")
    op.drop_table("rekognition_users")
    op.drop_index("ix_rekognition_collections_face_set_id", table_name="rekognition_collections")
    op.drop_table("rekognition_collections")
    op.drop_index("ix_rekognition_access_keys_project_id", table_name="rekognition_access_keys")
    op.drop_table("rekognition_access_keys")
