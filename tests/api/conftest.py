"""One real FaceFleet stack for every API test.

Starting a worker and loading its models costs seconds, so the stack (embedded flavour:
SQLite, local object store, milvus-lite, SQL broker, one real Celery worker process) is
shared by every module of ``tests/api``; each test isolates itself with uniquely named
face sets, and the isolation tests use a second project.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.settings import JobSettings, Settings
from tests.support.client import ProjectClient
from tests.support.conformance import ResponseSchemas
from tests.support.stack import Stack, start_stack

API_JOBS = JobSettings(
    # Longer than any healthy job here, so a sync call in these tests answers 200 or fails
    # loudly instead of quietly turning into a 202.
    sync_wait_seconds=60.0,
    stale_after_seconds=600,
    housekeeping_interval_seconds=1.0,
    batch_chunk_size=16,
    retry_backoff_seconds=0.2,
    retry_backoff_max_seconds=1.0,
)


@dataclass
class ApiStack:
    stack: Stack
    app: Any
    client: ProjectClient
    other: ProjectClient  # a second project on the same app, for isolation tests
    schemas: ResponseSchemas

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    def store(self) -> Any:
        from infra.object_store import object_store_from_settings

        return object_store_from_settings(self.settings.object_store)

    def image_url(self, data: bytes) -> str:
        """Put ``data`` into the deployment's own store and name it as the seed does."""
        key = self.store().put(data, "image/jpeg")
        return f"/{self.settings.object_store.bucket}/{key}"

    def new_client(self, app: Any) -> ProjectClient:
        """A fresh project (and key) served by ``app``."""
        project_id, api_key = new_project(self.settings, f"api-{uuid.uuid4().hex[:8]}")
        return ProjectClient(app.test_client(), project_id, api_key, ResponseSchemas.of_app(app))


def new_project(settings: Settings, name: str) -> tuple[str, str]:
    """(project id, API key), the way ``facefleet project create`` makes them."""
    from facefleet.admin import create_project

    created = create_project(settings, name)
    return created.project_id, created.api_key


# Package scope: started once for all of tests/api, and stopped when its last test ends
# rather than idling through the rest of the suite.
@pytest.fixture(scope="package")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    from api.app import create_app

    home: Path = tmp_path_factory.mktemp("api-stack")
    with start_stack(home, workers=1, jobs=API_JOBS) as stack:
        app = create_app(stack.settings)
        first = new_project(stack.settings, "api-tests")
        second = new_project(stack.settings, "api-tests-other")
        yield api_stack(stack, app, first, second)


def api_stack(stack: Stack, app: Any, first: tuple[str, str], second: tuple[str, str]) -> ApiStack:
    """Clients of two projects; every answer they see is checked against the schema the
    API declares for it (tests/support/conformance.py)."""
    schemas = ResponseSchemas.of_app(app)
    return ApiStack(
        stack=stack,
        app=app,
        client=ProjectClient(app.test_client(), *first, schemas),
        other=ProjectClient(app.test_client(), *second, schemas),
        schemas=schemas,
    )


@pytest.fixture
def client(api: ApiStack) -> ProjectClient:
    return api.client


def unique(prefix: str = "set") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def face_set(client: ProjectClient) -> str:
    name = unique()
    client.create_face_set(name)
    return name


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """Assert the one error format, with the expected status and stable code."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body is not None and set(body) <= {"error_code", "error_msg", "error_details"}, body
    assert body["error_code"] == code, body
    assert isinstance(body["error_msg"], str) and body["error_msg"]
    assert "Traceback" not in body["error_msg"]
    return body
