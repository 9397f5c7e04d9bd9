"""Hypothesis-generated hostile bodies for every Rekognition operation, signed by a valid
access key: never a 5xx, always AWS's JSON error shape (``__type`` + ``message``) or a JSON
object, and a refusal adds no face and no collection. ``FUZZ_EXAMPLES`` per operation
(6 by default); ``make fuzz`` repeats rounds for ``FUZZ_SECONDS``."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from api.rekognition import OPERATIONS
from tests.rekognition.conftest import ROB, RekognitionService, Tenant, photo, unique
from tests.security.dialect_catalog import text_values

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
SECONDS = float(os.environ.get("FUZZ_SECONDS", "0"))  # `make fuzz`: rounds of fresh examples until then
PARAMETERS = ("CollectionId", "FaceIds", "FaceId", "UserId", "ExternalImageId", "MaxResults", "MaxFaces", "MaxUsers",
              "NextToken", "FaceMatchThreshold", "UserMatchThreshold", "SimilarityThreshold", "QualityFilter",
              "ClientRequestToken", "DetectionAttributes", "Image", "SourceImage", "TargetImage")


def values(real_photo: bytes) -> st.SearchStrategy[Any]:
    scalars = st.one_of(text_values(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.booleans(), st.none())
    images = st.one_of(
        st.binary(max_size=64).map(lambda data: {"Bytes": base64.b64encode(data).decode()}),
        st.just({"Bytes": base64.b64encode(real_photo).decode()}),
        st.fixed_dictionaries({"S3Object": st.fixed_dictionaries({"Bucket": text_values(), "Name": text_values()})}),
    )
    return st.one_of(scalars, images, st.lists(scalars, max_size=5), st.just("coll-fuzz"))


def written(rekognition: RekognitionService, database: Any) -> tuple[int, ...]:
    with database.session() as session:
        return tuple(int(session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in ("face_sets", "faces"))


def test_generated_rekognition_calls_get_aws_error_shapes(rekognition: RekognitionService) -> None:
    from api.app import create_app

    api = rekognition.settings.api.model_copy(update={"rate_limit_per_minute": 0})
    app = create_app(rekognition.settings.model_copy(update={"api": api}))
    http, database = app.test_client(), app.extensions["facefleet"].database
    from facefleet.access_keys import create_access_key
    from facefleet.admin import create_project

    small_photo = photo(ROB, 0).read_bytes()
    # A project of its own, with one collection that generated calls can reach.
    project = create_project(rekognition.settings, unique("fuzz"))
    issued = create_access_key(rekognition.settings, project.project_id)
    tenant = Tenant(project.project_id, project.api_key, issued.id, issued.secret)
    client = rekognition.client(tenant)
    client.create_collection(CollectionId="coll-fuzz")
    client.index_faces(CollectionId="coll-fuzz", Image={"Bytes": small_photo})
    problems: list[str] = []
    answered: set[tuple[str, int, str]] = set()
    calls = [0]

    def exercise(operation: str) -> None:
        @given(body=st.dictionaries(st.sampled_from(PARAMETERS), values(small_photo), max_size=5))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not SECONDS,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            headers = signed_for(tenant, raw, operation)
            before = written(rekognition, database)
            calls[0] += 1
            response = http.post("/rekognition", data=raw, headers=headers)
            answer = json.loads(response.get_data() or b"null")
            kind = answer.get("__type", "ok") if isinstance(answer, dict) else "not-json"
            answered.add((operation, response.status_code, kind))
            if response.status_code >= 500 or not isinstance(answer, dict):
                problems.append(f"{operation} {raw[:200]!r} -> {response.status_code} {str(answer)[:200]}")
            elif response.status_code >= 400:
                if not isinstance(answer.get("message"), str):
                    problems.append(f"{operation} -> {response.status_code} without a message: {answer}")
                if written(rekognition, database) != before:
                    problems.append(f"{operation} {raw[:200]!r} -> {kind} but wrote something")

        run()

    deadline = time.monotonic() + SECONDS
    while True:
        for operation in OPERATIONS:
            exercise(operation)
        if time.monotonic() >= deadline:
            break
    report = os.environ.get("FUZZ_REPORT")
    if report:
        Path(report + ".rekognition.json").write_text(json.dumps({
            "surface": "rekognition", "seconds": SECONDS, "requests": calls[0], "pairs": len(answered),
            "problems": len(problems), "classes": sorted(f"{a} {b} {c}" for a, b, c in answered),
        }, indent=1))
    assert not problems, "\n".join(problems[:20])
    assert {operation for operation, _, _ in answered} == set(OPERATIONS)


def signed_for(tenant: Tenant, raw: bytes, operation: str) -> dict[str, str]:
    """SigV4 headers for ``operation`` (the target header is part of the signature)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.rekognition.conftest import REGION

    request = AWSRequest(
        method="POST", url="http://localhost/rekognition", data=raw,
        headers={"X-Amz-Target": "RekognitionService." + operation, "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(tenant.access_key_id, tenant.secret_access_key), "rekognition", REGION).add_auth(request)
    return dict(request.headers.items())
