"""A face set's own calibration from its user ids, and search by a target false-accept rate.

The set is enrolled from the shared persons (9 named deepface identities, 41 photos: 98
genuine and 722 impostor pairs), so FAR 1e-2 is supported and 1e-3 and 1e-4 are not. The
FAR at the returned threshold is re-measured on those pairs from the service's own search
distances (every face probed against every other), not from the calibration's numbers."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ApiStack, error_of, unique
from tests.support.client import ProjectClient
from tests.support.photos import FACES

pytestmark = [pytest.mark.integration, pytest.mark.model]

PERSONS = ["angelina", "jennifer", "mark", "jack", "elon", "jeff", "scarlett", "marissa", "sundar"]


@pytest.fixture(scope="module")
def calibrated_set(api: ApiStack) -> tuple[str, dict[str, str]]:
    """The face set's name and face id → user id."""
    client = api.client
    name = unique("calib")
    client.create_face_set(name)
    owners: dict[str, str] = {}
    for person in PERSONS:
        for photo in sorted((FACES / f"deepface-{person}").iterdir()):
            response = client.add_face(name, photo, external_image_id=photo.stem, user_id=person)
            assert response.status_code == 200, response.get_json()
            for face in response.get_json()["faces"]:
                owners[face["face_id"]] = person
    return name, owners


def _pair_distances(
    client: ProjectClient, name: str, owners: dict[str, str]
) -> dict[frozenset[str], tuple[float, bool]]:
    pairs: dict[frozenset[str], tuple[float, bool]] = {}
    for face_id, person in owners.items():
        found = client.search(name, face_id=face_id, top_n=len(owners))["faces"]
        for hit in found:
            if hit["face_id"] != face_id:
                pairs[frozenset((face_id, hit["face_id"]))] = (
                    hit["distance"],
                    owners[hit["face_id"]] == person,
                )
    return pairs


def test_calibration_thresholds_hold_their_false_accept_rate(
    client: ProjectClient, calibrated_set: tuple[str, dict[str, str]]
) -> None:
    name, owners = calibrated_set
    body: dict[str, Any] = client.ok("GET", f"/face-sets/{name}/calibration")

    n = len(owners)
    genuine = sum(1 for a, b in itertools.combinations(owners.values(), 2) if a == b)
    assert body["model_id"] == "dlib-resnet-flip-v1" and body["labelled_faces"] == n == 41
    assert body["persons"] == len(PERSONS)
    assert (body["genuine_pairs"], body["impostor_pairs"]) == (genuine, n * (n - 1) // 2 - genuine)
    by_far = {row["far"]: row for row in body["thresholds"]}
    assert by_far[0.001]["status"] == by_far[0.0001]["status"] == "not enough data"
    assert by_far[0.001]["distance"] is None
    supported = by_far[0.01]
    assert supported["status"] == "ok" and supported["impostor_pairs"] == body["impostor_pairs"]

    pairs = _pair_distances(client, name, owners)
    assert len(pairs) == n * (n - 1) // 2
    impostors = [d for d, same in pairs.values() if not same]
    remeasured = sum(d <= supported["distance"] for d in impostors) / len(impostors)
    assert remeasured <= 0.01
    assert remeasured == pytest.approx(supported["measured_far"], abs=1e-9)
    frr = sum(d > supported["distance"] for d, same in pairs.values() if same) / genuine
    assert frr == pytest.approx(supported["frr"], abs=1e-9)
    roc = body["roc"]
    assert len(roc) == 101 and roc[0]["far"] <= roc[-1]["far"] and roc[0]["frr"] >= roc[-1]["frr"]

    svg = client.call("GET", f"/face-sets/{name}/calibration", query_string={"format": "svg"})
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.get_data(as_text=True).startswith("<svg") and "<polyline" in svg.get_data(as_text=True)
    # The document names both media types the 200 can carry (a conformance check found the
    # picture served under a 200 documented as JSON only).
    document = client.http.get("/v1/openapi.json").get_json()
    route = document["paths"]["/v1/{project_id}/face-sets/{face_set_name}/calibration"]
    ok = route["get"]["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "image/svg+xml"}
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CalibrationResult"}

    # search by FAR: every hit within the set's threshold; unsupported rates are refused
    probe = next(iter(owners))
    hits = client.search(name, face_id=probe, top_n=50, far=0.01)
    assert hits["far_distance"] == pytest.approx(supported["distance"])
    assert all(hit["distance"] <= supported["distance"] for hit in hits["faces"])
    refused = client.call("POST", f"/face-sets/{name}/search", json={"face_id": probe, "far": 0.001})
    error_of(refused, 400, "FRS.0100")
    both = client.call(
        "POST", f"/face-sets/{name}/search", json={"face_id": probe, "far": 0.01, "threshold": 0.5}
    )
    error_of(both, 400, "FRS.0100")


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def test_compare_by_far_uses_the_named_face_sets_calibration(
    client: ProjectClient, calibrated_set: tuple[str, dict[str, str]]
) -> None:
    name, _ = calibrated_set
    calibration = client.ok("GET", f"/face-sets/{name}/calibration")
    supported = next(row for row in calibration["thresholds"] if row["far"] == 0.01)
    first, second = sorted((FACES / "deepface-angelina").iterdir())[:2]
    stranger = min((FACES / "deepface-mark").iterdir())

    same = client.ok(
        "POST",
        "/face-compare",
        json={
            "image1_base64": _b64(first),
            "image2_base64": _b64(second),
            "far": 0.01,
            "face_set_name": name,
        },
    )
    other = client.ok(
        "POST",
        "/face-compare",
        json={
            "image1_base64": _b64(first),
            "image2_base64": _b64(stranger),
            "far": 0.01,
            "face_set_name": name,
        },
    )
    for body in (same, other):
        # embedded with the set's own model, whose distances the threshold was measured on
        assert body["model_id"] == calibration["model_id"]
        assert body["far_distance"] == pytest.approx(supported["distance"])
        assert body["matched"] is (body["distance"] <= body["far_distance"])
    assert same["matched"] is True and other["matched"] is False

    # without far the answer is as before: no far_distance, no matched
    plain = client.ok(
        "POST", "/face-compare", json={"image1_base64": _b64(first), "image2_base64": _b64(second)}
    )
    assert "far_distance" not in plain and "matched" not in plain

    images = {"image1_base64": _b64(first), "image2_base64": _b64(second)}
    # the same refusals as search: a rate the set's pairs cannot support, a rate out of (0, 1)
    error_of(
        client.call("POST", "/face-compare", json={**images, "far": 0.001, "face_set_name": name}),
        400,
        "FRS.0100",
    )
    error_of(
        client.call("POST", "/face-compare", json={**images, "far": 1.5, "face_set_name": name}),
        400,
        "FRS.0100",
    )
    # far needs the face set that calibrates it, and a face set alone means nothing
    error_of(client.call("POST", "/face-compare", json={**images, "far": 0.01}), 400, "FRS.0100")
    error_of(client.call("POST", "/face-compare", json={**images, "face_set_name": name}), 400, "FRS.0100")
    error_of(
        client.call("POST", "/face-compare", json={**images, "far": 0.01, "face_set_name": "nope_missing"}),
        404,
        "FRS.0210",
    )


def test_a_set_without_user_ids_has_no_supported_threshold(client: ProjectClient) -> None:
    name = unique("calib")
    client.create_face_set(name)
    body = client.ok("GET", f"/face-sets/{name}/calibration")
    assert body["labelled_faces"] == 0 and body["genuine_pairs"] == body["impostor_pairs"] == 0
    assert all(row["status"] == "not enough data" for row in body["thresholds"])
    error_of(client.call("GET", "/face-sets/nope_missing/calibration"), 404, "FRS.0210")
