"""``FacePipeline.prepared``: a photo's scaled-down copy for detection, made ahead of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from pipelines.engine import FacePipeline
from pipelines.types import DecodedImage

pytestmark = pytest.mark.model

LARGE = "_misc/multi_face/deepface__couple.jpg"
SMALL = "_misc/multi_face/dlib__2008_001009.jpg"


def test_a_prepared_photo_is_detected_on_its_copy_with_the_same_faces(
    default_pipeline: FacePipeline, load_photo: Callable[[str], DecodedImage]
) -> None:
    image = load_photo(LARGE)
    limit = default_pipeline.detection_max_side
    assert limit is not None and max(image.width, image.height) > limit

    prepared = default_pipeline.prepared(image)

    assert prepared.detection_copy is not None and max(prepared.detection_copy.shape[:2]) == limit
    assert prepared.pixels is image.pixels and prepared == image
    faces = default_pipeline.detect(image)
    assert len(faces) == 2 and default_pipeline.detect(prepared) == faces
    # The detector sees the copy, not a second scaling of the photo: a blank copy shows nothing.
    blank = replace(prepared, detection_copy=np.zeros_like(prepared.detection_copy))
    assert default_pipeline.detect(blank) == []
    assert default_pipeline.process(blank) == []  # process detects on the copy too
    # A copy made for another limit (another pipeline's) is not used.
    other_size = replace(prepared, detection_copy=np.zeros((limit // 2, limit // 2, 3), np.uint8))
    assert default_pipeline.detect(other_size) == faces


def test_a_photo_within_the_limit_gets_no_copy(
    default_pipeline: FacePipeline, load_photo: Callable[[str], DecodedImage]
) -> None:
    image = load_photo(SMALL)
    assert default_pipeline.prepared(image) is image
