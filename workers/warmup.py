"""Everything a worker process needs, made ready before it takes its first job.

Without it the first job of each process pays for what later jobs get for free: the ONNX
sessions' creation and first run, the SQL pool's first connection, the vector store's
connection and its collection's describe-and-load, the event channel. A person waiting on
a sync call should never be that first job. Runs in each prefork child right after the
fork (``workers.app``); a warm-up that fails is logged and the job that needs the part
builds it as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from core.queues import QueueName
from infra.settings import Settings
from pipelines.model_files import ModelFiles
from workers.runtime import Runtime

log = logging.getLogger(__name__)

# Queues whose jobs run the face pipeline; a maintenance-only worker loads no model.
MODEL_QUEUES = frozenset(
    {QueueName.INTERACTIVE.value, QueueName.ENROLL.value, QueueName.BATCH.value, QueueName.GPU.value}
)
WARM_UP_SIDE = 160


def runs_pipeline(queues: Iterable[str]) -> bool:
    """Whether a worker consuming ``queues`` runs the face pipeline (and so needs its models)."""
    return bool(MODEL_QUEUES & set(queues))


def missing_model_files(settings: Settings) -> list[Path]:
    """The files that ``make install`` (``python -m facefleet.models_setup``) builds and this
    worker's pipeline cannot run without, where they are absent. Reads paths only: the
    worker's main process checks them before it forks, and loads no model library."""
    config, files = settings.pipeline, ModelFiles(settings.models.home)
    needed = []
    if config.embedding_backend == "onnx":
        needed.append(files.dlib_resnet_onnx)
    if "blazeface" in (config.detector, config.fallback_detector):
        needed.append(files.blazeface_onnx)
    return [path for path in needed if not path.is_file()]


def warm_up(runtime: Runtime, queues: Iterable[str]) -> dict[str, float]:
    """Seconds spent on each part (logged, and returned for tests and the bench)."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("sql", lambda: _connect_sql(runtime)),
        ("object_store", lambda: _touch_store(runtime)),
        ("events", lambda: _open_event_channel(runtime)),
    ]
    if runs_pipeline(queues):
        steps += [
            ("pipeline", lambda: _run_pipeline(runtime)),
            ("vector_index", lambda: _load_collection(runtime)),
            # The thread that marks a read-only job running beside its computation: started
            # here, not by the first sync call.
            ("job_start_thread", lambda: runtime.job_starts.submit(lambda: None).result()),
        ]
    spent: dict[str, float] = {}
    for name, step in steps:
        started = time.perf_counter()
        try:
            step()
        except Exception as error:  # noqa: BLE001 - the first job will build it (and report a real failure)
            log.warning("warm-up of %s failed: %s", name, error)
        spent[name] = round(time.perf_counter() - started, 4)
    log.info("worker warmed up: %s", ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in spent.items()))
    return spent


def _connect_sql(runtime: Runtime) -> None:
    with runtime.database.engine.connect():
        pass
    runtime.lifecycle  # noqa: B018 - builds the job repository, events and completion push


def _touch_store(runtime: Runtime) -> None:
    ensure_bucket = getattr(runtime.store, "ensure_bucket", None)
    if ensure_bucket is not None:
        ensure_bucket()


def _open_event_channel(runtime: Runtime) -> None:
    open_channel = getattr(runtime.events, "_ensure_channel", None)
    if open_channel is not None:
        open_channel()


def _load_collection(runtime: Runtime) -> None:
    # has_filter_columns describes (and loads) the model's collection once per process: the
    # worker's own model and the one new face sets use.
    for model_id in dict.fromkeys((runtime.pipeline.model_id, runtime.settings.pipeline.face_set_model)):
        runtime.index.has_filter_columns(model_id)


def _run_pipeline(runtime: Runtime) -> None:
    """One pass on a blank image: sessions created, buffers allocated, code paths touched."""
    from pipelines.image import load_decoders
    from pipelines.types import BoundingBox, DetectedFace

    load_decoders()
    pixels = np.full((WARM_UP_SIDE, WARM_UP_SIDE, 3), 128, dtype=np.uint8)
    pipeline = runtime.pipeline
    pipeline.process(pixels, embed=True)  # the detectors (a blank image: no face, so the fallback too)
    quarter = WARM_UP_SIDE // 4
    face = DetectedFace(box=BoundingBox(quarter, quarter, 2 * quarter, 2 * quarter), confidence=1.0)
    pipeline.embedder.embed(pixels, [face])  # the embedder, which a faceless image never reaches
    runtime.pipeline_for(runtime.settings.pipeline.face_set_model).embedder.embed(pixels, [face])
