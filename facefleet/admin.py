"""Operator actions behind `facefleet project …` and `facefleet key …`.

API keys are shown once, when created; the database keeps only their hash.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from infra.db import Database
from infra.db.repositories import ApiKeyRepo, ProjectRepo
from infra.settings import Settings

DEFAULT_PROJECT_NAME = "default"
ADMIN_TOKEN_FILE = "admin-token"


@dataclass(frozen=True)
class CreatedProject:
    project_id: str
    name: str
    api_key: str
    webhook_secret: str


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


def ensure_admin_token(home: Path) -> Path:
    """The embedded operator's admin token (admin API, /metrics, queue signals), made on
    the first start and kept in ``<home>/admin-token``, readable by its owner only."""
    path = home / ADMIN_TOKEN_FILE
    if not path.is_file():
        home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
    return path


def read_admin_token(path: Path) -> str:
    return path.read_text().strip()
