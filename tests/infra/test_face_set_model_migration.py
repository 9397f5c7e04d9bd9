"""Face sets name their embedding model; face sets from before the column hold dlib-resnet-v1."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from infra.db import Database, migrate
from infra.db.face_sets import FaceSetRepo


def test_existing_face_sets_become_dlib_resnet_v1_and_new_ones_keep_their_model(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'facefleet.db'}"
    migrate(url, "0005")  # the revision before face sets named their model
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO face_sets (id, project_id, name, capacity, external_fields, face_count, created_at) "
            "VALUES ('old', 'p', 'before', 10, '{}', 0, '2026-12-01 00:00:00')"
        ))
    engine.dispose()

    migrate(url)

    database = Database(url, pool_size=1)
    try:
        repo = FaceSetRepo(database)
        before = repo.get("p", "old")
        assert before is not None and before.model_id == "dlib-resnet-v1"
        created = repo.create(project_id="p", name="after", capacity=5, model_id="dlib-resnet-flip-v1")
        assert created is not None and created.model_id == "dlib-resnet-flip-v1"
        again = repo.get("p", created.id)
        assert again is not None and again.model_id == "dlib-resnet-flip-v1"
    finally:
        database.dispose()
