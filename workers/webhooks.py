"""Delivery of a finished job's signed callback, as its own maintenance task.

It runs apart from the job, and each attempt is one run of the task: between attempts the
task is re-scheduled with the backoff as its countdown (Celery's retry), so a slow or
failing receiver never holds a worker slot. The report of every attempt is stored on the
job as it happens, where `GET /jobs/{id}` shows it.
"""

from __future__ import annotations

import logging

from infra.webhooks import DeliveryReport, attempt_webhook
from workers.lifecycle import final_event
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def deliver_job_webhook(runtime: Runtime, job_id: str) -> float | None:
    """Make the next attempt of a job's callback; the delay before the one after it, or
    None when there is nothing more to do."""
    job = runtime.jobs.get(job_id)
    if job is None or not job.callback_url:
        return None
    stored = job.webhook
    if stored is not None and stored.get("delivered"):
        return None  # a redelivered task must not call the receiver twice
    secret = runtime.projects.webhook_secret(job.project_id)
    if secret is None:
        log.warning("project %s has no webhook secret; job %s is not called back", job.project_id, job_id)
        return None
    report = DeliveryReport.from_dict(stored) if stored else DeliveryReport.start(job.callback_url)
    report, delay = attempt_webhook(report, final_event(job).to_dict(), secret, runtime.settings)
    runtime.jobs.record_webhook(job_id, report.to_dict())
    if delay is None and not report.delivered:
        log.warning("webhook of job %s was not delivered after %d attempts", job_id, len(report.attempts))
    return delay
