"""How a job travels: the broker URL schemes, the headers stamped on a message, and the
one function that sends a job's task by name (no task import needed)."""

from __future__ import annotations

import time
from typing import Any, Protocol

from core.jobs import JobKind, task_name
from core.queues import PRIORITY_OF_QUEUE, queue_for

# Celery stamps no enqueue time; the queue monitor reads this header to report message age.
ENQUEUED_AT_HEADER = "x-facefleet-enqueued-at"

# A task message's payload may carry small probe images under this field (object key ->
# bytes; base64 text in a JSON message of an earlier release) beside the job's own fields;
# the job row never holds them (api/probes.py).
INLINE_IMAGES_FIELD = "inline_images"

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def is_amqp_url(url: str) -> bool:
    """A RabbitMQ broker, as opposed to the embedded SQL transport."""
    return url.startswith(AMQP_SCHEMES)


class TaskProducer(Protocol):
    """The part of a Celery app needed to send a task by name."""

    def send_task(
        self,
        name: str,
        *,
        args: list[Any],
        task_id: str,
        queue: str,
        priority: int,
        headers: dict[str, Any],
        argsrepr: str,
        kwargsrepr: str,
    ) -> Any: ...


def dispatch(
    producer: TaskProducer, kind: JobKind, job_id: str, payload: dict[str, Any], gpu_pool_available: bool = False
) -> None:
    """Send one job's task: the job id doubles as the Celery task id, so a job is
    traceable end to end and a re-send of the same job is recognisable.

    The message's ``argsrepr`` (what Celery's monitoring shows of a task's arguments) names
    the job, not its payload: a payload may hold a person's external id or a probe's bytes,
    and Celery's own rendering of one walked its whole structure on every send."""
    queue = queue_for(kind, gpu_pool_available)
    producer.send_task(
        task_name(kind),
        args=[job_id, payload],
        task_id=job_id,
        queue=queue.value,
        priority=PRIORITY_OF_QUEUE[queue],
        headers={ENQUEUED_AT_HEADER: time.time()},
        argsrepr=f"[{job_id!r}, <{kind.value} payload>]",
        kwargsrepr="{}",
    )
