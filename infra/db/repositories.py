"""The repositories callers construct, in one import place:
``from infra.db.repositories import FaceRepo, NewFace, ...``."""

from __future__ import annotations

from infra.db.face_sets import FaceSetRepo
from infra.db.faces import BoxLike, FaceRepo, NewFace
from infra.db.jobs import JobRepo
from infra.db.persons import PersonCount, PersonRepo
from infra.db.projects import ApiKeyRepo, ProjectRepo

__all__ = ["ApiKeyRepo", "BoxLike", "FaceRepo", "FaceSetRepo", "JobRepo", "NewFace", "PersonCount", "PersonRepo", "ProjectRepo"]
