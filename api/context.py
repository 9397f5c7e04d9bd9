"""What a request needs, built once per app from the settings: repositories, the object
store, a producer-only Celery app, the job gateway, image intake and the service facade.

Dialect blueprints (``api.dialects``) use the same context through ``current_context()``
so every dialect shares auth data, limits, jobs and face logic with the native API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from api.images import ImageIntake
from api.jobs import JobGateway
from api.services import FaceService
from core.probes import released_probe_keys
from infra.gpu_pool import GpuRouting
from infra.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

    from infra.completion import CompletionListener
    from infra.db import Database
    from infra.db.repositories import ApiKeyRepo, FaceRepo, FaceSetRepo, JobRepo, ProjectRepo
    from infra.events import EventPublisher
    from infra.object_store import ObjectStore

log = logging.getLogger(__name__)

CONTEXT_KEY = "facefleet"


@dataclass
class ApiContext:
    settings: Settings
    database: Database
    projects: ProjectRepo
    api_keys: ApiKeyRepo
    face_sets: FaceSetRepo
    faces: FaceRepo
    jobs: JobRepo
    store: ObjectStore
    producer: Celery
    events: EventPublisher | None = None
    completions: CompletionListener | None = None
    gateway: JobGateway = field(init=False)
    intake: ImageIntake = field(init=False)
    service: FaceService = field(init=False)

    def __post_init__(self) -> None:
        self.gateway = JobGateway(
            self.jobs,
            self.producer,
            self.settings.jobs.sync_wait_seconds,
            events=self.events,
            webhooks=self.settings.webhooks,
            gpu=GpuRouting(self.settings),
            completions=self.completions,
            fallback_poll_seconds=self.settings.jobs.completion_fallback_poll_seconds,
            store=self.store,
            default_callback_url=self._default_callback_url,
            release_probes=self._release_probes,
        )
        self.intake = ImageIntake(
            self.store,
            self.settings.object_store.bucket,
            self.settings.images.max_bytes,
            probe_max_bytes=self.settings.inline_probe_limit(),
        )
        self.service = FaceService(
            settings=self.settings,
            face_sets=self.face_sets,
            faces=self.faces,
            jobs=self.jobs,
            gateway=self.gateway,
        )

    def _release_probes(self, payload: dict[str, Any]) -> None:
        if self.settings.jobs.probe_retention_seconds > 0:
            return  # reconciliation removes them once past the retention
        keys = released_probe_keys(payload)
        for key in keys - self.jobs.referenced_keys(keys):
            try:
                self.store.delete(key)
            except Exception:  # noqa: BLE001  # the answer stands; reconciliation removes it later
                log.warning("could not delete a retried request's probe; reconciliation will")

    def _default_callback_url(self, project_id: str) -> str | None:
        project = self.projects.get(project_id)
        return getattr(project, "default_callback_url", None) if project is not None else None


def build_context(settings: Settings) -> ApiContext:
    from infra.celery_config import make_celery
    from infra.completion import commit_channel, completion_listener
    from infra.db import Database
    from infra.db.repositories import ApiKeyRepo, FaceRepo, FaceSetRepo, JobRepo, ProjectRepo
    from infra.events import event_publisher_from_settings
    from infra.object_store import object_store_from_settings

    database = Database.from_settings(settings.database)
    return ApiContext(
        settings=settings,
        database=database,
        projects=ProjectRepo(database),
        api_keys=ApiKeyRepo(database),
        face_sets=FaceSetRepo(database),
        faces=FaceRepo(database),
        # The API fails a job itself when the broker refuses its message: that push goes out
        # with the commit too (another process may wait on the same idempotent job).
        jobs=JobRepo(
            database,
            ttl_seconds=settings.jobs.result_ttl_seconds,
            completion_channel=commit_channel(settings.database.url, settings.jobs.completion_push),
        ),
        store=object_store_from_settings(settings.object_store),
        producer=make_celery(settings, main="facefleet.api"),
        events=event_publisher_from_settings(settings),
        completions=completion_listener(settings.database.url, settings.jobs.completion_push),
    )


def current_context() -> ApiContext:
    context: ApiContext = current_app.extensions[CONTEXT_KEY]
    return context
