"""Face sets being deleted: ``face_sets.deleting_since``.

Set when a face set's delete job is queued, so that the face set answers 404 at once instead
of once the job has run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("face_sets", sa.Column("deleting_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("face_sets") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("deleting_since")
