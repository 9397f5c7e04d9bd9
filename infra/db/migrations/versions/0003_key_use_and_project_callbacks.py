"""When each API key was last used, and each project's default callback URL.

``api_keys.last_used_at`` lets an operator see which key of a rotation is still in use
before revoking the old one; ``projects.default_callback_url`` is where a project's job
callbacks go when a request names none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("projects", sa.Column("default_callback_url", sa.String(2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("default_callback_url")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
