"""A thin client over Flask's test client for one project of a running FaceFleet stack."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from infra.settings import Settings
from tests.support.conformance import ResponseSchemas


@dataclass
class ProjectClient:
    http: FlaskClient
    project_id: str
    api_key: str
    # Set by the API tests: every answer is then checked against /v1/openapi.json.
    schemas: ResponseSchemas | None = field(default=None, repr=False)

    def call(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = {"X-Auth-Token": self.api_key, **kwargs.pop("headers", {})}
        full_path = f"/v1/{self.project_id}{path}"
        response = self.http.open(full_path, method=method, headers=headers, **kwargs)
        if self.schemas is not None:
            self.schemas.check(method, full_path, response)
        return response

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, (response.status_code, response.get_json())
        body: dict[str, Any] = response.get_json()
        return body

    def create_face_set(self, name: str, **body: Any) -> dict[str, Any]:
        return self.ok("POST", "/face-sets", json={"face_set_name": name, **body})

    def add_face(self, face_set: str, photo: Path, **fields: Any) -> TestResponse:
        form = {
            "image_file": (photo.open("rb"), photo.name),
            **{k: _form_value(v) for k, v in fields.items()},
        }
        return self.call(
            "POST", f"/face-sets/{face_set}/faces", data=form, content_type="multipart/form-data"
        )

    def search(self, face_set: str, photo: Path | None = None, **options: Any) -> dict[str, Any]:
        if photo is None:
            return self.ok("POST", f"/face-sets/{face_set}/search", json=options)
        form = {
            "image_file": (photo.open("rb"), photo.name),
            **{k: _form_value(v) for k, v in options.items()},
        }
        return self.ok("POST", f"/face-sets/{face_set}/search", data=form, content_type="multipart/form-data")

    def enroll_batch(self, face_set: str, photos: list[Path], **options: Any) -> dict[str, Any]:
        form: dict[str, Any] = {
            "image_file": [(p.open("rb"), f"{i:03d}_{p.name}") for i, p in enumerate(photos)]
        }
        form.update({k: _form_value(v) for k, v in options.items()})
        response = self.call(
            "POST", f"/face-sets/{face_set}/faces/batch", data=form, content_type="multipart/form-data"
        )
        assert response.status_code == 202, (response.status_code, response.get_json())
        body: dict[str, Any] = response.get_json()
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/jobs/{job_id}")

    def wait_job(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in ("succeeded", "failed"):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}")
            time.sleep(0.2)

    def face_ids(self, face_set: str) -> list[str]:
        faces = self.ok("GET", f"/face-sets/{face_set}/faces", query_string={"limit": 1000})["faces"]
        return [face["face_id"] for face in faces]


def _form_value(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def project_client(settings: Settings, name: str = "tests") -> ProjectClient:
    """A new project on the stack that ``settings`` name, and a client of it over a fresh app."""
    from api.app import create_app
    from facefleet.admin import create_project

    created = create_project(settings, name)
    return ProjectClient(create_app(settings).test_client(), created.project_id, created.api_key)
