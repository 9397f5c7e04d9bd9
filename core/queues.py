"""Queues by cost class, which kind goes where, and the priority of each queue."""

from __future__ import annotations

from enum import StrEnum

from core.jobs import JobKind


class QueueName(StrEnum):
    """One queue per cost class, so bulk enrollment never starves interactive calls."""

    INTERACTIVE = "facefleet.interactive"
    ENROLL = "facefleet.enroll"
    BATCH = "facefleet.batch"
    LIVENESS = "facefleet.liveness"
    MAINTENANCE = "facefleet.maintenance"
    GPU = "facefleet.gpu"


QUEUE_NAMES: tuple[str, ...] = tuple(queue.value for queue in QueueName)

# What a CPU worker consumes when told nothing else; the GPU queue has its own pool.
CPU_QUEUES: tuple[QueueName, ...] = tuple(queue for queue in QueueName if queue is not QueueName.GPU)

QUEUE_OF_KIND: dict[JobKind, QueueName] = {
    JobKind.DETECT: QueueName.INTERACTIVE,
    JobKind.COMPARE: QueueName.INTERACTIVE,
    JobKind.EMBED: QueueName.INTERACTIVE,
    JobKind.SEARCH: QueueName.INTERACTIVE,
    JobKind.UPDATE_FACE: QueueName.INTERACTIVE,
    JobKind.ENROLL: QueueName.ENROLL,
    JobKind.ENROLL_BATCH: QueueName.BATCH,
    JobKind.ENROLL_CHUNK: QueueName.BATCH,
    JobKind.LIVENESS: QueueName.LIVENESS,
    JobKind.DELETE_FACES: QueueName.MAINTENANCE,
    JobKind.DELETE_FACE_SET: QueueName.MAINTENANCE,
    JobKind.DELETE_PERSON: QueueName.MAINTENANCE,
    JobKind.CALIBRATE: QueueName.INTERACTIVE,
    JobKind.REINDEX: QueueName.BATCH,
    JobKind.DROP_PREVIOUS_VECTORS: QueueName.MAINTENANCE,
}

# Jobs whose work is model inference: with a GPU-capable pipeline, a GPU pool serves them faster.
GPU_WORTHY_KINDS = frozenset(
    {JobKind.DETECT, JobKind.COMPARE, JobKind.EMBED, JobKind.ENROLL, JobKind.ENROLL_CHUNK, JobKind.SEARCH}
)

# Interactive calls jump ahead of queued bulk work on brokers that honour priorities.
PRIORITY_OF_QUEUE: dict[QueueName, int] = {
    QueueName.INTERACTIVE: 9,
    QueueName.ENROLL: 6,
    QueueName.LIVENESS: 6,
    QueueName.MAINTENANCE: 3,
    QueueName.BATCH: 1,
    QueueName.GPU: 6,
}
MAX_PRIORITY = max(PRIORITY_OF_QUEUE.values())


def queue_for(kind: JobKind, gpu_pool_available: bool = False) -> QueueName:
    if gpu_pool_available and kind in GPU_WORTHY_KINDS:
        return QueueName.GPU
    return QUEUE_OF_KIND[kind]
