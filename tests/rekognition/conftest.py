"""One real FaceFleet stack (embedded flavour, one real worker) served over HTTP, driven
with the real boto3 Rekognition client signed by access keys of two projects; S3Object
images come from moto's S3 server (the ``s3_server`` fixture)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cryptography.fernet import Fernet
from pydantic import SecretStr
from werkzeug.serving import make_server

from infra.settings import ApiSettings, JobSettings, RekognitionSettings, Settings
from tests.support.photos import FACES, identity_photos
from tests.support.stack import Stack, start_stack

ROB = "lfw-Rob_Lowe"
HOPKINS = "lfw-Anthony_Hopkins"
TWO_PEOPLE = FACES / "_misc" / "multi_face" / "face_recognition__kit_with_rose.jpg"
NO_FACE = FACES / "_misc" / "no_face" / "mtcnn__no-faces.jpg"
REGION = "eu-west-1"
ADMIN_TOKEN = "operator-token-for-the-rekognition-tests"


def photo(identity: str, index: int = 0) -> Path:
    return identity_photos(identity)[index]


def image(path: Path) -> dict[str, bytes]:
    return {"Bytes": path.read_bytes()}


@dataclass
class Tenant:
    project_id: str
    api_key: str
    access_key_id: str
    secret_access_key: str


@dataclass
class RekognitionService:
    stack: Stack
    settings: Settings
    url: str
    endpoint: str
    tenant_a: Tenant
    tenant_b: Tenant
    allowed_bucket: str
    other_bucket: str
    s3: Any

    def client(self, tenant: Tenant | None = None, **overrides: Any) -> Any:
        tenant = tenant or self.tenant_a
        return boto3.client(
            "rekognition",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=overrides.pop("aws_access_key_id", tenant.access_key_id),
            aws_secret_access_key=overrides.pop("aws_secret_access_key", tenant.secret_access_key),
            config=Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=120),
        )


def unique(prefix: str = "coll") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def rekognition(tmp_path_factory: pytest.TempPathFactory, s3_server: Any) -> Iterator[RekognitionService]:
    from api.app import create_app
    from facefleet.access_keys import create_access_key
    from facefleet.admin import create_project

    allowed_bucket, other_bucket = f"photos-{uuid.uuid4().hex[:8]}", f"private-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{s3_server.endpoint}",
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    s3.create_bucket(Bucket=allowed_bucket)
    s3.create_bucket(Bucket=other_bucket)
    home = tmp_path_factory.mktemp("rekognition")
    rekognition_settings = RekognitionSettings(
        encryption_keys=[SecretStr(Fernet.generate_key().decode())],
        s3_buckets=[allowed_bucket],
        s3_endpoint=s3_server.endpoint,
        s3_access_key=SecretStr(s3_server.access_key),
        s3_secret_key=SecretStr(s3_server.secret_key),
        s3_secure=False,
    )
    with start_stack(
        home,
        workers=1,
        jobs=JobSettings(sync_wait_seconds=60.0),
        rekognition=rekognition_settings,
        api=ApiSettings(admin_token=SecretStr(ADMIN_TOKEN)),
    ) as stack:

        def tenant(name: str) -> Tenant:
            created = create_project(stack.settings, name)
            issued = create_access_key(stack.settings, created.project_id, "tests")
            return Tenant(created.project_id, created.api_key, issued.id, issued.secret)

        tenant_a, tenant_b = tenant("rekognition-a"), tenant("rekognition-b")
        app = create_app(stack.settings)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        serving = threading.Thread(target=server.serve_forever, name="rekognition-http", daemon=True)
        serving.start()
        url = f"http://127.0.0.1:{server.server_port}"
        try:
            yield RekognitionService(
                stack,
                stack.settings,
                url,
                url + "/rekognition",
                tenant_a,
                tenant_b,
                allowed_bucket,
                other_bucket,
                s3,
            )
        finally:
            server.shutdown()
            serving.join(timeout=10)
        for worker in list(stack.workers):
            stack.kill_worker(worker)


@pytest.fixture(scope="session")
def rek(rekognition: RekognitionService) -> Any:
    return rekognition.client()


@pytest.fixture
def collection(rek: Any) -> Iterator[str]:
    collection_id = unique()
    rek.create_collection(CollectionId=collection_id)
    yield collection_id
    rek.delete_collection(CollectionId=collection_id)
