"""jobs/{job_id}: status, progress, result or error of any job of the project."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint

from api.context import current_context
from api.errors import job_error
from api.routes.common import format_date, v1_blueprint
from api.schemas import JobPath, JobView


def job_view(job: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status,
        "created_at": format_date(getattr(job, "created_at", None)),
        "updated_at": format_date(getattr(job, "updated_at", None)),
    }
    total = getattr(job, "progress_total", None)
    if total:
        view["progress"] = {"done": int(getattr(job, "progress_done", 0) or 0), "total": int(total)}
    if job.status == "succeeded":
        view["result"] = job.result
    elif job.status == "failed":
        view["error"] = job_error(job.error_code, job.error_message, job.kind, getattr(job, "error_details", None)).body()
    if getattr(job, "callback_url", None):
        view["callback_url"] = job.callback_url
        # Every delivery attempt to the callback, once the final state was sent.
        view["webhook"] = getattr(job, "webhook", None)
    return view


def jobs_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_jobs", "jobs", "Asynchronous jobs")

    @bp.get("/jobs/<job_id>", responses={200: JobView})
    def get_job(path: JobPath) -> Response:
        """A job's status, progress, and its result or error once finished."""
        return jsonify(job_view(current_context().service.job(path.project_id, path.job_id)))

    return bp
