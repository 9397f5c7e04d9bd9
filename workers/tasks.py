"""Thin Celery tasks: one per job kind, each naming its handler and nothing else."""

from __future__ import annotations

from typing import Any

from celery import Task

from core.jobs import WEBHOOK_TASK, JobKind, task_name
from workers.app import app
from workers.execution import Handler, run_job
from workers.runtime import get_runtime
from workers.services import HANDLERS
from workers.webhooks import deliver_job_webhook


def _register(kind: JobKind, handler: Handler) -> Task:
    def body(self: Task, job_id: str, payload: dict[str, Any]) -> None:
        run_job(self, job_id, kind, payload, handler)

    body.__name__ = f"{kind.value}_task"
    body.__qualname__ = body.__name__
    return app.task(name=task_name(kind), bind=True, acks_late=True, reject_on_worker_lost=True)(body)


TASKS: dict[JobKind, Task] = {kind: _register(kind, handler) for kind, handler in HANDLERS.items()}


# No retry limit here: the attempt bound is the webhook settings', kept by the delivery itself.
@app.task(name=WEBHOOK_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_webhook_task(self: Task, job_id: str) -> None:
    delay = deliver_job_webhook(get_runtime(), job_id)
    if delay is not None:
        raise self.retry(countdown=delay)
