"""Alembic, driven from code: the scripts ship inside the package, so no alembic.ini is
needed wherever FaceFleet is installed (``facefleet migrate``, the embedded launcher)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from infra.db.database import create_database_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    # Imported here: the API imports infra.db on every start and never migrates.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would read a '%' of a URL-encoded password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision``; a no-op when it is there already."""
    from alembic import command

    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            config = alembic_config(url)
            # env.py runs on this connection (with the SQLite pragmas) instead of its own.
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
