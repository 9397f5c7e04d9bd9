"""The Rekognition surface behind issue 23's boundary: a deeply nested JSON body is a
SerializationException (not a 500), and failed SigV4 authentications are limited per
client address like every other surface's keys, while a key that worked keeps working."""

from __future__ import annotations

import json
import secrets
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.rekognition.conftest import REGION, RekognitionService, Tenant

TARGET = "RekognitionService.ListCollections"


def signed(tenant: Tenant, body: bytes, secret: str | None = None) -> dict[str, str]:
    request = AWSRequest(
        method="POST", url="http://localhost/rekognition", data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
    )
    credentials = Credentials(tenant.access_key_id, secret or tenant.secret_access_key)
    SigV4Auth(credentials, "rekognition", REGION).add_auth(request)
    return dict(request.headers.items())


def post(http: Any, headers: dict[str, str], body: bytes, address: str = "127.0.0.1") -> Any:
    return http.post("/rekognition", data=body, headers=headers, environ_base={"REMOTE_ADDR": address})


def test_deeply_nested_json_is_a_serialization_error(rekognition: RekognitionService) -> None:
    from api.app import create_app

    http = create_app(rekognition.settings).test_client()
    body = b'{"MaxResults": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post(http, signed(rekognition.tenant_a, body), body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert json.loads(response.get_data())["__type"] == "SerializationException"


def test_failed_signatures_are_limited_per_address_and_a_working_key_keeps_working(
    rekognition: RekognitionService,
) -> None:
    from api.app import create_app

    api = rekognition.settings.api.model_copy(update={"failed_auth_per_minute": 3})
    http = create_app(rekognition.settings.model_copy(update={"api": api})).test_client()
    tenant, body, address = rekognition.tenant_a, b"{}", "198.51.100.77"
    assert post(http, signed(tenant, body), body, address).status_code == 200

    def guess() -> Any:
        made_up = Tenant(tenant.project_id, tenant.api_key, "AKIA" + secrets.token_hex(8).upper(), "x")
        return post(http, signed(made_up, body), body, address)

    assert [guess().status_code for _ in range(3)] == [403] * 3
    throttled = guess()
    assert throttled.status_code == 400, throttled.get_data(as_text=True)
    assert json.loads(throttled.get_data())["__type"] == "ProvisionedThroughputExceededException"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    # The key that worked from here is still checked (and a wrong signature for it is
    # still refused as such: a signing secret cannot be guessed).
    assert post(http, signed(tenant, body), body, address).status_code == 200
    assert post(http, signed(tenant, body, secret="wrong"), body, address).status_code == 403
