"""Verification accuracy on every pair of ../shared/data/faces/pairs.csv.

For FaceFleet's default pipeline (and optionally other detectors) and, in the same run,
the reference dlib loop (bench.common.ReferenceDlibLoop). Each image is embedded once; a
pair whose image gave no face counts as "different" (a failure to detect rejects a genuine
pair and cannot accept an impostor one).

    .venv/bin/python -m bench.accuracy [--detectors hog,mtcnn] [--json bench/results/accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import FACES, REPO, Pair, ReferenceDlibLoop, load_pairs, machine_description, pair_images
from bench.common import pin_to_one_core, progress, quiet_stderr

import numpy as np  # noqa: E402  (after bench.common pins thread counts)

Vector = np.ndarray[Any, Any]


@dataclass
class Report:
    system: str
    pairs: int
    failed_images: list[str]
    failed_pairs: int
    accuracy_at_default: float
    far_at_default: float
    frr_at_default: float
    best_threshold: float
    best_accuracy: float
    tar_at_far_1e2: float
    tar_at_far_1e3: float
    ms_per_image: float


def embed_all(images: list[str], embed_one: Callable[[Path], Vector | None]) -> tuple[dict[str, Vector | None], float]:
    vectors: dict[str, Vector | None] = {}
    started = time.perf_counter()
    for path in images:
        vectors[path] = embed_one(FACES / path)
    return vectors, (time.perf_counter() - started) / len(images) * 1000


def distances(pairs: list[Pair], vectors: dict[str, Vector | None]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Distance per pair (inf where an image has no face) and the same/different labels."""
    values = []
    for pair in pairs:
        a, b = vectors[pair.path_a], vectors[pair.path_b]
        values.append(np.inf if a is None or b is None else float(np.linalg.norm(a - b)))
    return np.array(values), np.array([p.same for p in pairs])


def tar_at_far(dist: np.ndarray[Any, Any], same: np.ndarray[Any, Any], far: float) -> float:
    """Largest genuine-accept rate whose threshold accepts at most ``far`` of impostors."""
    impostor = np.sort(dist[~same])
    allowed = int(np.floor(far * len(impostor)))  # impostor pairs that may be accepted
    threshold = impostor[allowed] if allowed < len(impostor) else np.inf
    return float(np.mean(dist[same] < threshold))  # strictly below the first rejected impostor


def evaluate(system: str, pairs: list[Pair], vectors: dict[str, Vector | None], ms: float,
             default_distance: float) -> Report:
    dist, same = distances(pairs, vectors)
    accept = dist <= default_distance
    finite = np.unique(dist[np.isfinite(dist)])
    candidates = (finite[:-1] + finite[1:]) / 2 if len(finite) > 1 else finite
    accuracies = [float(np.mean((dist <= t) == same)) for t in candidates]
    best = int(np.argmax(accuracies))
    return Report(
        system=system,
        pairs=len(pairs),
        failed_images=sorted(p for p, v in vectors.items() if v is None),
        failed_pairs=int(np.sum(~np.isfinite(dist))),
        accuracy_at_default=float(np.mean(accept == same)),
        far_at_default=float(np.mean(accept[~same])),
        frr_at_default=float(np.mean(~accept[same])),
        best_threshold=float(candidates[best]),
        best_accuracy=accuracies[best],
        tar_at_far_1e2=tar_at_far(dist, same, 1e-2),
        tar_at_far_1e3=tar_at_far(dist, same, 1e-3),
        ms_per_image=ms,
    )


def sweep(dist: np.ndarray[Any, Any], same: np.ndarray[Any, Any]) -> list[tuple[float, float, float, float]]:
    """(threshold, accuracy, FAR, FRR) for distance thresholds 0.40 to 0.70."""
    rows = []
    for threshold in np.round(np.arange(0.40, 0.701, 0.02), 2):
        accept = dist <= threshold
        rows.append((float(threshold), float(np.mean(accept == same)), float(np.mean(accept[~same])),
                     float(np.mean(~accept[same]))))
    return rows


def fit_logistic(dist: np.ndarray[Any, Any], same: np.ndarray[Any, Any]) -> tuple[float, float]:
    """P(same | d) = 1 / (1 + exp(k (d - m))), fitted by Newton's method (two parameters,
    no library in the environment offers it). Returns (midpoint m, steepness k)."""
    keep = np.isfinite(dist)
    x, y = dist[keep], same[keep].astype(float)
    w = np.zeros(2)  # logit = w0 + w1 * d
    for _ in range(50):
        p = 1 / (1 + np.exp(-(w[0] + w[1] * x)))
        grad = np.array([np.sum(y - p), np.sum((y - p) * x)])
        h = p * (1 - p)
        hess = -np.array([[np.sum(h), np.sum(h * x)], [np.sum(h * x), np.sum(h * x * x)]])
        w = w - np.linalg.solve(hess, grad)
    steepness = -w[1]
    return float(w[0] / steepness), float(steepness)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", default="",
                        help="extra FaceFleet detectors to evaluate, comma-separated; 'name>fallback' adds a fallback")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "accuracy.json")
    args = parser.parse_args()
    cpu = pin_to_one_core()

    from pipelines.catalog import DEFAULT_DETECTOR, DEFAULT_FALLBACK_DETECTOR, build_pipeline
    from pipelines.compare import DEFAULT_MATCH_DISTANCE
    from pipelines.engine import largest_face
    from pipelines.image import ImageLimits, decode_image

    pairs = load_pairs()
    images = pair_images(pairs)
    limits = ImageLimits()
    reports: list[Report] = []
    default_dist: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None = None

    default = f"{DEFAULT_DETECTOR}>{DEFAULT_FALLBACK_DETECTOR}"
    detectors = [default] + [d for d in args.detectors.split(",") if d and d != default]
    for detector in detectors:
        primary, _, fallback = detector.partition(">")
        pipeline = build_pipeline(detector=primary, fallback_detector=fallback or None)

        def facefleet(path: Path) -> Vector | None:
            results = pipeline.process(decode_image(path.read_bytes(), limits))
            if not results:
                return None
            embedding = largest_face(results).embedding
            return None if embedding is None else embedding.vector

        with quiet_stderr():
            facefleet(FACES / images[0])  # load models outside the timed loop
            vectors, ms = embed_all(images, facefleet)
        label = f"FaceFleet default ({detector})" if detector == default else f"FaceFleet, detector {detector}"
        reports.append(evaluate(label, pairs, vectors, ms, DEFAULT_MATCH_DISTANCE))
        if detector == default:
            default_dist = distances(pairs, vectors)
        progress(f"done: {label}")

    reference = ReferenceDlibLoop()

    def reference_one(path: Path) -> Vector | None:
        found = reference.encodings(reference.load(path))
        return found[0] if found else None

    reference_one(FACES / images[0])
    vectors, ms = embed_all(images, reference_one)
    reports.append(evaluate(reference.name, pairs, vectors, ms, DEFAULT_MATCH_DISTANCE))

    assert default_dist is not None
    midpoint, steepness = fit_logistic(*default_dist)
    print(f"machine: {machine_description()}; pinned to CPU {cpu}")
    print(f"pairs: {len(pairs)} ({int(sum(p.same for p in pairs))} same), images: {len(images)}, "
          f"threads pinned to 1, default match distance {DEFAULT_MATCH_DISTANCE}\n")
    print("| system | accuracy @default | FAR @default | FRR @default | best threshold | accuracy @best "
          "| TAR@FAR=1e-2 | TAR@FAR=1e-3 | images without face | ms / image |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in reports:
        print(f"| {r.system} | {r.accuracy_at_default:.4f} | {r.far_at_default:.4f} | {r.frr_at_default:.4f} "
              f"| {r.best_threshold:.3f} | {r.best_accuracy:.4f} | {r.tar_at_far_1e2:.4f} | {r.tar_at_far_1e3:.4f} "
              f"| {len(r.failed_images)} | {r.ms_per_image:.0f} |")
    print(f"\nlogistic fit of P(same | distance) for the default: midpoint {midpoint:.4f}, steepness {steepness:.3f}")
    print("\nthreshold sweep (default pipeline):\n\n| distance | accuracy | FAR | FRR |\n|---|---|---|---|")
    for row in sweep(*default_dist):
        print(f"| {row[0]:.2f} | {row[1]:.4f} | {row[2]:.4f} | {row[3]:.4f} |")
    for r in reports:
        if r.failed_images:
            print(f"no face ({r.system}): {', '.join(r.failed_images)}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": machine_description(), "reports": [asdict(r) for r in reports],
                                     "sweep": sweep(*default_dist),
                                     "default_distances": [None if not np.isfinite(d) else float(d)
                                                           for d in default_dist[0]],
                                     "calibration": {"midpoint": midpoint, "steepness": steepness}}, indent=2))


if __name__ == "__main__":
    main()
