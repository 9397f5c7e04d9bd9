"""The SQL layer on real SQLite files and a real PostgreSQL server.

Every test runs on both backends (PostgreSQL ones are marked ``integration``). Each
backend gets one migrated database per module and each test its own project id, so
tests stay fast and never see each other's rows (except the global housekeeping calls,
whose assertions only look at their own jobs).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from infra.db import CapacityExceeded, Database, DuplicateFaceId, DuplicateName, NotFound, migrate
from infra.db.migrate import current_revision
from infra.db.models import ApiKey, Base
from infra.db.repositories import ApiKeyRepo, FaceRepo, FaceSetRepo, JobRepo, NewFace, ProjectRepo
from infra.db.rows import Box
from infra.settings import DatabaseSettings

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
HEAD = "0008"
T = TypeVar("T")


@dataclass
class Repos:
    db: Database
    projects: ProjectRepo
    api_keys: ApiKeyRepo
    face_sets: FaceSetRepo
    faces: FaceRepo
    jobs: JobRepo
    project_id: str


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    name = f"facefleet_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL must run on 127.0.0.1:5432 (user postgres): {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'facefleet.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    migrate(url)
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


def new_face(
    face_id: str, *, image: str = "img-1", user_id: str | None = None, crop: str | None = None
) -> NewFace:
    return NewFace(
        face_id=face_id,
        external_image_id=image,
        external_fields={"age": 30, "city": "Oslo"},
        user_id=user_id,
        box=Box(x=10, y=20, width=64, height=80),
        confidence=0.97,
        image_key=f"images/{image}",
        crop_key=crop,
        model_id="dlib-resnet-v1",
    )


def make_face_set(repos: Repos, name: str = "staff", capacity: int = 10) -> str:
    created = repos.face_sets.create(
        project_id=repos.project_id,
        name=name,
        capacity=capacity,
        external_fields={"age": {"type": "integer"}},
    )
    assert created is not None
    return created.id


def face_count(repos: Repos, face_set_id: str) -> int:
    face_set = repos.face_sets.get(repos.project_id, face_set_id)
    assert face_set is not None
    return face_set.face_count


def run_together(calls: list[Callable[[], T]]) -> list[T | Exception]:
    """Run the calls in threads released at the same instant; their results or errors."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[T | Exception] = [RuntimeError("did not run")] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = calls[index]()
        except Exception as error:  # noqa: BLE001 (the test inspects every outcome)
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


# ---------------------------------------------------------------------------- schema


def test_migrate_twice_is_a_no_op_and_keeps_data(database_url: str, repos: Repos) -> None:
    repos.projects.create("kept", project_id=repos.project_id)
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


# ---------------------------------------------------------------------------- projects and keys


def test_project_create_get_list_and_duplicate_name(repos: Repos) -> None:
    name = f"acme-{repos.project_id}"
    project = repos.projects.create(name, project_id=repos.project_id)
    assert project.id == repos.project_id and project.name == name
    assert project.created_at.tzinfo is not None
    assert len(project.webhook_secret) == 64
    assert repos.projects.webhook_secret(project.id) == project.webhook_secret
    assert repos.projects.webhook_secret("no-such-project") is None
    assert repos.projects.get_by_name(name) == project
    assert project in repos.projects.list()
    with pytest.raises(DuplicateName):
        repos.projects.create(name)
    assert repos.projects.get("no-such-project") is None


def test_api_key_authenticates_stores_only_a_hash_and_can_be_revoked(repos: Repos) -> None:
    repos.projects.create(f"keys-{repos.project_id}", project_id=repos.project_id)
    issued = repos.api_keys.create(repos.project_id, label="ci")
    assert issued.key.startswith("ffk_")

    key = repos.api_keys.authenticate(issued.key)
    assert key is not None and key.id == issued.id and key.project_id == repos.project_id

    secret = issued.key.partition(".")[2]
    with repos.db.session() as session:
        stored = session.get(ApiKey, issued.id)
        assert (
            stored is not None and secret not in stored.secret_hash and issued.key not in stored.secret_hash
        )

    assert repos.api_keys.authenticate(issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B")) is None
    assert repos.api_keys.authenticate("not-a-key") is None
    assert repos.api_keys.authenticate("ffk_unknown.secret") is None
    assert [k.id for k in repos.api_keys.list(repos.project_id)] == [issued.id]

    assert repos.api_keys.revoke(issued.id) is True
    assert repos.api_keys.authenticate(issued.key) is None
    assert repos.api_keys.revoke(issued.id) is False


def test_api_key_for_a_missing_project_is_refused(repos: Repos) -> None:
    with pytest.raises(NotFound):
        repos.api_keys.create("no-such-project")


# ---------------------------------------------------------------------------- face sets


def test_face_set_create_duplicate_list_get_and_count(repos: Repos) -> None:
    schema = {"age": {"type": "integer"}, "city": {"type": "string"}}
    created = repos.face_sets.create(
        project_id=repos.project_id, name="staff", capacity=5, external_fields=schema
    )
    assert created is not None
    assert (created.name, created.capacity, created.face_count, created.external_fields) == (
        "staff",
        5,
        0,
        schema,
    )
    assert created.created_at.tzinfo is not None

    assert (
        repos.face_sets.create(project_id=repos.project_id, name="staff", capacity=9, external_fields={})
        is None
    )
    other_project = repos.face_sets.create(project_id=repos.project_id + "x", name="staff", capacity=1)
    assert other_project is not None  # names are unique per project only

    repos.face_sets.create(project_id=repos.project_id, name="visitors", capacity=5, external_fields={})
    assert [f.name for f in repos.face_sets.list(repos.project_id)] == ["staff", "visitors"]
    assert repos.face_sets.count(repos.project_id) == 2
    assert repos.face_sets.get_by_name(repos.project_id, "staff") == created
    assert repos.face_sets.get(repos.project_id, created.id) == created
    assert repos.face_sets.get(repos.project_id + "x", created.id) is None  # scoped to its project
    assert repos.face_sets.get_by_name(repos.project_id, "nobody") is None


# ---------------------------------------------------------------------------- faces


def test_add_faces_stores_rows_and_a_redelivery_adds_nothing(repos: Repos) -> None:
    face_set_id = make_face_set(repos)
    faces = [new_face("f1", user_id="alice", crop="crops/1"), new_face("f2", user_id="alice")]
    assert repos.faces.add_faces(project_id=repos.project_id, face_set_id=face_set_id, faces=faces) == [
        "f1",
        "f2",
    ]
    assert repos.faces.add_faces(project_id=repos.project_id, face_set_id=face_set_id, faces=faces) == []
    assert face_count(repos, face_set_id) == 2
    # An id repeated within one call is one face, stored as first given.
    twice = [new_face("f3", image="first"), new_face("f4"), new_face("f3", image="second")]
    assert repos.faces.add_faces(repos.project_id, face_set_id, twice) == ["f3", "f4"]
    assert repos.faces.get(repos.project_id, face_set_id, "f3").external_image_id == "first"  # type: ignore[union-attr]
    assert face_count(repos, face_set_id) == 4

    row = repos.faces.get(repos.project_id, face_set_id, "f1")
    assert row is not None
    assert (row.face_id, row.external_image_id, row.user_id, row.model_id) == (
        "f1",
        "img-1",
        "alice",
        "dlib-resnet-v1",
    )
    assert row.box == Box(10, 20, 64, 80) and (row.box.width, row.box.height) == (64, 80)
    assert (row.image_key, row.crop_key, row.external_fields) == (
        "images/img-1",
        "crops/1",
        {"age": 30, "city": "Oslo"},
    )
    assert row.confidence == pytest.approx(0.97)
    assert set(repos.faces.get_many(repos.project_id, face_set_id, ["f1", "f2", "zz"])) == {"f1", "f2"}
    assert [p.user_id for p in repos.faces.persons(repos.project_id, face_set_id)] == ["alice"]
    assert [f.face_id for f in repos.faces.list(repos.project_id, face_set_id)] == ["f1", "f2", "f3", "f4"]
    assert [f.face_id for f in repos.faces.list(repos.project_id, face_set_id, offset=1, limit=2)] == [
        "f2",
        "f3",
    ]
    assert repos.faces.get(repos.project_id, face_set_id, "missing") is None


def test_a_face_set_is_read_with_when_it_last_got_a_face(repos: Repos) -> None:
    """What a search reads, in one round trip, to decide whether it must ask the vector
    index for Strong consistency (workers.services.search.READ_YOUR_WRITES_WINDOW)."""
    face_set_id = make_face_set(repos)
    other_id = make_face_set(repos, name="visitors")
    found = repos.face_sets.get_with_newest_face(repos.project_id, face_set_id)
    assert found is not None and found[0] == repos.face_sets.get(repos.project_id, face_set_id)
    assert found[1] is None
    before = datetime.now(UTC)
    repos.faces.add_faces(project_id=repos.project_id, face_set_id=face_set_id, faces=[new_face("newest-1")])
    found = repos.face_sets.get_with_newest_face(repos.project_id, face_set_id)
    assert found is not None and found[0].face_count == 1
    newest = found[1]
    assert newest is not None and newest.tzinfo is not None
    assert before - timedelta(seconds=1) <= newest <= datetime.now(UTC)
    assert repos.face_sets.get_with_newest_face(repos.project_id, other_id) == (
        repos.face_sets.get(repos.project_id, other_id),
        None,
    )  # another face set's faces are not its own
    assert repos.face_sets.get_with_newest_face("another-project", face_set_id) is None


def test_a_face_set_keeps_the_latest_vector_write_timestamp_of_its_faces(repos: Repos) -> None:
    """What a search right after an enrollment asks the vector index to be as current as
    (infra.vector_index.freshness): the latest write's, never an older one."""
    face_set_id = make_face_set(repos)
    assert repos.face_sets.get(repos.project_id, face_set_id).vector_written_ts is None  # type: ignore[union-attr]
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("ts-1")], vector_written_ts=2000)
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("ts-2")], vector_written_ts=1000)  # late
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("ts-3")])  # no timestamp known
    found = repos.face_sets.get_with_newest_face(repos.project_id, face_set_id)
    assert found is not None and found[0].vector_written_ts == 2000
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("ts-4")], vector_written_ts=3000)
    assert repos.face_sets.get(repos.project_id, face_set_id).vector_written_ts == 3000  # type: ignore[union-attr]
    # Writes that add no face (a face's new fields, a reindex) record theirs the same way.
    repos.face_sets.record_vector_write(repos.project_id, face_set_id, 2500)
    repos.face_sets.record_vector_write(repos.project_id, face_set_id, 0)
    repos.face_sets.record_vector_write("another-project", face_set_id, 9000)
    assert repos.face_sets.get(repos.project_id, face_set_id).vector_written_ts == 3000  # type: ignore[union-attr]
    repos.face_sets.record_vector_write(repos.project_id, face_set_id, 4000)
    assert repos.face_sets.get(repos.project_id, face_set_id).vector_written_ts == 4000  # type: ignore[union-attr]


def test_capacity_exceeded_adds_nothing_and_known_faces_use_no_capacity(repos: Repos) -> None:
    face_set_id = make_face_set(repos, capacity=3)
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("a"), new_face("b")])
    with pytest.raises(CapacityExceeded):
        repos.faces.add_faces(repos.project_id, face_set_id, [new_face("c"), new_face("d")])
    assert face_count(repos, face_set_id) == 2
    assert repos.faces.missing_face_ids(["a", "c", "d"]) == ["c", "d"]

    # Already stored faces count for nothing: only "c" is new and it fits.
    assert repos.faces.add_faces(
        repos.project_id, face_set_id, [new_face("a"), new_face("b"), new_face("c")]
    ) == ["c"]
    assert face_count(repos, face_set_id) == 3


def test_add_faces_refuses_a_missing_face_set_and_a_face_id_of_another_set(repos: Repos) -> None:
    first = make_face_set(repos, "first")
    second = make_face_set(repos, "second")
    with pytest.raises(NotFound):
        repos.faces.add_faces(repos.project_id, "no-such-set", [new_face("x1")])
    repos.faces.add_faces(repos.project_id, first, [new_face("shared")])
    with pytest.raises(DuplicateFaceId):
        repos.faces.add_faces(repos.project_id, second, [new_face("shared")])
    assert face_count(repos, second) == 0


def test_concurrent_adds_never_pass_the_capacity(repos: Repos) -> None:
    face_set_id = make_face_set(repos, capacity=3)
    calls = [
        (lambda i=i: repos.faces.add_faces(repos.project_id, face_set_id, [new_face(f"race-{i}")]))
        for i in range(8)
    ]
    outcomes = run_together(calls)
    added = [o for o in outcomes if isinstance(o, list)]
    refused = [o for o in outcomes if isinstance(o, CapacityExceeded)]
    assert (len(added), len(refused)) == (3, 5), outcomes
    assert face_count(repos, face_set_id) == 3
    assert len(repos.faces.list(repos.project_id, face_set_id)) == 3


def test_concurrent_redeliveries_add_each_face_once(repos: Repos) -> None:
    face_set_id = make_face_set(repos, capacity=10)
    faces = [new_face("same-1"), new_face("same-2")]
    outcomes = run_together([lambda: repos.faces.add_faces(repos.project_id, face_set_id, faces)] * 4)
    assert sorted(map(len, outcomes)) == [0, 0, 0, 2], outcomes  # type: ignore[arg-type]
    assert face_count(repos, face_set_id) == 2


def test_update_face_changes_fields_and_persons(repos: Repos) -> None:
    face_set_id = make_face_set(repos)
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("u1", user_id="bob")])
    updated = repos.faces.update(
        repos.project_id,
        face_set_id,
        "u1",
        external_image_id="renamed",
        external_fields={"age": 31},
        user_id="carol",
    )
    assert updated is not None
    assert (updated.external_image_id, updated.external_fields, updated.user_id) == (
        "renamed",
        {"age": 31},
        "carol",
    )
    assert repos.faces.get(repos.project_id, face_set_id, "u1") == updated
    assert [p.user_id for p in repos.faces.persons(repos.project_id, face_set_id)] == ["carol"]
    assert repos.faces.update(repos.project_id, face_set_id, "nope", user_id="x") is None


def test_delete_faces_by_id_and_by_external_image_id(repos: Repos) -> None:
    face_set_id = make_face_set(repos)
    repos.faces.add_faces(
        repos.project_id,
        face_set_id,
        [
            new_face("d1", image="photo-a", user_id="dora", crop="crops/d1"),
            new_face("d2", image="photo-b", user_id="dora"),
            new_face("d3", image="photo-b"),
            new_face("d4", image="photo-a"),
        ],
    )
    removed = repos.faces.delete_faces(repos.project_id, face_set_id, ["d1", "ghost"])
    assert [r.face_id for r in removed] == ["d1"] and removed[0].crop_key == "crops/d1"
    assert repos.faces.delete_faces(repos.project_id, face_set_id, ["d1"]) == []  # redelivery
    assert face_count(repos, face_set_id) == 3
    # photo-a is still used by d4; the crop of d1 no longer is.
    assert repos.faces.referenced_keys(["images/photo-a", "crops/d1", "images/none"]) == {"images/photo-a"}

    found = repos.faces.find_by_external_image_id(repos.project_id, face_set_id, "photo-b")
    assert sorted(r.face_id for r in found) == ["d2", "d3"]
    removed = repos.faces.delete_faces(repos.project_id, face_set_id, external_image_id="photo-b")
    assert sorted(r.face_id for r in removed) == ["d2", "d3"]
    assert face_count(repos, face_set_id) == 1
    assert repos.faces.persons(repos.project_id, face_set_id) == []  # dora has no face left
    assert repos.faces.missing_face_ids(["d1", "d2", "d4"]) == ["d1", "d2"]


def test_delete_with_faces_removes_the_set_and_returns_its_faces(repos: Repos) -> None:
    face_set_id = make_face_set(repos)
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("s1", user_id="eve"), new_face("s2")])
    assert repos.face_sets.delete_with_faces(repos.project_id + "x", face_set_id) == []  # other project
    removed = repos.face_sets.delete_with_faces(repos.project_id, face_set_id)
    assert sorted((r.face_id, r.model_id) for r in removed) == [
        ("s1", "dlib-resnet-v1"),
        ("s2", "dlib-resnet-v1"),
    ]
    assert repos.face_sets.get(repos.project_id, face_set_id) is None
    assert repos.faces.missing_face_ids(["s1", "s2"]) == ["s1", "s2"]
    assert repos.face_sets.delete_with_faces(repos.project_id, face_set_id) == []  # redelivery
    assert make_face_set(repos)  # the name is free again


def test_a_face_set_being_deleted_is_gone_for_reads_but_still_deletable(repos: Repos) -> None:
    face_set_id = make_face_set(repos)
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("d1")])
    repos.face_sets.mark_deleting(repos.project_id + "x", face_set_id)  # another project's: no effect
    assert repos.face_sets.get(repos.project_id, face_set_id) is not None

    repos.face_sets.mark_deleting(repos.project_id, face_set_id)

    assert repos.face_sets.get(repos.project_id, face_set_id) is None
    assert repos.face_sets.get_with_newest_face(repos.project_id, face_set_id) is None
    assert repos.face_sets.get_by_name(repos.project_id, "staff") is None
    assert repos.face_sets.list(repos.project_id) == []
    assert repos.face_sets.get_by_name(repos.project_id, "staff", include_deleting=True) is not None
    assert repos.face_sets.count(repos.project_id) == 1  # it still holds data
    assert repos.face_sets.create(project_id=repos.project_id, name="staff", capacity=1) is None
    assert [r.face_id for r in repos.face_sets.delete_with_faces(repos.project_id, face_set_id)] == ["d1"]
    repos.face_sets.mark_deleting(repos.project_id, face_set_id)  # the job was quicker: a no-op
    assert make_face_set(repos)


# ---------------------------------------------------------------------------- jobs


def job_id() -> str:
    return uuid.uuid4().hex


def test_job_lifecycle_and_first_outcome_wins(repos: Repos) -> None:
    jid = job_id()
    job, created = repos.jobs.create(
        job_id=jid,
        project_id=repos.project_id,
        kind="enroll",
        payload={"image_key": "images/k"},
        idempotency_key=None,
    )
    assert created and job.status == "pending" and job.id == job.job_id == jid
    assert job.expires_at is not None and job.expires_at > job.created_at

    assert repos.jobs.start(jid, worker="w1@host") is not None
    running = repos.jobs.get(jid)
    assert running is not None
    assert (running.status, running.worker, running.attempts) == ("running", "w1@host", 1)
    assert running.started_at is not None

    assert repos.jobs.succeed(jid, {"faces": [1, 2]})
    assert not repos.jobs.fail(jid, "internal", "too late")
    assert repos.jobs.start(jid, worker="w2") is None
    done = repos.jobs.get(jid)
    assert done is not None
    assert (done.status, done.result, done.error_code, done.worker) == (
        "succeeded",
        {"faces": [1, 2]},
        None,
        "w1@host",
    )
    assert done.finished_at is not None

    failed_id = job_id()
    repos.jobs.create(
        job_id=failed_id, project_id=repos.project_id, kind="detect", payload={}, idempotency_key=None
    )
    assert repos.jobs.fail(failed_id, "no_face", "no face was detected", {"image": "image1"})
    failed = repos.jobs.get(failed_id)
    assert failed is not None
    assert (failed.status, failed.error_code, failed.error_message, failed.error_details) == (
        "failed",
        "no_face",
        "no face was detected",
        {"image": "image1"},
    )
    assert repos.jobs.get("no-such-job") is None


def test_a_finish_returns_the_final_row_and_counts_each_outcome_once(repos: Repos) -> None:
    """A job's finish (on PostgreSQL one statement, on SQLite a transaction) hands back the
    row as stored, counts the outcome with it, and a refused second outcome counts nothing."""
    kind = f"kind_{uuid.uuid4().hex[:8]}"  # counts are global: a kind of this test's own
    first, second = job_id(), job_id()
    for jid in (first, second):
        repos.jobs.create(
            job_id=jid, project_id=repos.project_id, kind=kind, payload={}, idempotency_key=None
        )
        assert repos.jobs.start(jid, worker="w1") is not None

    finished = repos.jobs.succeed(first, {"faces": [{"x": 1}]})
    assert finished is not None and finished == repos.jobs.get(first)
    assert (finished.status, finished.result) == ("succeeded", {"faces": [{"x": 1}]})
    assert repos.jobs.fail(first, "internal", "too late") is None
    assert repos.jobs.succeed(first, {"faces": []}) is None
    failed = repos.jobs.fail(second, "no_face", "no face", {"image": "image1"})
    assert failed is not None and failed == repos.jobs.get(second)

    counts = repos.jobs.outcome_counts()
    assert (counts.get((kind, "succeeded")), counts.get((kind, "failed"))) == (1, 1)


def test_job_keeps_its_callback_url_and_webhook_report(repos: Repos) -> None:
    jid = job_id()
    job, _ = repos.jobs.create(
        job_id=jid,
        project_id=repos.project_id,
        kind="detect",
        payload={},
        idempotency_key=None,
        callback_url="https://example.com/hook",
    )
    assert (job.callback_url, job.webhook) == ("https://example.com/hook", None)
    repos.jobs.succeed(jid, {"faces": []})
    assert repos.jobs.record_webhook(jid, {"delivered": True, "attempts": [{"status": 200}]})
    stored = repos.jobs.get(jid)
    assert stored is not None and stored.webhook == {"delivered": True, "attempts": [{"status": 200}]}


def test_job_create_honours_the_idempotency_key_per_project(repos: Repos) -> None:
    first, created = repos.jobs.create(
        job_id=job_id(), project_id=repos.project_id, kind="search", payload={"a": 1}, idempotency_key="key-1"
    )
    assert created
    again, created = repos.jobs.create(
        job_id=first.id, project_id=repos.project_id, kind="search", payload={"a": 1}, idempotency_key="key-1"
    )
    assert not created and again.id == first.id
    # Another job id with the same key in the same project still finds the first job.
    same_key, created = repos.jobs.create(
        job_id=job_id(), project_id=repos.project_id, kind="search", payload={"a": 2}, idempotency_key="key-1"
    )
    assert not created and same_key.id == first.id and same_key.payload == {"a": 1}
    elsewhere, created = repos.jobs.create(
        job_id=job_id(), project_id=repos.project_id + "x", kind="search", payload={}, idempotency_key="key-1"
    )
    assert created and elsewhere.id != first.id


def test_child_jobs_are_idempotent_and_roll_progress_up_to_the_parent(repos: Repos) -> None:
    parent = job_id()
    repos.jobs.create(
        job_id=parent, project_id=repos.project_id, kind="enroll_batch", payload={}, idempotency_key=None
    )
    repos.jobs.start(parent, worker="w")
    repos.jobs.set_progress(parent, 0, 5)
    chunks = [f"{parent}.c{i:05d}" for i in range(2)]
    for index, chunk in enumerate(chunks):
        payload = {"parent_job_id": parent, "start": index * 3}
        assert repos.jobs.create_child(
            job_id=chunk, project_id=repos.project_id, kind="enroll_chunk", payload=payload
        )
        assert not repos.jobs.create_child(
            job_id=chunk, project_id=repos.project_id, kind="enroll_chunk", payload=payload
        )
    assert [c.parent_job_id for c in repos.jobs.children(parent)] == [parent, parent]

    repos.jobs.set_progress(chunks[0], 2, 3)
    repos.jobs.refresh_parent_progress(parent)
    assert repos.jobs.get(parent).progress == (2, 5)  # type: ignore[union-attr]

    repos.jobs.succeed(chunks[0], {"items": ["a", "b", "c"]})  # a finished chunk counts in full
    repos.jobs.set_progress(chunks[1], 2, 2)
    repos.jobs.refresh_parent_progress(parent)
    assert repos.jobs.get(parent).progress == (5, 5)  # type: ignore[union-attr]

    found = repos.jobs.get_many([chunks[1], chunks[0], "absent"])
    assert [c.id for c in found] == chunks
    assert [c.status for c in found] == ["succeeded", "pending"]

    # Whether a chunk was its batch's last: ended children only, failed ones included.
    assert repos.jobs.count_final_children(parent) == 1
    repos.jobs.start(chunks[1], worker="w")
    assert repos.jobs.count_final_children(parent) == 1
    repos.jobs.fail(chunks[1], "internal", "boom")
    assert repos.jobs.count_final_children(parent) == 2
    assert repos.jobs.count_final_children(chunks[0]) == 0


def test_concurrent_chunks_see_the_parents_progress_in_the_order_they_wrote_it(repos: Repos) -> None:
    """Two workers' chunks report at once; what each acts on (publishes) under the parent's
    lock never goes backwards, which a read after the update could (a batch's progress
    events came out 36, 35 under load)."""
    parent = job_id()
    repos.jobs.create(job_id=parent, project_id=repos.project_id, kind="enroll_batch", payload={}, idempotency_key=None)
    repos.jobs.start(parent, worker="w")
    repos.jobs.set_progress(parent, 0, 40)
    chunks = [f"{parent}.c{i:05d}" for i in range(2)]
    for chunk in chunks:
        repos.jobs.create_child(job_id=chunk, project_id=repos.project_id, kind="enroll_chunk", payload={}, parent_job_id=parent)
    seen: list[int] = []

    def acted_on(job: Any) -> None:
        time.sleep(0.002)  # a publish takes time: the window in which another chunk could overtake
        seen.append(job.progress_done)

    def work(chunk: str) -> None:
        for done in range(1, 21):
            repos.jobs.set_progress(chunk, done, 20)
            assert repos.jobs.refresh_parent_progress(parent, then=acted_on)

    assert run_together([lambda c=chunk: work(c) for chunk in chunks]) == [None, None]  # type: ignore[misc]
    assert len(seen) == 40 and seen == sorted(seen) and seen[-1] == 40


def test_claim_stale_requeues_dead_running_jobs_once(repos: Repos) -> None:
    dead, alive, finished = job_id(), job_id(), job_id()
    for jid in (dead, alive, finished):
        repos.jobs.create(
            job_id=jid, project_id=repos.project_id, kind="enroll", payload={}, idempotency_key=None
        )
    repos.jobs.start(dead, worker="killed")
    repos.jobs.start(finished, worker="w")
    repos.jobs.succeed(finished, {})
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    repos.jobs.start(alive, worker="healthy")

    claimed = {job.id for job in repos.jobs.claim_stale(cutoff)}
    assert dead in claimed and alive not in claimed and finished not in claimed
    requeued = repos.jobs.get(dead)
    assert requeued is not None and (requeued.status, requeued.worker) == ("pending", None)
    # Claimed jobs got a fresh heartbeat: the same cutoff claims them no more.
    assert dead not in {job.id for job in repos.jobs.claim_stale(cutoff)}

    # A pending job whose message was lost is sent again once a stale period passed.
    later = datetime.now(UTC) + timedelta(seconds=1)
    claimed_later = {job.id for job in repos.jobs.claim_stale(later)}
    assert {dead, alive} <= claimed_later and finished not in claimed_later


def test_a_claim_whose_send_failed_is_released_for_the_next_sweep(repos: Repos) -> None:
    dead = job_id()
    repos.jobs.create(job_id=dead, project_id=repos.project_id, kind="enroll", payload={}, idempotency_key=None)
    repos.jobs.start(dead, worker="killed")
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    assert dead in {job.id for job in repos.jobs.claim_stale(cutoff, include_pending=False)}

    assert repos.jobs.release_claim(dead, stale_since=cutoff - timedelta(seconds=1))
    released = repos.jobs.get(dead)
    assert released is not None and released.status == "running"
    # On a durable broker only running jobs are claimed: the released one is, again.
    assert dead in {job.id for job in repos.jobs.claim_stale(cutoff, include_pending=False)}
    repos.jobs.succeed(dead, {})
    assert not repos.jobs.release_claim(dead, stale_since=cutoff)  # a finished job is left alone


def test_purge_expired_deletes_only_expired_jobs(repos: Repos) -> None:
    kept, expired = job_id(), job_id()
    short_lived = JobRepo(repos.db, ttl_seconds=60)
    for jid in (kept, expired):
        short_lived.create(
            job_id=jid, project_id=repos.project_id, kind="detect", payload={}, idempotency_key=None
        )
    short_lived.succeed(expired, {})
    assert short_lived.purge_expired(datetime.now(UTC)) >= 0
    assert short_lived.get(kept) is not None and short_lived.get(expired) is not None
    assert short_lived.purge_expired(datetime.now(UTC) + timedelta(seconds=120)) >= 2
    assert short_lived.get(kept) is None and short_lived.get(expired) is None


def test_job_referenced_keys_are_those_of_jobs_still_to_run(repos: Repos) -> None:
    queued, done = job_id(), job_id()
    for jid, key in ((queued, "images/queued"), (done, "images/done")):
        repos.jobs.create(
            job_id=jid,
            project_id=repos.project_id,
            kind="enroll",
            payload={"image_key": key, "nested": [{"manifest_key": f"{key}.json"}]},
            idempotency_key=None,
        )
    repos.jobs.succeed(done, {})
    keys = ["images/queued", "images/queued.json", "images/done", "images/none"]
    assert repos.jobs.referenced_keys(keys) == {"images/queued", "images/queued.json"}
    assert repos.jobs.referenced_keys([]) == set()


def test_rows_are_detached_snapshots(repos: Repos) -> None:
    face_set_id = make_face_set(repos)
    repos.faces.add_faces(repos.project_id, face_set_id, [new_face("snap")])
    row: Any = repos.faces.get(repos.project_id, face_set_id, "snap")
    repos.faces.delete_faces(repos.project_id, face_set_id, ["snap"])
    assert row.face_id == "snap" and row.box.x == 10  # still readable after its session closed
    with pytest.raises(AttributeError):
        row.face_id = "changed"
    with repos.db.session() as session:
        assert (
            session.scalar(select(Base.metadata.tables["faces"].c.face_id).where(text("face_id = 'snap'")))
            is None
        )


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
