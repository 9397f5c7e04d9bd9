"""Seed dialects: the four other seed APIs served verbatim beside the native API.

Each module translates one document's wire format (paths, parameter names, encodings,
response fields, codes) onto the same ``FaceService`` / job gateway the native API uses;
no face logic lives here. docs/DIALECTS.md maps every endpoint.

Each module is named after the API it emulates; the seed number is in its docstring.

- ``face_descriptor`` (seed 000) ``POST /get_face_descriptor``: only when
  ``dialects.d000_project_id`` is set.
- ``app_faces`` (seed 001) ``/api/*`` (Apid + Kvalue): always on; apps are projects named
  ``d001-app-<Apid>``.
- ``facenet_web`` (seed 002) ``/detect``, ``/search``, ``/addface``, ``/removeface``: only
  when ``dialects.d002_project_id`` is set.
- ``face_gateway`` (seed 003) ``/cv/face/*`` (X-GW-Authorization = API key): always on;
  its status-code table is ``face_gateway_codes``.
"""

from __future__ import annotations

from flask import Flask

from api.context import CONTEXT_KEY
from api.dialects import app_faces, face_descriptor, face_gateway, facenet_web


def register(app: Flask) -> None:
    settings = app.extensions[CONTEXT_KEY].settings.dialects
    if settings.d000_project_id:
        app.register_blueprint(face_descriptor.blueprint(settings.d000_project_id))
    app.register_blueprint(app_faces.blueprint())
    if settings.d002_project_id:
        app.register_blueprint(facenet_web.blueprint(settings.d002_project_id, settings))
    app.register_blueprint(face_gateway.blueprint())
