"""Operator actions behind `facefleet project …` and `facefleet key …`.

API keys are shown once, when created; the database keeps only their hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.db import Database
from infra.db.repositories import ApiKeyRepo, ProjectRepo
from infra.settings import Settings

DEFAULT_PROJECT_NAME = "default"


@dataclass(frozen=True)
class CreatedProject:
    project_id: str
    name: str
    api_key: str
    webhook_secret: str


@dataclass(frozen=True)
class ProjectEntry:
    project_id: str
    name: str


def _database(settings: Settings) -> Database:
    return Database.from_settings(settings.database)


def create_project(settings: Settings, name: str) -> CreatedProject:
    database = _database(settings)
    try:
        project = ProjectRepo(database).create(name)
        issued = ApiKeyRepo(database).create(project.id, label="created with the project")
    finally:
        database.dispose()
    return CreatedProject(
        project_id=project.id, name=project.name, api_key=issued.key, webhook_secret=project.webhook_secret
    )


def ensure_default_project(settings: Settings) -> CreatedProject | None:
    """The embedded mode's first start creates a project and shows its key; later starts
    find it and show nothing (the key is not stored in clear)."""
    database = _database(settings)
    try:
        exists = ProjectRepo(database).get_by_name(DEFAULT_PROJECT_NAME) is not None
    finally:
        database.dispose()
    return None if exists else create_project(settings, DEFAULT_PROJECT_NAME)


def list_projects(settings: Settings) -> list[ProjectEntry]:
    database = _database(settings)
    try:
        return [ProjectEntry(project.id, project.name) for project in ProjectRepo(database).list()]
    finally:
        database.dispose()


def create_key(settings: Settings, project_id: str) -> str:
    database = _database(settings)
    try:
        return ApiKeyRepo(database).create(project_id).key
    finally:
        database.dispose()


def revoke_key(settings: Settings, key_id: str) -> bool:
    database = _database(settings)
    try:
        return ApiKeyRepo(database).revoke(key_id)
    finally:
        database.dispose()
