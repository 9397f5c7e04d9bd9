"""Operations endpoints: liveness, readiness. (/metrics is installed by api.metrics.)

/readyz checks what the API itself talks to: the broker, SQL and the object store. The
vector store is reached only by workers (milvus-lite allows one process per file), so
its health shows through the workers: a job that needs it fails with ``unavailable``
(FRS.0602), and worker health checks cover it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text

from api.context import ApiContext, current_context
from api.schemas import HealthResponse

log = logging.getLogger(__name__)
PROBE_KEY = "readyz/probe"


def check_sql(ctx: ApiContext) -> None:
    with ctx.database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_broker(ctx: ApiContext) -> None:
    with ctx.producer.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


def check_object_store(ctx: ApiContext) -> None:
    ctx.store.exists(PROBE_KEY)


CHECKS: dict[str, Callable[[ApiContext], None]] = {
    "sql": check_sql,
    "broker": check_broker,
    "object_store": check_object_store,
}


def ops_blueprint() -> APIBlueprint:
    bp = APIBlueprint("ops", __name__, abp_tags=[Tag(name="operations", description="Health and readiness")])

    @bp.get("/healthz", responses={200: HealthResponse})
    def healthz() -> Response:
        """The process is alive."""
        return jsonify({"status": "ok"})

    @bp.get("/readyz", responses={200: HealthResponse, 503: HealthResponse})
    def readyz() -> Response:
        """Broker, SQL and object store are reachable."""
        ctx = current_context()
        results: dict[str, str] = {}
        for name, check in CHECKS.items():
            try:
                check(ctx)
                results[name] = "ok"
            except Exception as error:  # readiness reports, it never raises
                log.warning("readiness check %s failed: %s", name, error)
                results[name] = f"unreachable: {error.__class__.__name__}"
        ready = all(value == "ok" for value in results.values())
        response = jsonify({"status": "ready" if ready else "unavailable", "checks": results})
        response.status_code = 200 if ready else 503
        return response

    return bp
