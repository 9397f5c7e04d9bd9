"""Seed dialects: the four other seed APIs served verbatim beside the native API.

Each module translates one document's wire format (paths, parameter names, encodings,
response fields, codes) onto the same ``FaceService`` / job gateway the native API uses;
no face logic lives here. docs/DIALECTS.md maps every endpoint.

- seed000 ``POST /get_face_descriptor``: only when ``dialects.d000_project_id`` is set.
- seed001 ``/api/*`` (Apid + Kvalue): always on; apps are projects named ``d001-app-<Apid>``.
- seed002 ``/detect``, ``/search``, ``/addface``, ``/removeface``: only when
  ``dialects.d002_project_id`` is set.
- seed003 ``/cv/face/*`` (X-GW-Authorization = API key): always on.
"""

from __future__ import annotations

from flask import Flask

from api.context import CONTEXT_KEY
from api.dialects import seed000, seed001, seed002, seed003


def register(app: Flask) -> None:
    settings = app.extensions[CONTEXT_KEY].settings.dialects
    if settings.d000_project_id:
        app.register_blueprint(seed000.blueprint(settings.d000_project_id))
    app.register_blueprint(seed001.blueprint())
    if settings.d002_project_id:
        app.register_blueprint(seed002.blueprint(settings.d002_project_id, settings))
    app.register_blueprint(seed003.blueprint())
