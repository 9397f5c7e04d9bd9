"""Job outcome counts: finished jobs by kind and final status, counted once in the
transaction that finishes each job, for /metrics (``facefleet_jobs_finished_total``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_outcome_counts",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "status", name=op.f("pk_job_outcome_counts")),
    )


def downgrade() -> None:
    op.drop_table("job_outcome_counts")
