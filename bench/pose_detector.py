"""Head pose through the worker's own detector (BlazeFace, HOG fallback) against the
AFLW2000-3D labels and the InspireFace named photos: what a client of the API gets.

    PYTHONPATH=$PWD .venv/bin/python -m bench.pose_detector

Prints one line per photo and the error summary of the faces with |yaw| <= 50 (the range
the 68-point predictor covers). docs/ANALYSIS.md ("The landmark box and profiles")
records a run before and after the HOG-refitted landmark box.
"""

from __future__ import annotations

import csv
import statistics

from bench.common import FACES, quiet_stderr
from pipelines.analysis import Attribute, FaceAnalyzer
from pipelines.catalog import build_pipeline
from tests.analysis.conftest import load_rgb

NAMED = ("left_face.jpeg", "right_face.png", "lower_face.jpeg", "rise_face.jpeg", "right_wryneck.png")


def main() -> None:
    with quiet_stderr():
        pipeline = build_pipeline()
        analyzer = FaceAnalyzer()
    rows = [
        (row["path"], {axis: float(row[f"{axis}_deg"]) for axis in ("yaw", "pitch", "roll")})
        for row in csv.DictReader((FACES / "_misc" / "pose_labels.csv").open())
    ]
    rows += [(f"_misc/pose/inspireface__{name}", {}) for name in NAMED]
    errors: dict[str, list[float]] = {"yaw": [], "pitch": [], "roll": []}
    for path, label in rows:
        image = load_rgb(FACES / path)
        faces = pipeline.detect(image, landmarks=False)
        if not faces:
            print(f"{path:48} label {label.get('yaw', '-')!s:>6}  not detected")
            continue
        face = max(faces, key=lambda found: found.box.area)
        (result,) = analyzer.analyze(image, [face], {Attribute.HEADPOSE})
        pose = result.to_dict()["headpose"]
        if pose.get("estimated", True) is False:
            print(f"{path:48} label {label.get('yaw', '-')!s:>6}  {face.detector:15} not estimated")
            continue
        print(
            f"{path:48} label {label.get('yaw', '-')!s:>6}  {face.detector:15} "
            f"yaw {pose['yaw']:6.1f} pitch {pose['pitch']:6.1f} roll {pose['roll']:6.1f}"
        )
        if label and abs(label["yaw"]) <= 50.0:
            for axis, values in errors.items():
                values.append(abs(pose[axis] - label[axis]))
    for axis, values in errors.items():
        print(
            f"{axis}: n {len(values)}  median {statistics.median(values):.1f}  "
            f"mean {statistics.mean(values):.1f}  max {max(values):.1f}"
        )


if __name__ == "__main__":
    main()
