"""The admin API: projects and keys over HTTP under the operator's admin token; a key
rotation with two keys valid at once, then the old one revoked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from tests.api.conftest import ApiStack, error_of

ADMIN_TOKEN = "admin-0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def admin_http(api: ApiStack) -> Any:
    from api.app import create_app

    settings = api.settings.model_copy(
        update={"api": api.settings.api.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})}
    )
    return create_app(settings).test_client()


def as_admin(**headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}", **headers}


def test_projects_and_keys_are_managed_over_http_and_a_rotation_keeps_two_keys_valid(admin_http: Any) -> None:
    name = f"admin-{uuid.uuid4().hex[:8]}"
    created = admin_http.post("/v1/admin/projects", json={"name": name}, headers=as_admin())
    assert created.status_code == 201, created.get_json()
    project = created.get_json()
    project_id, first_key = project["project_id"], project["api_key"]
    assert first_key["key"].startswith(f"ffk_{first_key['key_id']}.") and len(project["webhook_secret"]) == 64
    error_of(admin_http.post("/v1/admin/projects", json={"name": name}, headers=as_admin()), 400, "FRS.0100")

    listed = admin_http.get("/v1/admin/projects", headers=as_admin()).get_json()["projects"]
    assert {"project_id": project_id, "name": name} in [{k: p[k] for k in ("project_id", "name")} for p in listed]

    def face_sets(key: str) -> int:
        return int(admin_http.get(f"/v1/{project_id}/face-sets", headers={"X-Auth-Token": key}).status_code)

    assert face_sets(first_key["key"]) == 200
    second = admin_http.post(f"/v1/admin/projects/{project_id}/keys", json={"name": "rotation-2026-12"}, headers=as_admin())
    assert second.status_code == 201, second.get_json()
    second_key = second.get_json()
    assert second_key["name"] == "rotation-2026-12" and second_key["last_used_at"] is None
    assert face_sets(first_key["key"]) == 200 and face_sets(second_key["key"]) == 200  # the overlap window

    keys = admin_http.get(f"/v1/admin/projects/{project_id}/keys", headers=as_admin()).get_json()["keys"]
    assert [key["key_id"] for key in keys] == [first_key["key_id"], second_key["key_id"]]
    assert all("key" not in key for key in keys), "secrets are shown once, never listed"
    assert all(key["last_used_at"] is not None for key in keys), "both keys were used"

    revoked = admin_http.delete(f"/v1/admin/projects/{project_id}/keys/{first_key['key_id']}", headers=as_admin())
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None, revoked.get_json()
    error_of(admin_http.get(f"/v1/{project_id}/face-sets", headers={"X-Auth-Token": first_key["key"]}), 401, "FRS.0002")
    assert face_sets(second_key["key"]) == 200

    error_of(admin_http.delete(f"/v1/admin/projects/{project_id}/keys/0000", headers=as_admin()), 404, "FRS.0200")
    error_of(admin_http.get("/v1/admin/projects/nope/keys", headers=as_admin()), 404, "FRS.0200")
    error_of(admin_http.post(f"/v1/admin/projects/{project_id}/keys", json={"bogus": 1}, headers=as_admin()), 400, "FRS.0100")


def test_the_admin_api_refuses_project_keys_and_is_off_without_an_admin_token(api: ApiStack, admin_http: Any) -> None:
    error_of(admin_http.get("/v1/admin/projects", headers={"X-Auth-Token": api.client.api_key}), 403, "FRS.0003")
    error_of(admin_http.get("/v1/admin/projects"), 401, "FRS.0002")
    error_of(admin_http.post("/v1/admin/projects", json={"name": "x"}, headers={"Authorization": "Bearer wrong"}), 403, "FRS.0003")
    # The shared app has no admin token configured: the admin API is off, even for a valid key.
    off = api.app.test_client().get("/v1/admin/projects", headers={"X-Auth-Token": api.client.api_key})
    body = error_of(off, 403, "FRS.0003")
    assert "FACEFLEET_API__ADMIN_TOKEN" in body["error_msg"]
