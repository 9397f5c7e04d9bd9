"""Face sets name their embedding model: new native sets default to dlib-resnet-flip-v1,
enrollment and search use the set's model (its own vectors, threshold and calibration)."""

from __future__ import annotations

import pytest

from tests.api.conftest import ApiStack, error_of, unique
from tests.api.photos import GUIDO, OBAMA_SMALL
from tests.support.client import ProjectClient

pytestmark = [pytest.mark.integration, pytest.mark.model]


def test_new_face_sets_default_to_the_flip_model_and_may_name_another(client: ProjectClient) -> None:
    default = client.create_face_set(unique())["face_set_info"]
    assert default["model"] == "dlib-resnet-flip-v1"
    raw = client.create_face_set(unique(), model="dlib-resnet-v1")["face_set_info"]
    assert raw["model"] == "dlib-resnet-v1"
    assert client.ok("GET", f"/face-sets/{raw['face_set_name']}")["face_set_info"]["model"] == "dlib-resnet-v1"
    response = client.call("POST", "/face-sets", json={"face_set_name": unique(), "model": "no-such-model"})
    error_of(response, 400, "FRS.0100")


def test_search_uses_the_face_sets_model_vectors_and_threshold(api: ApiStack, client: ProjectClient) -> None:
    flip, raw = unique(), unique()
    client.create_face_set(flip)
    client.create_face_set(raw, model="dlib-resnet-v1")
    for name in (flip, raw):
        assert client.add_face(name, GUIDO, external_image_id="guido").status_code == 200
        assert client.add_face(name, OBAMA_SMALL, external_image_id="obama").status_code == 200

    found = {name: client.search(name, GUIDO, top_n=2) for name in (flip, raw)}

    assert found[flip]["model_id"] == "dlib-resnet-flip-v1" and found[flip]["match_distance"] == 0.558
    assert found[raw]["model_id"] == "dlib-resnet-v1" and found[raw]["match_distance"] == 0.614
    for name in (flip, raw):
        best, other = found[name]["faces"]
        assert best["external_image_id"] == "guido" and best["distance"] < 1e-4
        assert other["external_image_id"] == "obama" and other["distance"] > found[name]["match_distance"]
    # different vectors for the two models: the same stranger lies at different distances
    assert found[flip]["faces"][1]["distance"] != pytest.approx(found[raw]["faces"][1]["distance"], abs=1e-3)
