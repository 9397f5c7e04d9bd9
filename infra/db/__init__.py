"""The SQL layer: SQLAlchemy 2 models, repositories and Alembic migrations.

SQLite (embedded mode) and PostgreSQL through psycopg 3 (``postgresql+psycopg://``), with
the same code. Repositories return frozen snapshots (``infra.db.rows``), never live ORM
objects, and raise the domain errors of ``infra.db.errors``.
"""

from __future__ import annotations

from infra.db.database import Database
from infra.db.errors import CapacityExceeded, DatabaseError, DuplicateFaceId, DuplicateName, NotFound
from infra.db.migrate import migrate

__all__ = [
    "CapacityExceeded",
    "Database",
    "DatabaseError",
    "DuplicateFaceId",
    "DuplicateName",
    "NotFound",
    "migrate",
]
