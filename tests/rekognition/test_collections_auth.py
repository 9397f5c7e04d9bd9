"""Collections, errors by code, SigV4 refusals and tenant isolation, through real boto3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
import requests
from botocore.exceptions import ClientError

from tests.rekognition.conftest import ADMIN_TOKEN, REGION, RekognitionService, unique

pytestmark = [pytest.mark.integration, pytest.mark.model]


def error_code(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_collection_lifecycle(rek: Any, rekognition: RekognitionService) -> None:
    # Every character the AWS reference allows, at its full length.
    collection_id = ("Aa0_.-:" + unique())[:200].ljust(255, "x")
    created = rek.create_collection(CollectionId=collection_id)
    assert created["StatusCode"] == 200
    assert created["CollectionArn"].endswith(f":{rekognition.tenant_a.project_id}:collection/{collection_id}")
    assert created["FaceModelVersion"] == "facefleet-dlib-resnet-v1"
    described = rek.describe_collection(CollectionId=collection_id)
    assert described["FaceCount"] == 0 and described["UserCount"] == 0
    assert described["CollectionARN"] == created["CollectionArn"]
    assert abs(described["CreationTimestamp"].timestamp() - datetime.now(UTC).timestamp()) < 120
    assert error_code(rek.create_collection, CollectionId=collection_id) == (
        "ResourceAlreadyExistsException",
        400,
    )
    assert rek.delete_collection(CollectionId=collection_id)["StatusCode"] == 200
    assert error_code(rek.describe_collection, CollectionId=collection_id) == (
        "ResourceNotFoundException",
        400,
    )
    assert error_code(rek.delete_collection, CollectionId=collection_id) == ("ResourceNotFoundException", 400)
    # The id is free again at once (its face set is deleted in the background).
    rek.create_collection(CollectionId=collection_id)
    rek.delete_collection(CollectionId=collection_id)


def test_list_collections_pages_with_the_paginator(rekognition: RekognitionService) -> None:
    from facefleet.access_keys import create_access_key
    from facefleet.admin import create_project

    project = create_project(rekognition.settings, unique("paging"))
    issued = create_access_key(rekognition.settings, project.project_id)
    client = rekognition.client(aws_access_key_id=issued.id, aws_secret_access_key=issued.secret)
    ids = sorted(unique("page") for _ in range(5))
    for collection_id in ids:
        client.create_collection(CollectionId=collection_id)
    pages = list(client.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(page["CollectionIds"]) for page in pages] == [2, 2, 1]
    assert [cid for page in pages for cid in page["CollectionIds"]] == ids
    assert all(
        page["FaceModelVersions"] == ["facefleet-dlib-resnet-v1"] * len(page["CollectionIds"])
        for page in pages
    )
    assert error_code(client.list_collections, NextToken="%%%not-a-token") == (
        "InvalidPaginationTokenException",
        400,
    )


def test_invalid_parameters(rek: Any) -> None:
    assert error_code(rek.create_collection, CollectionId="has space") == ("InvalidParameterException", 400)
    assert error_code(rek.create_collection, CollectionId="x" * 256)[0] in (
        "InvalidParameterException",
        "ParamValidationError",
    )


def test_unknown_operation(rekognition: RekognitionService, rek: Any) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    tenant = rekognition.tenant_a
    request = AWSRequest(
        method="POST",
        url=rekognition.endpoint,
        data=b"{}",
        headers={
            "X-Amz-Target": "RekognitionService.StartFaceSearch",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials(tenant.access_key_id, tenant.secret_access_key), "rekognition", REGION).add_auth(
        request
    )
    answer = requests.post(rekognition.endpoint, data=b"{}", headers=dict(request.headers), timeout=30)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert answer.json()["__type"] == "UnknownOperationException"


def test_wrong_secret_unknown_key_and_unsigned_are_refused(rekognition: RekognitionService) -> None:
    tenant = rekognition.tenant_a
    secret = tenant.secret_access_key
    # Another last character, always: "x" in place of an "x" (1 secret in 64) was the right one.
    wrong = rekognition.client(aws_secret_access_key=secret[:-1] + ("y" if secret.endswith("x") else "x"))
    assert error_code(wrong.list_collections) == ("InvalidSignatureException", 403)
    unknown = rekognition.client(aws_access_key_id="FFAKNOSUCHKEY0000000")
    assert error_code(unknown.list_collections) == ("UnrecognizedClientException", 403)
    answer = requests.post(
        rekognition.endpoint,
        data=b"{}",
        headers={
            "X-Amz-Target": "RekognitionService.ListCollections",
            "Content-Type": "application/x-amz-json-1.1",
        },
        timeout=30,
    )
    assert answer.status_code == 403 and answer.json()["__type"] == "MissingAuthenticationTokenException"


def test_a_tampered_body_fails_the_signature(rekognition: RekognitionService) -> None:
    client = rekognition.client()

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"MaxResults", b"MaxResults ")

    client.meta.events.register("before-send.rekognition.ListCollections", tamper)
    assert error_code(client.list_collections, MaxResults=3) == ("InvalidSignatureException", 403)


def test_requests_older_than_fifteen_minutes_are_refused(rekognition: RekognitionService) -> None:
    client = rekognition.client()
    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=16)
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
        code, status = error_code(client.list_collections)
    assert (code, status) == ("InvalidSignatureException", 403)
    fresh = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=14)
    with mock.patch("botocore.auth.get_current_datetime", return_value=fresh):
        assert "CollectionIds" in client.list_collections()


def test_revoked_key_is_refused(rekognition: RekognitionService) -> None:
    admin = requests.Session()
    admin.headers["X-Auth-Token"] = ADMIN_TOKEN
    base = f"{rekognition.url}/v1/admin/projects/{rekognition.tenant_a.project_id}/access-keys"
    created = admin.post(base, json={"label": "to revoke"}, timeout=30)
    assert created.status_code == 201, created.text
    pair = created.json()
    client = rekognition.client(
        aws_access_key_id=pair["access_key_id"], aws_secret_access_key=pair["secret_access_key"]
    )
    assert "CollectionIds" in client.list_collections()
    listed = admin.get(base, timeout=30).json()["access_keys"]
    assert pair["access_key_id"] in {key["access_key_id"] for key in listed}
    assert all("secret" not in name for key in listed for name in key)
    assert admin.delete(f"{base}/{pair['access_key_id']}", timeout=30).status_code == 200
    assert error_code(client.list_collections) == ("UnrecognizedClientException", 403)
    # A project's own API key may not mint access keys: only the operator may.
    own = requests.post(base, headers={"X-Auth-Token": rekognition.tenant_a.api_key}, timeout=30)
    assert own.status_code == 403
    missing = admin.post(f"{rekognition.url}/v1/admin/projects/nosuchproject/access-keys", timeout=30)
    assert missing.status_code == 404


def test_secrets_are_encrypted_at_rest(rekognition: RekognitionService) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(rekognition.settings.database.url)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT secret_encrypted FROM rekognition_access_keys WHERE id = :id"),
            {"id": rekognition.tenant_a.access_key_id},
        ).scalar_one()
    engine.dispose()
    assert rekognition.tenant_a.secret_access_key not in stored
    log = rekognition.stack.worker_log()
    assert rekognition.tenant_a.secret_access_key not in log


def test_another_projects_collection_is_not_found(rekognition: RekognitionService, collection: str) -> None:
    other = rekognition.client(rekognition.tenant_b)
    assert error_code(other.describe_collection, CollectionId=collection) == (
        "ResourceNotFoundException",
        400,
    )
    assert error_code(other.delete_collection, CollectionId=collection) == ("ResourceNotFoundException", 400)
    assert collection not in other.list_collections()["CollectionIds"]
    # The same id in the other project is its own, separate collection.
    other.create_collection(CollectionId=collection)
    assert other.describe_collection(CollectionId=collection)["FaceCount"] == 0
    other.delete_collection(CollectionId=collection)


def test_metrics_count_each_operation(rekognition: RekognitionService, rek: Any) -> None:
    rek.list_collections()
    exposition = requests.get(f"{rekognition.url}/metrics", headers={"X-Auth-Token": ADMIN_TOKEN}, timeout=30).text
    assert 'route="/rekognition#ListCollections"' in exposition
