"""Accuracy and time of every face-analysis check on the shared data, on one core.

    .venv/bin/python -m bench.analysis [--json bench/results/analysis.json]

Sections (docs/ANALYSIS.md records one run):
* head pose / direction against the AFLW2000-3D labels (_misc/pose_labels.csv);
* the quality gate: every shared identity photo as is (false rejections) and degraded
  (blur, dark, bright: is the matching reason reported?);
* gender / age on CompreFace's annotated photos, smile on InspireFace's expression photos;
* liveness on ../shared/data/videos: blinks against the machine-estimated marks, mouth
  openings, and a looped still photo; time per analysed frame.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import FACES, machine_description, pin_to_one_core, progress, quiet_stderr

import cv2  # noqa: E402  (after bench.common pins thread counts)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from pipelines.analysis import Attribute, FaceAnalyzer, QualityGate, QualityIssue  # noqa: E402
from pipelines.analysis.landmarks import LandmarkPredictor  # noqa: E402
from pipelines.analysis.pose import HeadPose, estimate_head_pose, face_direction  # noqa: E402
from pipelines.detection.dlib_detectors import HogDetector  # noqa: E402
from pipelines.liveness import Action, LivenessChecker, decode_video  # noqa: E402
from pipelines.liveness.check import LIVENESS_HOG_THRESHOLD  # noqa: E402
from pipelines.liveness.actions import find_events  # noqa: E402
from pipelines.types import DetectedFace  # noqa: E402

VIDEOS = FACES.parent / "videos"
Image_ = np.ndarray[Any, Any]
BLINK_TOLERANCE = 3
LIVENESS_CLIPS = [
    "liveportrait/d0.mp4",
    "liveportrait/d3.mp4",
    "liveportrait/d10.mp4",
    "liveportrait/d12.mp4",
    "sadtalker/WDA_KatieHill_000.mp4",
    "sadtalker/WDA_AlexandriaOcasioCortez_000.mp4",
    "eyeblink8/calibration_video_EAR4.mp4",  # 65 s, still subject: read with a 70 s limit
]


def load(path: Path, max_side: int = 1000) -> Image_:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def largest(detector: HogDetector, image: Image_) -> DetectedFace | None:
    return max(detector.detect(image), key=lambda f: f.box.area, default=None)


def bench_pose(detector: HogDetector, predictor: LandmarkPredictor) -> dict[str, Any]:
    rows = list(csv.DictReader((FACES / "_misc" / "pose_labels.csv").open()))
    errors: dict[str, list[float]] = {"yaw": [], "pitch": [], "roll": []}
    agree, scored, found, seconds = 0, 0, 0, []
    for row in rows:
        label = HeadPose(float(row["yaw_deg"]), float(row["pitch_deg"]), float(row["roll_deg"]))
        image = load(FACES / row["path"])
        face, detect_s = timed(largest, detector, image)
        if face is None:
            continue
        found += 1
        points, landmarks_s = timed(predictor.predict, image, face.box)
        pose, pose_s = timed(estimate_head_pose, points, image.shape[1], image.shape[0])
        seconds.append(detect_s + landmarks_s + pose_s)
        if abs(label.yaw) > 50:
            continue
        scored += 1
        for axis, axis_errors in errors.items():
            axis_errors.append(abs(getattr(pose, axis) - getattr(label, axis)))
        agree += face_direction(pose) == face_direction(label)
    return {
        "labelled": len(rows),
        "found_by_hog": found,
        "scored_abs_yaw_le_50": scored,
        **{f"{axis}_mae": round(statistics.mean(v), 1) for axis, v in errors.items()},
        **{f"{axis}_max_error": round(max(v), 1) for axis, v in errors.items()},
        "direction_agreement": f"{agree}/{scored}",
        "ms_per_image_detect_landmarks_pose": round(1000 * statistics.median(seconds), 1),
    }


def bench_quality(detector: HogDetector, gate: QualityGate) -> dict[str, Any]:
    with (FACES / "identities.csv").open() as table:
        paths = [FACES / row["path"] for row in csv.DictReader(table)]
    degradations: dict[str, tuple[QualityIssue, Callable[[Image_, DetectedFace], Image_]]] = {
        "blur": (
            QualityIssue.BLURRY,
            lambda img, face: cv2.GaussianBlur(img, (0, 0), sigmaX=max(2.0, face.box.width / 40)),
        ),
        "dark": (QualityIssue.DARK, lambda img, _: (img.astype(np.float32) * 0.15).astype(np.uint8)),
        "bright": (
            QualityIssue.BRIGHT,
            lambda img, _: np.clip(img.astype(np.float32) * 0.3 + 200, 0, 255).astype(np.uint8),
        ),
    }
    originals_rejected: dict[str, int] = {}
    caught = {name: 0 for name in degradations}
    faces, accepted, seconds = 0, 0, []
    sharpness, brightness = [], []
    for path in paths:
        image = load(path)
        face = largest(detector, image)
        if face is None:
            continue
        faces += 1
        issues, check_s = timed(gate.check, image, face)
        measured = gate.measure(image, face)
        sharpness.append(measured.sharpness)
        brightness.append(measured.brightness)
        seconds.append(check_s)
        accepted += not issues
        for issue in issues:
            originals_rejected[str(issue)] = originals_rejected.get(str(issue), 0) + 1
        for name, (expected, degrade) in degradations.items():
            caught[name] += expected in gate.check(degrade(image, face), face)
    blur_photo = load(FACES / "_misc" / "attributes" / "inspireface__blur.jpg")
    blur_face = largest(detector, blur_photo)
    return {
        "identity_photos_with_a_face": faces,
        "originals_flagged_by_reason": originals_rejected,
        "originals_accepted": f"{accepted}/{faces}",
        "originals_sharpness_p5_p50": [round(float(np.percentile(sharpness, q)), 1) for q in (5, 50)],
        "originals_brightness_min_max": [round(min(brightness), 1), round(max(brightness), 1)],
        **{f"{name}_recall": f"{count}/{faces}" for name, count in caught.items()},
        "inspireface_blur_jpg_flagged_blurry": bool(
            blur_face is not None and QualityIssue.BLURRY in gate.check(blur_photo, blur_face)
        ),
        "ms_per_face_gate": round(1000 * statistics.median(seconds), 1),
    }


def bench_attributes(detector: HogDetector, analyzer: FaceAnalyzer) -> dict[str, Any]:
    annotated = [(p, "female", 30) for p in sorted((FACES / "compreface-A").glob("*"))]
    annotated += [(p, "female", 25) for p in sorted((FACES / "compreface-B").glob("*"))]
    annotated += [(p, "male", 30) for p in sorted((FACES / "compreface-C").glob("*"))]
    gender_ok, age_errors, seconds = 0, [], []
    for path, gender, age in annotated:
        image = load(path)
        face = largest(detector, image)
        if face is None:
            continue
        (result,), took = timed(analyzer.analyze, image, [face], {Attribute.GENDER, Attribute.AGE})
        seconds.append(took)
        gender_ok += result.gender is not None and result.gender.value == gender
        age_errors.append(abs(result.age.value - age) if result.age is not None else 99)
    smiles = {"happy": "yes", "anger": "no", "sad": "no"}
    smile_ok = 0
    for expression, expected in smiles.items():
        image = load(FACES / "_misc" / "attributes" / f"inspireface__emotion_{expression}.png")
        face = largest(detector, image)
        if face is not None:
            (result,) = analyzer.analyze(image, [face], {Attribute.SMILE})
            smile_ok += result.smile is not None and result.smile.value == expected
    return {
        "gender_correct": f"{gender_ok}/{len(annotated)}",
        "age_mae_years_vs_annotation": round(statistics.mean(age_errors), 1),
        "ms_per_face_gender_age": round(1000 * statistics.median(seconds), 1),
        "smile_correct": f"{smile_ok}/{len(smiles)}",
        "glasses_hat": "not computed (reported as unknown / unsupported)",
    }


def _marks(name: str, column: str) -> list[tuple[int, int]]:
    with (VIDEOS / "videos.csv").open() as table:
        row = next(r for r in csv.DictReader(table) if r["path"] == name)
    return [(int(a), int(b)) for a, b in json.loads(row[column] or "[]")]


def bench_liveness(checker: LivenessChecker, still: Image_) -> dict[str, Any]:
    per_clip = {}
    marked_total = found_total = detected_total = matched_detections = 0
    frames_total, seconds_total = 0, 0.0
    for name in LIVENESS_CLIPS:
        data = (VIDEOS / name).read_bytes()
        limits = replace(checker.settings.video, max_seconds=70.0)
        video, decode_s = timed(decode_video, data, limits)
        track, track_s = timed(checker.track, video)
        frames_total += len(video.frames)
        seconds_total += decode_s + track_s
        stride = video.stride
        ranges = {
            action: [
                (video.frame_indices[e.first_sample], video.frame_indices[e.last_sample] + stride - 1)
                for e in find_events(track, action, checker.settings.actions)
            ]
            for action in Action
        }
        marked = _marks(name, "auto_blink_events")

        def near(a: tuple[int, int], b: tuple[int, int]) -> bool:
            return a[0] <= b[1] + BLINK_TOLERANCE and a[1] >= b[0] - BLINK_TOLERANCE

        found = sum(any(near(d, m) for d in ranges[Action.BLINK]) for m in marked)
        matched = sum(any(near(d, m) for m in marked) for d in ranges[Action.BLINK])
        marked_total += len(marked)
        found_total += found
        detected_total += len(ranges[Action.BLINK])
        matched_detections += matched
        per_clip[name] = {
            "analysed_frames": len(video.frames),
            "ms_per_analysed_frame": round(1000 * (decode_s + track_s) / len(video.frames), 1),
            "blinks_marked_found": f"{found}/{len(marked)}",
            "blinks_detected_unmarked": len(ranges[Action.BLINK]) - matched,
            "mouth_marked": bool(_marks(name, "auto_mouth_open_events")),
            "mouth_passed": bool(ranges[Action.OPEN_MOUTH]),
            **{f"{a}_passed": bool(ranges[a]) for a in (Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD)},
        }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "still.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, still.shape[1::-1])
        for _ in range(75):
            writer.write(cv2.cvtColor(still, cv2.COLOR_RGB2BGR))
        writer.release()
        still_result = checker.check(path.read_bytes(), list(Action))
    return {
        "clips": per_clip,
        "blink_recall_vs_marks": f"{found_total}/{marked_total}",
        "blink_detections_matching_a_mark": f"{matched_detections}/{detected_total}",
        "looped_still_photo_actions_passed": sum(v.passed for v in still_result.actions),
        "ms_per_analysed_frame_overall": round(1000 * seconds_total / frames_total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    cpu = pin_to_one_core()
    detector, predictor = HogDetector(upsample=1, threshold=LIVENESS_HOG_THRESHOLD), LandmarkPredictor()
    report: dict[str, Any] = {"system": machine_description(), "pinned_cpu": cpu}
    with quiet_stderr():
        progress("head pose")
        report["pose"] = bench_pose(detector, predictor)
        progress("quality gate")
        report["quality"] = bench_quality(detector, QualityGate(predictor=predictor))
        progress("attributes")
        report["attributes"] = bench_attributes(detector, FaceAnalyzer(predictor=predictor))
        progress("liveness")
        portrait = load(FACES / "compreface-B" / "007_B.jpg", 480)
        report["liveness"] = bench_liveness(LivenessChecker(predictor=predictor), portrait)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
