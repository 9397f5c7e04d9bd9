"""The Rekognition endpoint on the distributed stores: PostgreSQL, RabbitMQ and an S3 server
(moto, which also serves the client's S3Object bucket), one real worker, real boto3."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.fernet import Fernet
from pydantic import SecretStr
from werkzeug.serving import make_server

from infra.settings import BrokerSettings, DatabaseSettings, JobSettings, RekognitionSettings
from tests.conftest import S3Server
from tests.rekognition.conftest import HOPKINS, REGION, ROB, image, photo
from tests.support.stack import start_stack

pytestmark = [pytest.mark.integration, pytest.mark.model]


@pytest.fixture(scope="module")
def distributed_client(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, rabbitmq_url: str, s3_server: S3Server
) -> Iterator[tuple[Any, Any, str]]:
    from api.app import create_app
    from facefleet.access_keys import create_access_key
    from facefleet.admin import create_project

    bucket = f"client-photos-{uuid.uuid4().hex[:8]}"
    s3: Any = boto3.client(
        "s3",
        endpoint_url=f"http://{s3_server.endpoint}",
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    s3.create_bucket(Bucket=bucket)
    home: Path = tmp_path_factory.mktemp("rekognition-distributed")
    overrides = {
        "jobs": JobSettings(sync_wait_seconds=60.0),
        "database": DatabaseSettings(url=postgres_url),
        "broker": BrokerSettings(url=rabbitmq_url),
        "object_store": s3_server.settings(),
        # The object store's own endpoint and credentials read the client's bucket.
        "rekognition": RekognitionSettings(
            encryption_keys=[SecretStr(Fernet.generate_key().decode())], s3_buckets=[bucket]
        ),
    }
    with start_stack(home, workers=1, **overrides) as stack:
        project = create_project(stack.settings, f"rekognition-{uuid.uuid4().hex[:8]}")
        pair = create_access_key(stack.settings, project.project_id)
        server = make_server("127.0.0.1", 0, create_app(stack.settings), threaded=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        client = boto3.client(
            "rekognition",
            endpoint_url=f"http://127.0.0.1:{server.server_port}/rekognition",
            region_name=REGION,
            aws_access_key_id=pair.id,
            aws_secret_access_key=pair.secret,
            config=Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=120),
        )
        try:
            yield client, s3, bucket
        finally:
            server.shutdown()
            serving.join(timeout=10)


def test_collection_faces_users_and_s3_on_the_distributed_stores(
    distributed_client: tuple[Any, Any, str],
) -> None:
    rek, s3, bucket = distributed_client
    collection = f"dist:{uuid.uuid4().hex[:8]}"
    rek.create_collection(CollectionId=collection)
    s3.put_object(Bucket=bucket, Key="rob.jpg", Body=photo(ROB, 0).read_bytes())
    rob = rek.index_faces(
        CollectionId=collection,
        Image={"S3Object": {"Bucket": bucket, "Name": "rob.jpg"}},
        ExternalImageId="rob",
    )["FaceRecords"][0]["Face"]["FaceId"]
    rek.index_faces(CollectionId=collection, Image=image(photo(HOPKINS, 0)), ExternalImageId="hopkins")
    rek.create_user(CollectionId=collection, UserId="rob")
    rek.associate_faces(CollectionId=collection, UserId="rob", FaceIds=[rob])

    found = rek.search_faces_by_image(CollectionId=collection, Image=image(photo(ROB, 1)))["FaceMatches"]
    assert [match["Face"]["FaceId"] for match in found] == [rob]
    assert found[0]["Face"]["UserId"] == "rob"
    users = rek.search_users_by_image(CollectionId=collection, Image=image(photo(ROB, 1)))["UserMatches"]
    assert [match["User"]["UserId"] for match in users] == ["rob"]
    assert (
        rek.search_faces_by_image(CollectionId=collection, Image=image(photo(HOPKINS, 1)))["FaceMatches"][0][
            "Face"
        ]["ExternalImageId"]
        == "hopkins"
    )
    pages = list(
        rek.get_paginator("list_faces").paginate(CollectionId=collection, PaginationConfig={"PageSize": 1})
    )
    assert len(pages) == 2
    rek.delete_collection(CollectionId=collection)
    with pytest.raises(ClientError) as gone:
        rek.describe_collection(CollectionId=collection)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
