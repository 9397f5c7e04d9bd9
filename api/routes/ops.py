"""Operations endpoints: liveness, readiness. (/metrics is installed by api.metrics.)

/readyz checks the broker, SQL, the object store and the vector store. Only workers use
the vector store (milvus-lite allows one process per file, and the API image carries no
Milvus client), so the API checks that its endpoint accepts connections: a TCP connect
for a Milvus server URI, a Unix-socket connect for the shared milvus-lite server. A bare
``.db`` path is opened in-process by a worker and cannot be probed from here.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import text

from api.context import ApiContext, current_context
from api.schemas import HealthResponse

log = logging.getLogger(__name__)
PROBE_KEY = "readyz/probe"
CONNECT_TIMEOUT_SECONDS = 2.0
MILVUS_DEFAULT_PORT = 19530


def check_sql(ctx: ApiContext) -> None:
    with ctx.database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_broker(ctx: ApiContext) -> None:
    with ctx.producer.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


def check_object_store(ctx: ApiContext) -> None:
    ctx.store.exists(PROBE_KEY)


def check_vector_store(ctx: ApiContext) -> None:
    uri = ctx.settings.vector_store.uri
    if uri.startswith("unix:"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(CONNECT_TIMEOUT_SECONDS)
            probe.connect(uri.removeprefix("unix:"))
        return
    if "://" not in uri:
        return  # a milvus-lite file a worker opens itself: nothing listens for the API to probe
    parts = urlsplit(uri)
    if not parts.hostname:
        raise ValueError("the vector store URI names no host")
    with socket.create_connection((parts.hostname, parts.port or MILVUS_DEFAULT_PORT), CONNECT_TIMEOUT_SECONDS):
        pass


CHECKS: dict[str, Callable[[ApiContext], None]] = {
    "sql": check_sql,
    "broker": check_broker,
    "object_store": check_object_store,
    "vector_store": check_vector_store,
}


def ops_blueprint() -> APIBlueprint:
    bp = APIBlueprint("ops", __name__, abp_tags=[Tag(name="operations", description="Health and readiness")])

    @bp.get("/healthz", responses={200: HealthResponse})
    def healthz() -> Response:
        """The process is alive."""
        return jsonify({"status": "ok"})

    @bp.get("/readyz", responses={200: HealthResponse, 503: HealthResponse})
    def readyz() -> Response:
        """Broker, SQL, object store and vector store are reachable."""
        ctx = current_context()
        results: dict[str, str] = {}
        for name, check in CHECKS.items():
            try:
                check(ctx)
                results[name] = "ok"
            except Exception as error:  # noqa: BLE001  # readiness reports, it never raises
                log.warning("readiness check %s failed: %s", name, error)
                results[name] = f"unreachable: {error.__class__.__name__}"
        ready = all(value == "ok" for value in results.values())
        response = jsonify({"status": "ready" if ready else "unavailable", "checks": results})
        response.status_code = 200 if ready else 503
        return response

    return bp
