"""Fixtures of the tests on a real SQL database: the SQL layer's (tests/infra/test_db_*.py)
and the completion push's (tests/infra/test_completion.py).

Every test that takes them runs on both backends (PostgreSQL ones are marked
``integration``): a migrated SQLite file per module, and the session's PostgreSQL database
(``postgres_url``; a later module's migration is a no-op). Each test that takes ``repos``
gets its own project id, so tests stay fast and never see each other's rows (except the
global housekeeping calls, whose assertions only look at their own jobs).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from infra.db import Database, migrate
from infra.db.repositories import ApiKeyRepo, FaceRepo, FaceSetRepo, JobRepo, ProjectRepo
from tests.support.sql import Repos


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'facefleet.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate(url)  # a no-op where another module migrated the same PostgreSQL database
    return url


@pytest.fixture(scope="module")
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, pool_size=4)
    yield db
    db.dispose()


@pytest.fixture
def repos(database: Database) -> Repos:
    return Repos(
        db=database,
        projects=ProjectRepo(database),
        api_keys=ApiKeyRepo(database),
        face_sets=FaceSetRepo(database),
        faces=FaceRepo(database),
        jobs=JobRepo(database, ttl_seconds=3600),
        project_id=f"p{uuid.uuid4().hex[:12]}",
    )

