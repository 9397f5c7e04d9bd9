"""Face sets remember when their vectors were last written, in the vector index's own clock:
``face_sets.vector_written_ts``.

A search sent right after an enrollment must see the new faces. It asked the index for Strong
consistency, which a Milvus server answers only at its next time tick (~200 ms, and again for
every such search). With the write's timestamp the search asks only to see that write, which
is immediate once the write is visible. Face sets from before have none and keep Strong reads.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("face_sets", sa.Column("vector_written_ts", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("face_sets") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("vector_written_ts")
