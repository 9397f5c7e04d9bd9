"""Per-process resources of a worker, created lazily and once.

Models are loaded on first use (a worker that only serves deletes never loads
TensorFlow), and everything is recreated after a fork.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any

from infra.settings import Settings

if TYPE_CHECKING:  # adapters and models are imported where first used, so a worker loads only what it needs
    from celery import Celery

    from core.jobs import JobKind
    from infra.completion import CompletionNotifier
    from infra.db import Database
    from infra.db.repositories import FaceRepo, FaceSetRepo, JobRepo, NewFace, ProjectRepo
    from infra.events import EventPublisher
    from infra.gpu_pool import GpuRouting
    from infra.object_store import ObjectStore
    from infra.vector_index import VectorIndex, VectorRecord
    from pipelines.embedding.coalescing import CoalescingBackend
    from pipelines.engine import FacePipeline
    from pipelines.image import ImageLimits
    from pipelines.liveness import LivenessChecker
    from pipelines.types import DecodedImage
    from workers.lifecycle import JobLifecycle
    from workers.models import Analyzer, QualityCheck

_lock = threading.Lock()
_runtime: Runtime | None = None
# A threads-pool worker runs several jobs at once, each with its start beside it; past this
# many at once a start waits for a free thread (its job computes meanwhile all the same).
_JOB_START_THREADS = 8


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._thread_models = threading.local()

    # --- stores -------------------------------------------------------------------------
    @cached_property
    def database(self) -> Database:
        from infra.db import Database

        return Database.from_settings(self.settings.database)

    @cached_property
    def jobs(self) -> JobRepo:
        from infra.completion import commit_channel
        from infra.db.repositories import JobRepo

        return JobRepo(
            self.database,
            ttl_seconds=self.settings.jobs.result_ttl_seconds,
            completion_channel=commit_channel(self.settings.database.url, self.settings.jobs.completion_push),
        )

    @cached_property
    def projects(self) -> ProjectRepo:
        from infra.db.repositories import ProjectRepo

        return ProjectRepo(self.database)

    @cached_property
    def face_sets(self) -> FaceSetRepo:
        from infra.db.repositories import FaceSetRepo

        return FaceSetRepo(self.database)

    @cached_property
    def faces(self) -> FaceRepo:
        from infra.db.repositories import FaceRepo

        return FaceRepo(self.database)

    @cached_property
    def store(self) -> ObjectStore:
        from infra.object_store import object_store_from_settings

        return object_store_from_settings(self.settings.object_store)

    @cached_property
    def index(self) -> VectorIndex:
        from infra.vector_index import VectorIndex

        return VectorIndex.from_settings(self.settings.vector_store)

    @cached_property
    def producer(self) -> Celery:
        from infra.celery_config import make_celery

        return make_celery(self.settings, main="facefleet.producer")

    @cached_property
    def gpu_routing(self) -> GpuRouting:
        from infra.gpu_pool import GpuRouting

        return GpuRouting(self.settings)

    def dispatch(self, kind: JobKind, job_id: str, payload: dict[str, Any]) -> None:
        """Send a job from a worker (batch chunks, re-sends), routed like the API routes.

        An unreachable broker (a restart) is an outage like a store's, not a bug: it raises
        ``TransientInfraError``, so the sending job is retried or redelivered, not failed."""
        from kombu.exceptions import OperationalError as BrokerUnreachable

        from core.messages import dispatch
        from infra.errors import TransientInfraError

        try:
            dispatch(self.producer, kind, job_id, payload, self.gpu_routing.available())
        except BrokerUnreachable as unreachable:
            raise TransientInfraError("broker", str(unreachable)) from unreachable

    @cached_property
    def events(self) -> EventPublisher:
        from infra.events import event_publisher_from_settings

        return event_publisher_from_settings(self.settings)

    @cached_property
    def completions(self) -> CompletionNotifier:
        from infra.completion import completion_notifier

        return completion_notifier(
            self.settings.database.url,
            self.database.engine,
            self.settings.jobs.completion_push,
            sent_by_commit=self.jobs.completion_channel is not None,
        )

    @cached_property
    def job_starts(self) -> ThreadPoolExecutor:
        """Threads that mark jobs running while their computation goes on
        (``workers.execution.compute_while_starting``), created when first needed: in the
        process that runs the jobs, never before a fork."""
        return ThreadPoolExecutor(max_workers=_JOB_START_THREADS, thread_name_prefix="job-start")

    @cached_property
    def lifecycle(self) -> JobLifecycle:
        from workers.lifecycle import JobLifecycle

        return JobLifecycle(self.jobs, self.events, self.producer, self.completions)

    # --- face computation ---------------------------------------------------------------
    @property
    def pipeline(self) -> FacePipeline:
        """One pipeline per job thread: a prefork child has one, a threads-pool worker one per
        thread, because detectors keep working state (dlib's HOG scanner, BlazeFace's
        interpreter) and are not safe to share. With micro-batching, the threads' pipelines
        share one descriptor backend that merges their chips into batched calls."""
        from workers.models import build_pipeline, micro_batching_enabled

        def build() -> FacePipeline:
            shared = self.coalescing_backend if micro_batching_enabled(self.settings) else None
            return build_pipeline(self.settings, shared_backend=shared)

        pipeline: FacePipeline = self._per_thread("pipeline", build)
        return pipeline

    def _per_thread(self, name: str, build: Callable[[], Any]) -> Any:
        """Model objects with working state (detectors, landmark scanners) are built once
        per job thread, never shared across threads."""
        built = getattr(self._thread_models, name, None)
        if built is None:
            built = build()
            setattr(self._thread_models, name, built)
        return built

    @cached_property
    def coalescing_backend(self) -> CoalescingBackend:
        from workers.models import build_coalescing_backend

        return build_coalescing_backend(self.settings)

    def micro_batching_stats(self) -> Any:
        """The shared backend's counters, or None when this process never micro-batched."""
        backend = self.__dict__.get("coalescing_backend")
        return None if backend is None else backend.stats

    @cached_property
    def image_limits(self) -> ImageLimits:
        from pipelines.image import ImageLimits

        limits = self.settings.images
        return ImageLimits(max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, min_side=limits.min_side)

    def decode(self, data: bytes) -> DecodedImage:
        from pipelines.image import decode_image

        return decode_image(data, self.image_limits)

    def pipeline_for(self, model_id: str) -> Any:
        """This thread's pipeline embedding with ``model_id`` (a face set's model): the same
        detector and network as ``pipeline``, built once per thread and model."""
        base = self.pipeline
        if model_id == base.model_id:
            return base
        from pipelines.catalog import with_model
        from workers.models import registered_model_pipeline

        def build() -> Any:
            registered = registered_model_pipeline(self.settings, self.store, base, model_id)
            return registered if registered is not None else with_model(base, model_id)

        return self._per_thread(f"pipeline_{model_id}", build)

    def match_distance_for(self, model_id: str) -> float | None:
        """The operator's ``pipeline.match_distance`` when set, else the model's own threshold:
        for a registered model the one given at registration, None when none was."""
        from infra.model_registry import lookup, name_of
        from pipelines.compare import scoring_for

        configured = self.settings.pipeline.match_distance
        if configured is not None:
            return configured
        name = name_of(model_id)
        if name is not None:
            record = lookup(self.store, name)
            return None if record is None else record.threshold
        return scoring_for(model_id).match_distance

    @property
    def match_distance(self) -> float | None:
        return self.match_distance_for(self.settings.pipeline.embedding_model)

    @property
    def analyzer(self) -> Analyzer:
        from workers.models import build_analyzer

        analyzer: Analyzer = self._per_thread("analyzer", lambda: build_analyzer(self.settings))
        return analyzer

    @property
    def liveness_checker(self) -> LivenessChecker:
        from workers.models import build_liveness_checker

        checker: LivenessChecker = self._per_thread(
            "liveness_checker", lambda: build_liveness_checker(self.settings)
        )
        return checker

    @property
    def quality_gate(self) -> QualityCheck:
        from workers.models import build_quality_gate

        gate: QualityCheck = self._per_thread("quality_gate", lambda: build_quality_gate(self.settings))
        return gate

    # --- record builders (keep services free of adapter constructors) -------------------
    def index_record(self, **fields: Any) -> VectorRecord:
        from infra.vector_index import VectorRecord

        return VectorRecord(**fields)

    def face_row(self, **fields: Any) -> NewFace:
        from infra.db.repositories import NewFace

        return NewFace(**fields)


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime(Settings())
    return _runtime


def reset_runtime() -> None:
    global _runtime
    with _lock:
        _runtime = None
