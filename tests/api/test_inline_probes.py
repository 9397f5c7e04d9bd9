"""Small sync probes ride in the task message (api/probes.py); everything else is stored.

Each test re-encodes a real photo with a unique crop, so its content key is its own and
"is it in the store?" answers for this request only.
"""

from __future__ import annotations

import base64
import io
import itertools
from typing import Any

import pytest
from PIL import Image

from infra.object_store import content_key
from tests.api.conftest import ApiStack, unique
from tests.api.photos import OBAMA, OBAMA_SMALL
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]

_crops = itertools.count(1)


def fresh_photo(source: Any = OBAMA_SMALL, width: int | None = None) -> bytes:
    image = Image.open(source).convert("RGB")
    if width is not None:
        image = image.resize((width, int(width * image.height / image.width)))
    shift = next(_crops)
    image = image.crop((shift % 7, shift // 7, image.width, image.height))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def detect(client: ProjectClient, data: bytes, **headers: str) -> Any:
    return client.call(
        "POST", "/face-detect", data={"image_file": (io.BytesIO(data), "probe.jpg")},
        content_type="multipart/form-data", headers=headers,
    )


def test_a_small_sync_detect_never_touches_the_store(api: ApiStack, client: ProjectClient) -> None:
    probe = fresh_photo()
    assert len(probe) <= api.settings.inline_probe_limit()
    response = detect(client, probe)
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["faces"]) == 1
    assert not api.store().exists(content_key(probe))
    # base64 takes the same path
    other = fresh_photo()
    by_text = client.call("POST", "/face-detect", json={"image_base64": base64.b64encode(other).decode()})
    assert by_text.status_code == 200 and len(by_text.get_json()["faces"]) == 1
    assert not api.store().exists(content_key(other))


def test_small_sync_search_and_compare_probes_stay_out_of_the_store(api: ApiStack, client: ProjectClient) -> None:
    name = unique("inline")
    client.create_face_set(name)
    assert client.add_face(name, OBAMA).status_code == 200
    probe, second = fresh_photo(), fresh_photo()
    form = {"image_file": (io.BytesIO(probe), "probe.jpg")}
    hits = client.ok("POST", f"/face-sets/{name}/search", data=form, content_type="multipart/form-data")["faces"]
    assert len(hits) == 1 and hits[0]["similarity"] > 0.5
    compared = client.ok(
        "POST", "/face-compare",
        json={"image1_base64": base64.b64encode(probe).decode(), "image2_base64": base64.b64encode(second).decode()},
    )
    assert compared["similarity"] > 0.5
    assert not any(api.store().exists(content_key(data)) for data in (probe, second))


def test_enrolled_async_and_large_images_are_stored(api: ApiStack, client: ProjectClient) -> None:
    name = unique("stored")
    client.create_face_set(name)
    enrolled = fresh_photo()
    added = client.call(
        "POST", f"/face-sets/{name}/faces", data={"image_file": (io.BytesIO(enrolled), "face.jpg")},
        content_type="multipart/form-data",
    )
    assert added.status_code == 200, added.get_json()
    assert api.store().exists(content_key(enrolled))

    # A 202's job may be re-sent from its row, so its probe is stored (under the request's
    # own probes/ key, api.images) and read from the store; it is deleted once the job is done.
    later = fresh_photo()
    accepted = detect(client, later, Prefer="respond-async")
    assert accepted.status_code == 202
    assert len(client.wait_job(accepted.get_json()["job_id"])["result"]["faces"]) == 1
    assert not api.store().exists(content_key(later)), "a probe never lands in the shared images/ area"

    large = fresh_photo(OBAMA, width=3000)
    assert len(large) > api.settings.inline_probe_limit()
    response = detect(client, large)
    assert response.status_code == 200 and len(response.get_json()["faces"]) == 1
    assert not api.store().exists(content_key(large))
