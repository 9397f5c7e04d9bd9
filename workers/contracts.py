"""The job vocabulary under its old import path; it lives in ``core`` now.

Kept so that code written against ``workers.contracts`` keeps importing; new code imports
``core.*`` directly.
"""

from __future__ import annotations

from core.errors import ErrorCode
from core.errors import ErrorCode as JobErrorCode
from core.jobs import JobKind, JobStatus, task_name
from core.messages import ENQUEUED_AT_HEADER, INLINE_IMAGES_FIELD, TaskProducer, dispatch
from core.payloads import (
    PAYLOAD_OF_KIND,
    BatchItem,
    CalibratePayload,
    ComparePayload,
    DeleteFaceSetPayload,
    DeleteFacesPayload,
    DeletePersonPayload,
    DetectPayload,
    DropPreviousVectorsPayload,
    EmbedPayload,
    EnrollBatchPayload,
    EnrollChunkPayload,
    EnrollOptions,
    EnrollPayload,
    LivenessPayload,
    ReindexPayload,
    SearchPayload,
    UpdateFacePayload,
)
from core.queues import GPU_WORTHY_KINDS, PRIORITY_OF_QUEUE, QUEUE_OF_KIND, QueueName, queue_for
from infra.gpu_pool import GpuRouting, pipeline_uses_gpu

__all__ = [
    "ENQUEUED_AT_HEADER",
    "GPU_WORTHY_KINDS",
    "INLINE_IMAGES_FIELD",
    "PAYLOAD_OF_KIND",
    "PRIORITY_OF_QUEUE",
    "QUEUE_OF_KIND",
    "BatchItem",
    "CalibratePayload",
    "ComparePayload",
    "DeleteFaceSetPayload",
    "DeleteFacesPayload",
    "DeletePersonPayload",
    "DetectPayload",
    "DropPreviousVectorsPayload",
    "EmbedPayload",
    "EnrollBatchPayload",
    "EnrollChunkPayload",
    "EnrollOptions",
    "EnrollPayload",
    "ErrorCode",
    "GpuRouting",
    "JobErrorCode",
    "JobKind",
    "JobStatus",
    "LivenessPayload",
    "QueueName",
    "ReindexPayload",
    "SearchPayload",
    "TaskProducer",
    "UpdateFacePayload",
    "dispatch",
    "pipeline_uses_gpu",
    "queue_for",
    "task_name",
]
