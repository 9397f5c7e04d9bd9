"""Job kinds, their states, and the Celery task name each kind is sent under."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    DETECT = "detect"
    COMPARE = "compare"
    EMBED = "embed"
    ENROLL = "enroll"
    ENROLL_BATCH = "enroll_batch"
    ENROLL_CHUNK = "enroll_chunk"
    SEARCH = "search"
    UPDATE_FACE = "update_face"
    DELETE_FACES = "delete_faces"
    DELETE_FACE_SET = "delete_face_set"
    LIVENESS = "liveness"
    DELETE_PERSON = "delete_person"
    CALIBRATE = "calibrate"
    REINDEX = "reindex"
    DROP_PREVIOUS_VECTORS = "drop_previous_vectors"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


def task_name(kind: JobKind) -> str:
    return f"facefleet.{kind.value}"


# Not a job kind: a callback is delivery of a finished job's outcome, not work on a face.
WEBHOOK_TASK = "facefleet.deliver_webhook"
