"""Shared pieces of the SQL layer's tests (tests/infra/test_db_*.py): the repositories of
one migrated database, and builders of their inputs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from infra.db import Database
from infra.db.repositories import ApiKeyRepo, FaceRepo, FaceSetRepo, JobRepo, NewFace, ProjectRepo
from infra.db.rows import Box

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

