"""/live-detect speaks the contract's names: an action requested as mouth_open is reported
as mouth_open, and a video without a face answers the documented FRS.0501."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import error_of
from tests.api.photos import NO_FACE
from tests.support.client import ProjectClient
from tests.support.liveness_clips import looped_photo, write_clip
from tests.support.photos import FACES

pytestmark = [pytest.mark.integration, pytest.mark.model]

TALKING = FACES.parent / "videos" / "sadtalker" / "WDA_AlexandriaOcasioCortez_000.mp4"


def test_actions_are_reported_by_their_requested_names(client: ProjectClient) -> None:
    response = client.call(
        "POST",
        "/live-detect",
        data={"video_file": (TALKING.open("rb"), TALKING.name), "actions": "mouth_open"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert [verdict["action"] for verdict in response.get_json()["actions"]] == ["mouth_open"]


def test_a_video_without_a_face_is_frs_0501(client: ProjectClient, tmp_path: Path) -> None:
    landscape = np.asarray(Image.open(NO_FACE).convert("RGB").resize((320, 240)))
    clip = write_clip(
        tmp_path / "view.avi", looped_photo(landscape, seconds=2, fps=10), fps=10, fourcc="MJPG"
    )
    response = client.call(
        "POST",
        "/live-detect",
        data={"video_file": (io.BytesIO(clip), "view.avi"), "actions": "blink"},
        content_type="multipart/form-data",
    )
    error_of(response, 400, "FRS.0501")
