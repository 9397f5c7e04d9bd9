"""Face sets name their embedding model: ``face_sets.model_id``.

Search and enrollment use the face set's model instead of one per process, so that a new
model version can serve new face sets while existing ones keep theirs. Every face set from
before holds ``dlib-resnet-v1`` vectors. ``reindex_model_id`` and ``previous_model_id``
carry a move to another model (a reindex job) until its old vectors are cleaned up.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "face_sets",
        sa.Column("model_id", sa.String(length=255), nullable=False, server_default="dlib-resnet-v1"),
    )
    op.add_column("face_sets", sa.Column("reindex_model_id", sa.String(length=255), nullable=True))
    op.add_column("face_sets", sa.Column("previous_model_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("face_sets") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("previous_model_id")
        batch.drop_column("reindex_model_id")
        batch.drop_column("model_id")
