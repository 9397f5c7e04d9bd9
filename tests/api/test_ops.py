"""Operations endpoints, the served OpenAPI document and the documented error codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from api.app import create_app
from api.errors import all_codes
from tests.api.conftest import ApiStack, error_of
from tests.api.photos import OBAMA_SMALL, b64

pytestmark = [pytest.mark.integration, pytest.mark.model]

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"
DOC_ROW = re.compile(r"^\| `(FRS\.\d{4})` \| (\d{3}) \|", re.MULTILINE)


def test_every_error_code_is_documented_with_its_status() -> None:
    documented = {code: int(status) for code, status in DOC_ROW.findall(API_DOC.read_text())}
    in_code = {spec.code: spec.status for spec in all_codes()}
    assert documented == in_code
    assert len(in_code) == len(all_codes()), "two errors share one code"


def test_healthz_and_readyz_report_every_dependency(api: ApiStack) -> None:
    http = api.client.http
    assert http.get("/healthz").get_json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json() == {
        "status": "ready",
        "checks": {"sql": "ok", "broker": "ok", "object_store": "ok", "vector_store": "ok"},
    }


def test_readyz_answers_503_naming_an_unreachable_vector_store(api: ApiStack) -> None:
    unreachable = api.settings.model_copy(
        update={"vector_store": api.settings.vector_store.model_copy(update={"uri": "http://127.0.0.1:9"})}
    )
    response = create_app(unreachable).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["vector_store"].startswith("unreachable")
    assert body["checks"]["sql"] == "ok"


def test_metrics_count_requests_and_jobs(api: ApiStack) -> None:
    client = api.client
    client.call("GET", "/face-sets")
    client.ok("POST", "/face-detect", json={"image_base64": b64(OBAMA_SMALL)})
    assert client.http.get("/metrics").status_code == 401
    operator = api.settings.model_copy(
        update={"api": api.settings.api.model_copy(update={"admin_token": SecretStr("ops-metrics-token-0123456789")})}
    )
    http = create_app(operator).test_client()
    http.get(f"/v1/{client.project_id}/face-sets", headers={"X-Auth-Token": client.api_key})
    text = http.get("/metrics", headers={"Authorization": "Bearer ops-metrics-token-0123456789"}).get_data(as_text=True)
    assert 'facefleet_jobs_finished_total{kind="detect",status="succeeded"}' in text
    assert "facefleet_http_requests_total" in text
    assert 'route="/v1/<project_id>/face-sets"' in text
    assert "facefleet_http_request_seconds_bucket" in text
    assert client.project_id not in text  # templates, never concrete ids


def test_openapi_document_and_docs_are_served(api: ApiStack) -> None:
    http = api.client.http
    document = http.get("/v1/openapi.json")
    assert document.status_code == 200
    spec = document.get_json()
    assert spec["openapi"].startswith("3.")
    paths = set(spec["paths"])
    for path in (
        "/v1/{project_id}/face-detect",
        "/v1/{project_id}/face-compare",
        "/v1/{project_id}/face-sets",
        "/v1/{project_id}/face-sets/{face_set_name}",
        "/v1/{project_id}/face-sets/{face_set_name}/faces",
        "/v1/{project_id}/face-sets/{face_set_name}/faces/batch",
        "/v1/{project_id}/face-sets/{face_set_name}/search",
        "/v1/{project_id}/jobs/{job_id}",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    detect = spec["paths"]["/v1/{project_id}/face-detect"]["post"]
    assert set(detect["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert spec["components"]["securitySchemes"]["token"]["name"] == "X-Auth-Token"
    docs = http.get("/docs", follow_redirects=True)
    assert docs.status_code == 200 and b"swagger" in docs.get_data().lower()
    for documented in sorted(set(re.findall(r"`(/docs[^`]*)`", API_DOC.read_text()))):
        assert http.get(documented, follow_redirects=True).status_code == 200, f"API.md names {documented}"
    search = spec["paths"]["/v1/{project_id}/face-sets/{face_set_name}/search"]["post"]
    parameters = {(item["in"], item["name"]) for item in search["parameters"]}
    assert {("header", "X-Callback-Url"), ("query", "callback_url"), ("header", "Idempotency-Key")} <= parameters
    schemas = spec["components"]["schemas"]
    assert all(schemas[name].get("example") for name in ("SearchJson", "AddFaceJson", "DetectJson", "FaceSetCreate"))


def test_retry_after_is_sent_only_with_a_refusal(api: ApiStack) -> None:
    answered = api.client.call("GET", "/face-sets")
    assert answered.status_code == 200 and "Retry-After" not in answered.headers
    assert "X-RateLimit-Limit" in answered.headers


def test_unknown_paths_and_methods_answer_the_error_format(api: ApiStack) -> None:
    client = api.client
    error_of(client.call("GET", "/no-such-thing"), 404, "FRS.0200")
    error_of(client.http.get("/nothing-here"), 404, "FRS.0200")
    error_of(client.call("PATCH", "/face-sets"), 405, "FRS.0213")
