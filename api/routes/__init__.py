"""The native API v1 blueprints."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, OpenAPI

from api.routes.analysis import analysis_blueprint
from api.routes.batch import batch_blueprint
from api.routes.face_images import face_images_blueprint
from api.routes.face_sets import face_sets_blueprint
from api.routes.faces import faces_blueprint
from api.routes.job_list import job_list_blueprint
from api.routes.jobs import jobs_blueprint
from api.routes.liveness import liveness_blueprint
from api.routes.persons import persons_blueprint
from api.routes.webhooks import webhook_blueprint

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def register_v1(app: OpenAPI) -> None:
    for blueprint in (
        analysis_blueprint(),
        face_sets_blueprint(),
        faces_blueprint(),
        batch_blueprint(),
        jobs_blueprint(),
        liveness_blueprint(),
        face_images_blueprint(),
        persons_blueprint(),
        job_list_blueprint(),
        webhook_blueprint(),
    ):
        _keep_operations_of_shared_paths(app, blueprint)
        app.register_api(blueprint)


def _keep_operations_of_shared_paths(app: OpenAPI, blueprint: APIBlueprint) -> None:
    """flask-openapi3 replaces a documented path wholesale when another blueprint documents
    it too: ``POST faces/batch`` (batch) would drop ``DELETE faces/batch`` (faces) from the
    document. Carry the operations already documented into the blueprint's path item."""
    for path, path_item in blueprint.paths.items():
        documented = app.paths.get(path)
        if documented is None:
            continue
        for method in HTTP_METHODS:
            if getattr(path_item, method, None) is None and getattr(documented, method, None) is not None:
                setattr(path_item, method, getattr(documented, method))
