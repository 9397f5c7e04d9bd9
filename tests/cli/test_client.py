"""The Python client: image inputs, typed errors, retries with one idempotency key, and the
streamed multipart body."""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from facefleet.client import FaceFleet, NotFound, Unavailable
from facefleet.client.multipart import StreamingMultipart
from tests.cli.conftest import Service
from tests.support.photos import identity_photos

WOZ = "face_recognition-steve_wozniak"


@pytest.mark.model
@pytest.mark.integration
def test_every_kind_of_image_input_finds_the_same_face(service: Service) -> None:
    client = FaceFleet(service.url, service.project_id, service.api_key)
    photo = identity_photos(WOZ)[0]
    pil = Image.open(photo).convert("RGB")
    boxes = []
    for image in (photo, str(photo), photo.read_bytes(), pil, np.asarray(pil)):
        faces = client.detect(image)["faces"]
        assert len(faces) == 1, type(image)
        boxes.append(faces[0]["bounding_box"])
    # A lossless PNG of the decoded pixels finds the box within a pixel or two of the JPEG's.
    for box in boxes[1:]:
        assert all(abs(box[k] - boxes[0][k]) <= 2 for k in ("top_left_x", "top_left_y", "width", "height"))


@pytest.mark.integration
def test_errors_are_typed_and_carry_the_api_code(service: Service) -> None:
    client = FaceFleet(service.url, service.project_id, service.api_key)
    with pytest.raises(NotFound) as missing:
        client.face_set(f"absent_{uuid.uuid4().hex[:6]}")
    assert missing.value.status == 404 and missing.value.code.startswith("FRS.")
    with pytest.raises(Exception) as refused:
        FaceFleet(service.url, service.project_id, "not-a-key").face_sets()
    assert getattr(refused.value, "status", None) == 401


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server that answers 503 twice, then 200, recording what it received."""
    seen: list[dict[str, Any]] = []

    @Request.application  # type: ignore[misc]
    def app(request: Request) -> Response:
        seen.append({"key": request.headers.get("Idempotency-Key"), "body": request.get_data()})
        if len(seen) <= 2:
            return Response(
                '{"error_code": "FRS.0503", "error_msg": "busy"}', 503, mimetype="application/json"
            )
        return Response('{"face_set_info": {"face_set_name": "x"}}', 200, mimetype="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()


def test_retries_after_503_with_backoff_and_one_idempotency_key(
    flaky_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = flaky_server
    client = FaceFleet(url, "p", "k", backoff=0.01)
    assert client.create_face_set("x")["face_set_name"] == "x"
    assert len(seen) == 3 and len({call["key"] for call in seen}) == 1 and seen[0]["key"]

    seen.clear()
    with pytest.raises(Unavailable) as gave_up:
        FaceFleet(url, "p", "k", retries=1, backoff=0.01).create_face_set("x")
    assert gave_up.value.code == "FRS.0503" and len(seen) == 2


def test_streamed_multipart_body_is_exactly_its_declared_length_and_parses(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8" + bytes(range(256)) * 4000)
    body = StreamingMultipart(
        {"select": "largest"}, [("image_file", "a.jpg", photo), ("image_file", "b.jpg", b"xyz")]
    )
    raw = b"".join(body)
    assert len(raw) == len(body) and b"".join(body) == raw  # a retry sends the same bytes again
    request = Request.from_values(
        input_stream=io.BytesIO(raw), content_length=len(raw), content_type=body.content_type
    )
    uploads = request.files.getlist("image_file")
    assert request.form["select"] == "largest"
    assert [u.filename for u in uploads] == ["a.jpg", "b.jpg"]
    assert uploads[0].read() == photo.read_bytes() and uploads[1].read() == b"xyz"


@pytest.mark.model
@pytest.mark.integration
def test_a_zip_enrolls_with_folder_user_ids_and_a_filter_deletes_by_field(
    service: Service, tmp_path: Path
) -> None:
    import zipfile

    client = FaceFleet(service.url, service.project_id, service.api_key)
    assert client.health()["readyz"] == 200
    name = f"zip_{uuid.uuid4().hex[:6]}"
    client.create_face_set(name, external_fields={"team": "string"})
    archive = tmp_path / "people.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for photo in identity_photos(WOZ)[:2]:
            bundle.write(photo, f"woz/{photo.name}")
    progress: list[tuple[int, int]] = []
    report = client.enroll_archive(name, archive, select="largest").wait(
        progress=lambda *p: progress.append(p)
    )
    assert [item["status"] for item in report["items"]] == ["added", "added"]
    assert progress and progress[-1] == (2, 2)
    assert {face.get("user_id") for face in client.faces(name)["faces"]} == {"woz"}

    client.add_faces(name, identity_photos(WOZ)[2], external_fields={"team": "ops"}, select="largest")
    assert client.face_set(name)["face_number"] == 3
    client.delete_faces_by_filter(name, "team:ops")
    assert client.face_set(name)["face_number"] == 2
