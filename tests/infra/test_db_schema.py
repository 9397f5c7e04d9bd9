"""The SQL layer's schema and connections: migrations, SQLite's pragmas, bare connections
and lone statements, and a forked child's own pool."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from infra.db import Database, migrate
from infra.db.migrate import current_revision
from infra.db.models import Base
from infra.settings import DatabaseSettings
from tests.support.sql import Repos

HEAD = "0008"


# ---------------------------------------------------------------------------- schema


def test_migrate_twice_is_a_no_op_and_keeps_data(database_url: str, repos: Repos) -> None:
    repos.projects.create(f"kept-{repos.project_id}", project_id=repos.project_id)
    migrate(database_url)
    assert current_revision(database_url) == HEAD
    assert repos.projects.get(repos.project_id) is not None


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    tables = set(inspect(database.engine).get_table_names())
    assert {"projects", "api_keys", "face_sets", "persons", "faces", "jobs", "alembic_version"} <= tables


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    settings = DatabaseSettings(url=f"sqlite:///{tmp_path / 'nested' / 'dir' / 'facefleet.db'}")
    database = Database.from_settings(settings)  # creates the missing folders
    try:
        with database.session() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert session.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    finally:
        database.dispose()
    assert (tmp_path / "nested" / "dir" / "facefleet.db").exists()


# ---------------------------------------------------------------------------- connections


@pytest.fixture
def marks(database: Database) -> Iterator[str]:
    """A scratch table of names (``who``), dropped after the test."""
    table = f"marks_{uuid.uuid4().hex[:8]}"
    with database.connection() as connection:
        connection.execute(text(f"CREATE TABLE {table} (who VARCHAR(16))"))
    yield table
    with database.session() as session:
        session.execute(text(f"DROP TABLE {table}"))


def _names_in(database: Database, table: str) -> list[str]:
    with database.session() as session:
        return list(session.execute(text(f"SELECT who FROM {table}")).scalars())


def _insert_in_a_failing_block(database: Database, table: str) -> None:
    with pytest.raises(RuntimeError), database.connection() as connection:
        connection.execute(text(f"INSERT INTO {table} (who) VALUES ('dropped')"))
        raise RuntimeError("the block failed")


def test_a_bare_connection_commits_when_its_block_ends_and_rolls_back_when_it_raises(
    database: Database, marks: str
) -> None:
    """``Database.connection``, the hot path's transaction, keeps ``session``'s contract."""
    with database.connection() as connection:
        connection.execute(text(f"INSERT INTO {marks} (who) VALUES ('kept')"))
    _insert_in_a_failing_block(database, marks)
    assert _names_in(database, marks) == ["kept"]


def test_a_lone_statement_is_committed_by_the_database(database: Database, marks: str) -> None:
    """``Database.statement`` runs without BEGIN or COMMIT on PostgreSQL: what it wrote is
    there for another connection at once, and its connection goes back to the pool in
    transactions again (the next ``connection()`` block still rolls back)."""
    with database.statement() as connection:
        assert database.is_sqlite or getattr(connection.connection.driver_connection, "autocommit", False)
        connection.execute(text(f"INSERT INTO {marks} (who) VALUES ('kept')"))
    assert _names_in(database, marks) == ["kept"]
    for _ in range(3):  # every pooled connection the statement may have used
        _insert_in_a_failing_block(database, marks)
    assert _names_in(database, marks) == ["kept"]


def test_a_forked_child_opens_its_own_connections(database: Database) -> None:
    with database.session() as session:
        session.execute(text("SELECT 1"))  # the parent's pool now holds a connection
    parent_pool = database.engine.pool
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            with database.session() as session:
                ok = session.execute(text("SELECT 1")).scalar() == 1
            fresh_pool = database.engine.pool is not parent_pool
            os.write(write, b"ok" if ok and fresh_pool else b"bad")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.read(read, 8) == b"ok" and status == 0
    os.close(read)
    with database.session() as session:  # the parent's connections still work
        assert session.execute(text("SELECT 1")).scalar() == 1
