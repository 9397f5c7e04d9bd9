"""A job still running at ``jobs.sync_wait_seconds`` answers ThrottlingException (500, which
the SDK's standard retry mode retries), never a hang."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from infra.settings import JobSettings
from tests.rekognition.conftest import REGION, ROB, RekognitionService, image, photo

pytestmark = [pytest.mark.integration, pytest.mark.model]


def test_a_job_past_the_sync_deadline_is_throttling(rekognition: RekognitionService) -> None:
    from api.app import create_app

    impatient = rekognition.settings.model_copy(update={"jobs": JobSettings(sync_wait_seconds=0.0)})
    server = make_server("127.0.0.1", 0, create_app(impatient), threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        tenant = rekognition.tenant_a
        client: Any = boto3.client(
            "rekognition",
            endpoint_url=f"http://127.0.0.1:{server.server_port}/rekognition",
            region_name=REGION,
            aws_access_key_id=tenant.access_key_id,
            aws_secret_access_key=tenant.secret_access_key,
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        with pytest.raises(ClientError) as raised:
            client.detect_faces(Image=image(photo(ROB, 0)))
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    finally:
        server.shutdown()
        serving.join(timeout=10)


def _served_client(rekognition: RekognitionService, settings: Any) -> tuple[Any, Any]:
    from api.app import create_app

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tenant = rekognition.tenant_a
    client = boto3.client(
        "rekognition",
        endpoint_url=f"http://127.0.0.1:{server.server_port}/rekognition",
        region_name=REGION,
        aws_access_key_id=tenant.access_key_id,
        aws_secret_access_key=tenant.secret_access_key,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    return server, client


def test_the_keys_rate_limit_is_provisioned_throughput_exceeded(rekognition: RekognitionService) -> None:
    limited = rekognition.settings.model_copy(
        update={"api": rekognition.settings.api.model_copy(update={"rate_limit_per_minute": 2})}
    )
    server, client = _served_client(rekognition, limited)
    try:
        client.list_collections()
        client.list_collections()
        with pytest.raises(ClientError) as raised:
            client.list_collections()
        assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        # Another key has its own bucket.
        other: Any = boto3.client(
            "rekognition",
            endpoint_url=client.meta.endpoint_url,
            region_name=REGION,
            aws_access_key_id=rekognition.tenant_b.access_key_id,
            aws_secret_access_key=rekognition.tenant_b.secret_access_key,
        )
        assert "CollectionIds" in other.list_collections()
    finally:
        server.shutdown()


def test_an_oversized_body_is_refused_before_it_is_read(rekognition: RekognitionService) -> None:
    answer = requests.post(
        rekognition.endpoint,
        data=b"{" + b" " * (17 * 1024 * 1024) + b"}",
        headers={
            "X-Amz-Target": "RekognitionService.DetectFaces",
            "Content-Type": "application/x-amz-json-1.1",
        },
        timeout=60,
    )
    assert answer.status_code == 400 and answer.json()["__type"] == "ImageTooLargeException"
