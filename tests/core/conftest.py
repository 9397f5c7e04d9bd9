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
    VectorStoreSettings,
)
from tests.conftest import S3Server
from tests.support.client import ProjectClient, project_client
from tests.support.stack import FAST_JOBS, Stack, start_stack

# Batches in chunks of 3, so a batch of a few photos spans several chunks.
TEST_JOBS = FAST_JOBS.model_copy(update={"batch_chunk_size": 3, "batch_chunks_in_flight": 2})


@dataclass
class Service:
    stack: Stack
    client: ProjectClient


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home: Path = tmp_path_factory.mktemp("embedded")
    with start_stack(home, workers=1, jobs=TEST_JOBS) as stack:
        yield Service(stack, project_client(stack.settings, "e2e"))


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
        yield Service(stack, project_client(stack.settings, "e2e"))
