"""One scripted flow with the AWS CLI from PyPI (its own botocore, its own signer)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.rekognition.conftest import HOPKINS, REGION, ROB, RekognitionService, photo, unique

pytestmark = [pytest.mark.integration, pytest.mark.model]


def aws(rekognition: RekognitionService, tmp_path: Path, *args: str, expect_ok: bool = True) -> Any:
    tenant = rekognition.tenant_a
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": tenant.access_key_id,
        "AWS_SECRET_ACCESS_KEY": tenant.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
    }
    cli = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
    done = subprocess.run(
        [cli, "rekognition", *args, "--endpoint-url", rekognition.endpoint, "--output", "json"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if not expect_ok:
        assert done.returncode != 0
        return done.stderr
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_aws_cli_flow(rekognition: RekognitionService, tmp_path: Path) -> None:
    collection = unique("cli")
    created = aws(rekognition, tmp_path, "create-collection", "--collection-id", collection)
    assert created["StatusCode"] == 200
    assert collection in aws(rekognition, tmp_path, "list-collections")["CollectionIds"]
    indexed = aws(
        rekognition,
        tmp_path,
        "index-faces",
        "--collection-id",
        collection,
        "--image-bytes",
        f"fileb://{photo(ROB, 0)}",
        "--external-image-id",
        "rob",
    )
    rob_face = indexed["FaceRecords"][0]["Face"]["FaceId"]
    aws(
        rekognition,
        tmp_path,
        "index-faces",
        "--collection-id",
        collection,
        "--image-bytes",
        f"fileb://{photo(HOPKINS, 0)}",
    )
    found = aws(
        rekognition,
        tmp_path,
        "search-faces-by-image",
        "--collection-id",
        collection,
        "--image-bytes",
        f"fileb://{photo(ROB, 1)}",
    )
    assert [match["Face"]["FaceId"] for match in found["FaceMatches"]] == [rob_face]
    listed = aws(rekognition, tmp_path, "list-faces", "--collection-id", collection, "--page-size", "1")
    assert len(listed["Faces"]) == 2  # the CLI follows NextToken itself
    missing = aws(
        rekognition, tmp_path, "describe-collection", "--collection-id", unique("none"), expect_ok=False
    )
    assert "ResourceNotFoundException" in missing
    assert aws(rekognition, tmp_path, "delete-collection", "--collection-id", collection)["StatusCode"] == 200
