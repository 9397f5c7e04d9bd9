"""The native API v1 blueprints."""

from __future__ import annotations

from flask_openapi3 import OpenAPI

from api.routes.analysis import analysis_blueprint
from api.routes.batch import batch_blueprint
from api.routes.face_sets import face_sets_blueprint
from api.routes.faces import faces_blueprint
from api.routes.jobs import jobs_blueprint
from api.routes.liveness import liveness_blueprint


def register_v1(app: OpenAPI) -> None:
    for blueprint in (
        analysis_blueprint(),
        face_sets_blueprint(),
        faces_blueprint(),
        batch_blueprint(),
        jobs_blueprint(),
        liveness_blueprint(),
    ):
        app.register_api(blueprint)
