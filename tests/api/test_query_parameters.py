"""Native endpoints refuse a query parameter they do not know (a typo must not silently
widen a list or an erasure); a zip batch takes its options from the query; file stems
that repeat across folders get distinct external_image_ids."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.api.conftest import error_of, unique
from tests.api.photos import GUIDO, OBAMA_SMALL, WOZNIAK
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]


@pytest.mark.parametrize(
    ("method", "path", "parameter"),
    [
        ("GET", "/face-sets/{set}/faces", "user_ids"),
        ("GET", "/face-sets/{set}/persons", "page"),
        ("GET", "/face-sets", "name"),
        ("GET", "/face-sets/{set}", "verbose"),
        ("DELETE", "/face-sets/{set}/faces", "user_id"),
        ("GET", "/jobs/0123", "wait"),
        ("GET", "/webhook", "secret"),
    ],
)
def test_an_unknown_query_parameter_is_named_in_a_400(
    client: ProjectClient, face_set: str, method: str, path: str, parameter: str
) -> None:
    response = client.call(method, path.format(set=face_set), query_string={parameter: "x"})
    assert parameter in error_of(response, 400, "FRS.0100")["error_msg"]


def test_known_parameters_still_work(client: ProjectClient, face_set: str) -> None:
    assert client.call("GET", f"/face-sets/{face_set}/faces", query_string={"offset": 0, "limit": 5}).status_code == 200
    assert client.call("GET", f"/face-sets/{face_set}/faces", query_string={"user_id": "x"}).status_code == 200


def test_a_zip_body_takes_its_options_from_the_query_and_repeated_stems_stay_distinct(client: ProjectClient) -> None:
    name = unique("zipq")
    client.create_face_set(name)
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zipped:
        zipped.writestr("woz/aligned_1.jpg", WOZNIAK.read_bytes())
        zipped.writestr("guido/aligned_1.jpg", GUIDO.read_bytes())
        zipped.writestr("obama/portrait.jpg", OBAMA_SMALL.read_bytes())
    accepted = client.call(
        "POST",
        f"/face-sets/{name}/faces/batch",
        data=raw.getvalue(),
        content_type="application/zip",
        query_string={"user_id_from": "folder"},
    )
    assert accepted.status_code == 202, accepted.get_json()
    job = client.wait_job(accepted.get_json()["job_id"], timeout=180)
    assert job["status"] == "succeeded", job
    items = {item["source"]: item for item in job["result"]["items"]}
    assert items["woz/aligned_1.jpg"]["faces"][0]["user_id"] == "woz"
    assert items["guido/aligned_1.jpg"]["faces"][0]["user_id"] == "guido"
    ids = [items[source]["external_image_id"] for source in ("woz/aligned_1.jpg", "guido/aligned_1.jpg")]
    assert len(set(ids)) == 2 and all(value.startswith("aligned_1_") for value in ids)
    assert items["obama/portrait.jpg"]["external_image_id"] == "portrait"

    multipart = client.call(
        "POST",
        f"/face-sets/{name}/faces/batch",
        data={"image_file": (io.BytesIO(WOZNIAK.read_bytes()), "w.jpg")},
        content_type="multipart/form-data",
        query_string={"user_id_from": "folder"},
    )
    assert "user_id_from" in error_of(multipart, 400, "FRS.0100")["error_msg"]
    error_of(
        client.call("POST", f"/face-sets/{name}/faces/batch", data=raw.getvalue(), content_type="application/zip",
                    query_string={"user_id_from": "nonsense"}),
        400,
        "FRS.0100",
    )
