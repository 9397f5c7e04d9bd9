"""Projects, API keys, face sets and faces in the SQL layer, on SQLite and PostgreSQL
(tests/infra/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from infra.db import CapacityExceeded, DuplicateFaceId, DuplicateName, NotFound
from infra.db.models import ApiKey, Base
from infra.db.rows import Box
from tests.support.sql import Repos, face_count, make_face_set, new_face, run_together

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
