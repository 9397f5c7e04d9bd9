"""The operator console: a static app served at ``/console`` from this package's
``static/`` folder (written for this project; no CDN, no request outside the service).

It talks only to the public v1 API with the key the operator types in, kept in the tab's
``sessionStorage``: the console adds no authority of its own. The page forbids every
origin but its own (Content-Security-Policy), so nothing it shows can call elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).parent / "static"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)


def console_blueprint() -> Blueprint:
    bp = Blueprint("console", __name__, url_prefix="/console")

    @bp.get("")
    @bp.get("/")
    def index() -> Response:
        return _static("index.html")

    @bp.get("/<path:name>")
    def asset(name: str) -> Response:
        return _static(name)

    return bp


def _static(name: str) -> Response:
    response = send_from_directory(STATIC, name, max_age=0)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
