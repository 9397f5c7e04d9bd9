"""Alembic environment: runs on the connection ``infra.db.migrate`` hands over, or on the
URL of the config when started by the ``alembic`` command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from infra.db.database import create_database_engine
from infra.db.models import Base

# Any constant: several containers migrating at once take turns on PostgreSQL.
MIGRATION_LOCK_ID = 7_315_004_211


def run_on(connection: Connection) -> None:
    is_sqlite = connection.dialect.name == "sqlite"
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=is_sqlite,  # SQLite alters tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()


def run_migrations_online() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        run_on(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported")
run_migrations_online()
