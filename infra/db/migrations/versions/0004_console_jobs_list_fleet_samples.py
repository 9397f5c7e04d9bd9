"""The console's reads: ``jobs`` by project and age and by finish time, and
``fleet_samples`` (one row a minute).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_index("ix_jobs_project_id_created_at", "jobs", ["project_id", "created_at"])
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])
    op.create_table(
        "fleet_samples",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready", sa.Integer(), nullable=False),
        sa.Column("unacked", sa.Integer(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=True),
        sa.Column("jobs_finished", sa.Integer(), nullable=False),
        sa.Column("queues", JSON, nullable=False),
        sa.PrimaryKeyConstraint("minute", name="pk_fleet_samples"),
    )


def downgrade() -> None:
    op.drop_table("fleet_samples")
    op.drop_index("ix_jobs_finished_at", table_name="jobs")
    op.drop_index("ix_jobs_project_id_created_at", table_name="jobs")
