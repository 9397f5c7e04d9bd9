"""One real embedded stack serving every surface (native API and the four dialects) for
the input-boundary regression tests and the fuzzing suite, plus a probe of what the
service has written (rows of face sets, faces and jobs), to prove refusals write nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from infra.settings import DialectSettings, JobSettings, Settings, WebhookSettings
from tests.support.client import ProjectClient
from tests.support.photos import identity_photos, single_face_identities
from tests.support.stack import Stack, start_stack

D001_APID = 41
D003_APP = "gate"


@dataclass
class Surfaces:
    stack: Stack
    settings: Settings
    app: Any
    http: FlaskClient
    native: ProjectClient
    d001_key: str
    d003_key: str
    d003_project: str
    face_b64: str  # a real one-face photo, base64

    def written(self) -> dict[str, int]:
        """Rows that a request could have created: face sets, faces and jobs."""
        database = self.app.extensions["facefleet"].database
        with database.session() as session:
            return {
                table: int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in ("face_sets", "faces", "jobs")
            }

    def face_set_names(self, project_id: str) -> list[str]:
        database = self.app.extensions["facefleet"].database
        with database.session() as session:
            rows = session.execute(text("SELECT name FROM face_sets WHERE project_id = :p"), {"p": project_id})
            return [str(row[0]) for row in rows]


@pytest.fixture(scope="package")
def surfaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Surfaces]:
    from api.app import create_app
    from facefleet.admin import create_project

    home = tmp_path_factory.mktemp("surfaces")
    # The SSRF rules as a deployment has them: embedded mode allows loopback receivers.
    with start_stack(home, workers=1, jobs=JobSettings(sync_wait_seconds=60.0), webhooks=WebhookSettings()) as stack:
        native = create_project(stack.settings, "hostile-native")
        d000 = create_project(stack.settings, "hostile-000")
        d001 = create_project(stack.settings, f"d001-app-{D001_APID}")
        d002 = create_project(stack.settings, "hostile-002")
        d003 = create_project(stack.settings, "hostile-003")
        settings = stack.settings.model_copy(
            update={
                "dialects": DialectSettings(
                    d000_project_id=d000.project_id, d002_project_id=d002.project_id, d002_face_set="d002-faces"
                ),
                # The fuzzing suite sends thousands of requests with one key.
                "api": stack.settings.api.model_copy(update={"rate_limit_per_minute": 0}),
            }
        )
        app = create_app(settings)
        http = app.test_client()
        # Each dialect's fixed library (seed 001's per-app "d001", seed 002's configured set)
        # is created by its first accepted enrollment or search, under a constant name: it
        # exists here so that what a refused request writes can be told apart.
        with app.app_context():
            service = app.extensions["facefleet"].service
            service.create_face_set(d001.project_id, "d001", None, {})
            service.create_face_set(d002.project_id, "d002-faces", None, {})
        photo = identity_photos(single_face_identities()[0])[0]
        try:
            yield Surfaces(
                stack, settings, app, http, ProjectClient(http, native.project_id, native.api_key),
                d001.api_key, d003.api_key, d003.project_id, base64.b64encode(photo.read_bytes()).decode(),
            )
        finally:
            for worker in list(stack.workers):
                stack.kill_worker(worker)
