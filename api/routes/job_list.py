"""jobs: the project's recent jobs, newest first, paged by an opaque cursor."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field

from api.context import current_context
from api.errors import ApiError, ApiErrorCode
from api.request_models import RequestParameters
from api.routes.common import v1_blueprint
from api.routes.jobs import job_view
from api.schemas import JobView, ProjectPath
from core.jobs import JobKind
from infra.db.console_reads import ConsoleReads, JobCursor
from infra.db.rows import JobRow


class JobListQuery(RequestParameters):
    kind: JobKind | None = Field(None, description="only jobs of this kind")
    status: Literal["pending", "running", "succeeded", "failed"] | None = Field(
        None, description="only in this state"
    )
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")


class JobListResponse(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None = Field(None, description="absent on the last page")


def job_summary(job: JobRow) -> dict[str, Any]:
    """The job's view without its result (a batch's report can be large: GET the job for
    it), with how long it ran."""
    view = job_view(job)
    view.pop("result", None)
    if job.started_at is not None and job.finished_at is not None:
        view["duration_seconds"] = round((job.finished_at - job.started_at).total_seconds(), 3)
    return view


def job_list_blueprint() -> APIBlueprint:
    bp = v1_blueprint("v1_job_list", "jobs", "Asynchronous jobs")

    @bp.get("/jobs", responses={200: JobListResponse})
    def list_jobs(path: ProjectPath, query: JobListQuery) -> Response:
        """The project's jobs, newest first (a batch's internal chunks are not listed)."""
        after = None
        if query.cursor is not None:
            try:
                after = JobCursor.decode(query.cursor)
            except ValueError as bad:
                raise ApiError(
                    ApiErrorCode.INVALID_PARAMETER, "cursor is not a next_cursor this API gave"
                ) from bad
        jobs, following = ConsoleReads(current_context().database).jobs(
            path.project_id,
            kind=query.kind.value if query.kind is not None else None,
            status=query.status,
            after=after,
            limit=query.limit,
        )
        body: dict[str, object] = {"jobs": [job_summary(job) for job in jobs]}
        if following is not None:
            body["next_cursor"] = following.encode()
        return jsonify(body)

    return bp
