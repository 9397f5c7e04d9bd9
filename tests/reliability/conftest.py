"""Shared pieces of the fault tests: fast job settings and a project client per stack."""

from __future__ import annotations

from infra.settings import JobSettings, Settings
from tests.support.client import ProjectClient

# Retries short enough that a job gives up within seconds when a store stays down.
FAULT_JOBS = JobSettings(
    stale_after_seconds=20,
    housekeeping_interval_seconds=1.0,
    batch_chunk_size=4,
    batch_chunks_in_flight=2,
    sync_wait_seconds=30.0,
    max_retries=3,
    retry_backoff_seconds=0.3,
    retry_backoff_max_seconds=1.0,
)


def project_client(settings: Settings, name: str = "faults") -> ProjectClient:
    from api.app import create_app
    from facefleet.admin import create_project

    created = create_project(settings, name)
    return ProjectClient(create_app(settings).test_client(), created.project_id, created.api_key)
