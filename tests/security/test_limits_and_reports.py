"""Issue 23's remaining rows: callback URLs at submit time, failed-authentication limiting,
zip members refused by name, and 413 messages that name the limit actually exceeded."""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.security.conftest import D001_APID, Surfaces
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]


def detect_with_callback(client: ProjectClient, url: str, b64: str) -> TestResponse:
    return client.call("POST", "/face-detect", json={"image_base64": b64}, headers={"X-Callback-Url": url})


# ---------------------------------------------------------------------------- callback URLs


@pytest.mark.parametrize("url", ["http://[::1/", "http://[]/", "http://[1:2:3]/", "http://[::ffff:127.1]/"])
def test_malformed_callback_urls_are_a_400(surfaces: Surfaces, url: str) -> None:
    before = surfaces.written()
    response = detect_with_callback(surfaces.native, url, surfaces.face_b64)
    assert response.status_code == 400 and response.get_json()["error_code"] == "FRS.0132", response.get_json()
    assert surfaces.written() == before


@pytest.mark.parametrize(
    "url", ["http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::]/", "http://[::7f00:1]/", "http://192.0.0.8/",
            "http://localhost/", "http://[::ffff:169.254.169.254]/"],
)
def test_callbacks_to_addresses_embedding_private_ipv4_are_refused(surfaces: Surfaces, url: str) -> None:
    before = surfaces.written()
    response = detect_with_callback(surfaces.native, url, surfaces.face_b64)
    assert response.status_code == 400 and response.get_json()["error_code"] == "FRS.0132"
    message = response.get_json()["error_msg"]
    assert "127.0.0.1" not in message and "169.254" not in message and "::1" not in message  # no resolution result
    assert surfaces.written() == before


# ---------------------------------------------------------------------------- failed authentication


@pytest.fixture
def strict_app(surfaces: Surfaces) -> Any:
    """A second API process on the same stores: 5 failures a minute, one trusted proxy."""
    from api.app import create_app

    api = surfaces.settings.api.model_copy(update={"failed_auth_per_minute": 5, "trusted_proxies": ["10.9.0.0/16"]})
    return create_app(surfaces.settings.model_copy(update={"api": api}))


def test_random_tokens_cannot_reset_the_failure_limit_and_valid_keys_keep_working(
    surfaces: Surfaces, strict_app: Any
) -> None:
    http = strict_app.test_client()
    native = surfaces.native
    path = f"/v1/{native.project_id}/face-sets"
    assert http.get(path, headers={"X-Auth-Token": native.api_key}).status_code == 200  # known good from here
    for _ in range(5):
        assert http.get(path, headers={"X-Auth-Token": "ffk_" + secrets.token_hex(8) + ".x"}).status_code == 401
    for forged in ("ffk_" + secrets.token_hex(8) + ".y", secrets.token_urlsafe(30), "x" * 600):
        throttled = http.get(path, headers={"X-Auth-Token": forged, "X-Forwarded-For": "203.0.113.9"})
        assert throttled.status_code == 429 and throttled.get_json()["error_code"] == "FRS.0302"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert http.get(path, headers={"X-Auth-Token": native.api_key}).status_code == 200

    # Dialects share the same limit per address, each in its own shape.
    d001 = http.get("/api/face", data={"Apid": str(D001_APID), "Kvalue": "ffk_nope.x"})
    assert d001.status_code == 429 and d001.get_json() == {"msg_code": 2} and "Retry-After" in d001.headers
    d003 = http.post("/cv/face/face_search", data={"app_id": "a", "user_id": "u"}, headers={"X-GW-Authorization": "nope"})
    assert d003.status_code == 429 and d003.get_json()["code"] == 429 and "Retry-After" in d003.headers
    # A valid key that never succeeded from this address waits like any other token:
    # answering it would let a blocked guesser tell right from wrong at full speed.
    unseen = http.post(
        "/cv/face/face_search", data={"app_id": "gate", "user_id": "u"}, headers={"X-GW-Authorization": surfaces.d003_key}
    )
    assert unseen.status_code == 429


def test_guessing_the_operators_admin_token_is_limited_too(surfaces: Surfaces) -> None:
    from pydantic import SecretStr

    from api.app import create_app

    api = surfaces.settings.api.model_copy(update={"failed_auth_per_minute": 5, "admin_token": SecretStr("op-secret")})
    http = create_app(surfaces.settings.model_copy(update={"api": api})).test_client()
    assert http.get("/v1/admin/projects", headers={"X-Auth-Token": "op-secret"}).status_code == 200
    answers = [http.get("/v1/admin/projects", headers={"X-Auth-Token": f"guess-{n}"}).status_code for n in range(6)]
    assert answers == [403] * 5 + [429]
    assert http.get("/v1/admin/projects", headers={"X-Auth-Token": "op-secret"}).status_code == 200


def test_forwarded_for_is_believed_only_from_trusted_proxies(surfaces: Surfaces, strict_app: Any) -> None:
    http = strict_app.test_client()
    path = f"/v1/{surfaces.native.project_id}/face-sets"

    def fail_from(peer: str, forwarded: str) -> int:
        headers = {"X-Auth-Token": "ffk_" + secrets.token_hex(8) + ".x", "X-Forwarded-For": forwarded}
        return int(http.get(path, headers=headers, environ_base={"REMOTE_ADDR": peer}).status_code)

    # Behind the trusted proxy, each forwarded client has its own bucket...
    assert [fail_from("10.9.0.1", "198.51.100.7") for _ in range(6)] == [401] * 5 + [429]
    assert fail_from("10.9.0.1", "198.51.100.8") == 401
    # ...but an untrusted peer's header is ignored: the peer itself is limited.
    assert [fail_from("192.0.2.50", f"198.51.100.{n}") for n in range(6)] == [401] * 5 + [429]


def test_failures_are_shared_across_api_processes_through_redis(surfaces: Surfaces) -> None:
    """Two API instances (two processes' worth of limiter state) on one Redis count one
    address's failures together; with memory:// each would allow its own five."""
    from api.app import create_app

    api = surfaces.settings.api.model_copy(
        update={"failed_auth_per_minute": 5, "rate_limit_storage_uri": "redis://127.0.0.1:6379/0"}
    )
    first, second = (create_app(surfaces.settings.model_copy(update={"api": api})).test_client() for _ in range(2))
    address = f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"  # a bucket of this run's own
    path = f"/v1/{surfaces.native.project_id}/face-sets"

    def fail(http: Any) -> int:
        headers = {"X-Auth-Token": "ffk_" + secrets.token_hex(8) + ".x"}
        return int(http.get(path, headers=headers, environ_base={"REMOTE_ADDR": address}).status_code)

    assert [fail(first), fail(second), fail(first), fail(second), fail(first)] == [401] * 5
    assert fail(second) == 429 and fail(first) == 429


# ---------------------------------------------------------------------------- zip members


def test_zip_members_with_unsafe_names_are_reported_with_a_reason(surfaces: Surfaces) -> None:
    native = surfaces.native
    native.ok("POST", "/face-sets", json={"face_set_name": "zip-names"})
    archive = io.BytesIO()
    photo = __import__("base64").b64decode(surfaces.face_b64)
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ok.jpg", photo)
        zipped.writestr("../../evil.jpg", photo)
        zipped.writestr("/etc/abs.jpg", photo)
        zipped.writestr("a/../../up.jpg", photo)
        zipped.writestr(".hidden.jpg", photo)  # hidden files stay skipped
    archive.seek(0)
    accepted = native.call(
        "POST", "/face-sets/zip-names/faces/batch", data={"archive": (archive, "x.zip")}, content_type="multipart/form-data"
    )
    assert accepted.status_code == 202, accepted.get_json()
    job = native.wait_job(accepted.get_json()["job_id"], timeout=180)
    items = {item["source"]: item for item in job["result"]["items"]}
    assert set(items) == {"ok.jpg", "../../evil.jpg", "/etc/abs.jpg", "a/../../up.jpg"}
    assert items["ok.jpg"]["status"] == "added"
    for name in ("../../evil.jpg", "/etc/abs.jpg", "a/../../up.jpg"):
        assert items[name]["status"] == "rejected" and items[name]["reason"] == "invalid_argument"
        assert "archive member" in items[name]["message"]
    assert len(native.face_ids("zip-names")) == 1


# ---------------------------------------------------------------------------- 413 messages


def test_413_names_the_limit_that_was_exceeded(surfaces: Surfaces) -> None:
    native = surfaces.native
    big_field = native.call(
        "POST", "/face-detect", data={"image_base64": "A" * (17 * 1024 * 1024)}, content_type="multipart/form-data"
    )
    assert big_field.status_code == 413 and "form field" in big_field.get_json()["error_msg"], big_field.get_json()
    big_json = native.call(
        "POST", "/face-detect", data='{"image_base64": "' + "A" * (40 * 1024 * 1024) + '"}', content_type="application/json"
    )
    assert big_json.status_code == 413 and "JSON body" in big_json.get_json()["error_msg"], big_json.get_json()
    parts = {f"p{index}": "x" for index in range(5000)}
    many = native.call("POST", "/face-detect", data=parts, content_type="multipart/form-data")
    assert many.status_code == 413 and "parts" in many.get_json()["error_msg"], many.get_json()


def test_413_for_the_whole_body_names_the_body_limit(surfaces: Surfaces) -> None:
    from api.app import create_app

    api = surfaces.settings.api.model_copy(update={"max_request_bytes": 64 * 1024})
    http = create_app(surfaces.settings.model_copy(update={"api": api})).test_client()
    response = http.post(
        f"/v1/{surfaces.native.project_id}/face-detect", data={"image_file": (io.BytesIO(b"x" * 100 * 1024), "a.jpg")},
        headers={"X-Auth-Token": surfaces.native.api_key}, content_type="multipart/form-data",
    )
    assert response.status_code == 413 and f"{64 * 1024} bytes" in response.get_json()["error_msg"]
    assert "body" in response.get_json()["error_msg"]


def test_413_for_a_chunked_form_over_the_body_limit_names_the_body_limit(surfaces: Surfaces) -> None:
    """A chunked body declares no length, so the body limit is only hit while the form is read;
    the message must still name that limit, not a form field's."""
    from api.app import create_app

    api = surfaces.settings.api.model_copy(update={"max_request_bytes": 64 * 1024})
    http = create_app(surfaces.settings.model_copy(update={"api": api})).test_client()
    boundary = "chunked-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="a.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n"
    ).encode() + b"x" * 100 * 1024 + f"\r\n--{boundary}--\r\n".encode()
    response = http.post(
        f"/v1/{surfaces.native.project_id}/face-detect", input_stream=io.BytesIO(body),
        headers={"X-Auth-Token": surfaces.native.api_key, "Transfer-Encoding": "chunked"},
        content_type=f"multipart/form-data; boundary={boundary}",
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn sets for a chunked request
    )
    assert response.status_code == 413, response.get_json()
    message = response.get_json()["error_msg"]
    assert f"the request body is larger than {64 * 1024} bytes" in message, message


# ---------------------------------------------------------------------------- formats


def test_api_md_lists_exactly_the_decoded_formats_and_tiff_is_refused_as_unsupported(surfaces: Surfaces) -> None:
    from pathlib import Path

    from PIL import Image

    from pipelines.image import ACCEPTED_FORMATS

    api_md = (Path(__file__).resolve().parents[2] / "docs" / "API.md").read_text()
    stated = re.search(r"decodes exactly these formats: (.*?)\n\(the first frame", api_md)
    assert stated is not None
    named = set(re.findall(r"[A-Z][A-Za-z]+", stated.group(1).replace("included", "")))
    assert named == {"JPEG", "MPO", "PNG", "BMP", "WebP", "GIF"}
    assert {name.upper() for name in named} == set(ACCEPTED_FORMATS) - {"DIB"}

    tiff = io.BytesIO()
    photo = Image.open(io.BytesIO(__import__("base64").b64decode(surfaces.face_b64)))
    photo.thumbnail((600, 600))  # uncompressed TIFF of the full photo is 108 MB
    photo.save(tiff, format="TIFF")
    response = surfaces.native.call(
        "POST", "/face-detect", data={"image_file": (io.BytesIO(tiff.getvalue()), "face.tiff")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and response.get_json()["error_code"] == "FRS.0111", response.get_json()
