"""Is a GPU worker pool running right now? Asked of the broker: a consumer on the GPU queue.

Producers (the API, batch parents, housekeeping) route GPU-worthy jobs to the GPU queue
only while the answer is yes, so stopping the GPU pool sends new work back to the CPU
pools instead of leaving it in a queue nobody reads. The answer is cached for a few
seconds: a passive declare per job would double the broker round trips.
"""

from __future__ import annotations

import logging
import threading
import time

from kombu.connection import Connection

from core.messages import is_amqp_url
from core.queues import QueueName
from infra.settings import PipelineSettings, Settings

log = logging.getLogger(__name__)

class GpuPoolProbe:
    def __init__(self, broker_url: str, queue: str, cache_seconds: float = 5.0, timeout_seconds: float = 2.0) -> None:
        self.broker_url = broker_url
        self.queue = queue
        self.cache_seconds = cache_seconds
        self.timeout_seconds = timeout_seconds
        self._answer = False
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def available(self) -> bool:
        # The embedded SQL transport has no consumer registry and no GPU pool.
        if not is_amqp_url(self.broker_url):
            return False
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= self.cache_seconds:
                self._answer = self._consumer_count() > 0
                self._checked_at = now
            return self._answer

    def _consumer_count(self) -> int:
        try:
            with Connection(self.broker_url, connect_timeout=self.timeout_seconds) as connection:  # type: ignore[no-untyped-call]
                _name, _messages, consumers = connection.default_channel.queue_declare(self.queue, passive=True)
                return int(consumers)
        except Exception as error:  # noqa: BLE001 - no queue yet, broker down: the CPU pools serve
            log.debug("GPU pool probe on %s failed: %s", self.queue, error)
            return 0


GPU_DETECTORS = frozenset({"mtcnn"})


def pipeline_uses_gpu(pipeline: PipelineSettings) -> bool:
    """TensorFlow models (deepface embedders, mtcnn) and onnxruntime with CUDA use a GPU;
    dlib-bin is a CPU build (docs/OPERATIONS.md, "What runs on the GPU")."""
    return (
        pipeline.detector in GPU_DETECTORS
        or pipeline.fallback_detector in GPU_DETECTORS
        or pipeline.embedding_model.startswith("deepface-")
        or pipeline.embedding_backend == "onnx"
    )


class GpuRouting:
    """Whether to send GPU-worthy jobs to the GPU queue now: only when routing is switched
    on (``pipeline.gpu_pool``), the pipeline can use a GPU, and a GPU pool consumes."""

    def __init__(self, settings: Settings) -> None:
        wanted = settings.pipeline.gpu_pool and pipeline_uses_gpu(settings.pipeline)
        self._probe = GpuPoolProbe(settings.broker.url, QueueName.GPU.value) if wanted else None

    def available(self) -> bool:
        return self._probe is not None and self._probe.available()
