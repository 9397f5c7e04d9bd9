"""Running FaceFleet stacks for the end-to-end tests of the queue-driven core.

Both flavours run the same code: real Celery worker processes, the real Flask app (via its
test client) and real stores. Only the URLs differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.settings import (
    BrokerSettings,
    DatabaseSettings,
    JobSettings,
    Settings,
    VectorStoreSettings,
)
from tests.conftest import S3Server
from tests.support.client import ProjectClient
from tests.support.stack import Stack, start_stack

# Short enough that a test sees a killed worker's job recovered within seconds, long
# enough that no healthy job in these tests (all well under 10 s) is ever re-sent.
TEST_JOBS = JobSettings(
    stale_after_seconds=20,
    housekeeping_interval_seconds=1.0,
    batch_chunk_size=3,
    batch_chunks_in_flight=2,
    sync_wait_seconds=60.0,
    retry_backoff_seconds=0.2,
    retry_backoff_max_seconds=1.0,
)


@dataclass
class Service:
    stack: Stack
    client: ProjectClient


def project_client(settings: Settings) -> ProjectClient:
    from api.app import create_app
    from facefleet.admin import create_project

    created = create_project(settings, "e2e")
    app = create_app(settings)
    return ProjectClient(app.test_client(), created.project_id, created.api_key)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home: Path = tmp_path_factory.mktemp("embedded")
    with start_stack(home, workers=1, jobs=TEST_JOBS) as stack:
        yield Service(stack, project_client(stack.settings))


@pytest.fixture(scope="module")
def distributed(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    rabbitmq_url: str,
    milvus_server_uri: str,
    s3_server: S3Server,
) -> Iterator[Service]:
    home: Path = tmp_path_factory.mktemp("distributed")
    overrides = {
        "jobs": TEST_JOBS,
        "database": DatabaseSettings(url=postgres_url),
        "broker": BrokerSettings(url=rabbitmq_url),
        "vector_store": VectorStoreSettings(uri=milvus_server_uri, collection_prefix="e2e"),
        "object_store": s3_server.settings(),
    }
    with start_stack(home, workers=1, **overrides) as stack:
        yield Service(stack, project_client(stack.settings))
