"""Shared pieces of the v1 routes: blueprint factory, async negotiation, job responses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel

from api.auth import authenticate_project_request
from api.jobs import JobOutcome, job_location
from api.metrics import record_job
from api.query_params import refuse_unknown_query_parameters
from api.schemas import AsyncQuery, ErrorBody, JobAccepted, JobHeaders

# flask-openapi3's type for a ``responses`` table.
Responses = dict[str | int | HTTPStatus, type[BaseModel] | dict[Any, Any] | None]

ERROR_RESPONSES: Responses = {status: ErrorBody for status in (400, 401, 403, 404, 405, 413, 429, 500, 503)}
ACCEPTED: Responses = {202: JobAccepted}


def v1_blueprint(name: str, tag: str, description: str) -> APIBlueprint:
    blueprint = APIBlueprint(
        name,
        __name__,
        url_prefix="/v1/<project_id>",
        abp_tags=[Tag(name=tag, description=description)],
        abp_security=[{"token": []}],
        abp_responses=ERROR_RESPONSES,
    )
    blueprint.before_request(authenticate_project_request)
    blueprint.before_request(refuse_unknown_query_parameters)
    return blueprint


def wants_async(query: AsyncQuery | None, headers: JobHeaders | None) -> bool:
    if query is not None and query.async_:
        return True
    prefer = (headers.prefer or "") if headers is not None else ""
    return any(part.strip().lower() == "respond-async" for part in prefer.split(","))


def idempotency_key(headers: JobHeaders | None) -> str | None:
    return headers.idempotency_key if headers is not None else None


def accepted(project_id: str, outcome: JobOutcome) -> Response:
    location = job_location(project_id, outcome.job_id)
    response = jsonify({"job_id": outcome.job_id, "status": outcome.status.value, "location": location})
    response.status_code = 202
    response.headers["Location"] = location
    return response


def job_response(
    project_id: str, outcome: JobOutcome, render: Callable[[Any], BaseModel | dict[str, Any]] = lambda result: result
) -> Response:
    """200 with the rendered result or the job's error; 202 while it is still running or
    when the client asked for an asynchronous answer."""
    if outcome.asynchronous or not outcome.finished:
        record_job(current_app, outcome.kind.value, "accepted")
        return accepted(project_id, outcome)
    record_job(current_app, outcome.kind.value, outcome.status.value)
    outcome.raise_if_failed()
    rendered = render(outcome.result)
    return jsonify(rendered.model_dump(mode="json") if isinstance(rendered, BaseModel) else rendered)


def format_date(value: datetime | None) -> str:
    """The seed's date format, in UTC: ``YYYY-MM-DD HH:MM:SS`` ("" when there is none)."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")
