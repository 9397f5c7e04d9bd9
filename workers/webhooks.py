"""Delivery of a finished job's signed callback (issue 11), as its own maintenance task.

It runs apart from the job so that a slow or failing receiver, with its backoff between
attempts, never holds a worker slot that face jobs need. The report of every attempt is
stored on the job, where `GET /jobs/{id}` shows it.
"""

from __future__ import annotations

import logging
from typing import Any

from infra.webhooks import deliver_webhook
from workers.lifecycle import final_event
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def deliver_job_webhook(runtime: Runtime, job_id: str) -> dict[str, Any] | None:
    job = runtime.jobs.get(job_id)
    if job is None or not job.callback_url:
        return None
    if job.webhook is not None and job.webhook.get("delivered"):
        return dict(job.webhook)  # a redelivered task must not call the receiver twice
    secret = runtime.projects.webhook_secret(job.project_id)
    if secret is None:
        log.warning("project %s has no webhook secret; job %s is not called back", job.project_id, job_id)
        return None
    report = deliver_webhook(job.callback_url, final_event(job).to_dict(), secret, runtime.settings)
    runtime.jobs.record_webhook(job_id, report.to_dict())
    if not report.delivered:
        log.warning("webhook of job %s was not delivered after %d attempts", job_id, len(report.attempts))
    return report.to_dict()
