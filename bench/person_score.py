"""Which person-level score ranks persons best: the best face, or the mean of a person's
top-k face similarities? Measured on the persons of ../shared/data/faces/pairs.csv.

Every image is embedded once (default pipeline, largest face). Each image of a person with
at least three images is a probe in turn (leave one out); the gallery is every other image,
grouped by person (the identity folder). For each score we report rank-1 identification
(the probe's own person scores highest) and, over all (probe, person) scores, TAR at
FAR = 1e-2 and the equal error rate: persons with many photos must not outscore a true
match just by having more chances.

    .venv/bin/python -m bench.person_score [--json bench/results/person_score.json]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import FACES, REPO, load_pairs, machine_description, pair_images, pin_to_one_core, progress
from bench.common import quiet_stderr

import numpy as np  # noqa: E402  (after bench.common pins thread counts)

SCORES = ("best", "mean_top2", "mean_top3", "mean_all")


def person_score(similarities: list[float], method: str) -> float:
    ordered = sorted(similarities, reverse=True)
    if method == "best":
        return ordered[0]
    if method == "mean_all":
        return float(np.mean(ordered))
    k = int(method.removeprefix("mean_top"))
    return float(np.mean(ordered[:k]))


def tar_and_eer(genuine: np.ndarray[Any, Any], impostor: np.ndarray[Any, Any]) -> tuple[float, float]:
    threshold = float(np.quantile(impostor, 0.99))  # FAR = 1e-2
    tar = float(np.mean(genuine > threshold))
    candidates = np.unique(np.concatenate([genuine, impostor]))
    far = np.array([np.mean(impostor >= t) for t in candidates])
    frr = np.array([np.mean(genuine < t) for t in candidates])
    best = int(np.argmin(np.abs(far - frr)))
    return tar, float((far[best] + frr[best]) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "person_score.json")
    args = parser.parse_args()
    pin_to_one_core()
    from pipelines.catalog import build_pipeline
    from pipelines.compare import distance_to_similarity
    from pipelines.engine import largest_face
    from pipelines.image import ImageLimits, decode_image

    pipeline = build_pipeline()
    limits = ImageLimits()
    vectors: dict[str, np.ndarray[Any, Any]] = {}
    with quiet_stderr():
        for path in pair_images(load_pairs()):
            results = pipeline.process(decode_image((FACES / path).read_bytes(), limits))
            if results and (embedding := largest_face(results).embedding) is not None:
                vectors[path] = embedding.vector
    progress(f"embedded {len(vectors)} images")
    by_person: dict[str, list[str]] = defaultdict(list)
    for path in vectors:
        by_person[path.split("/")[0]].append(path)
    probes = [path for paths in by_person.values() if len(paths) >= 3 for path in paths]

    report: dict[str, Any] = {"machine": machine_description(), "persons": len(by_person), "probes": len(probes)}
    for method in SCORES:
        correct = 0
        genuine: list[float] = []
        impostor: list[float] = []
        for probe in probes:
            own = probe.split("/")[0]
            scores = {}
            for person, paths in by_person.items():
                gallery = [p for p in paths if p != probe]
                if not gallery:
                    continue
                sims = [distance_to_similarity(float(np.linalg.norm(vectors[probe] - vectors[p]))) for p in gallery]
                scores[person] = person_score(sims, method)
            correct += max(scores, key=lambda person: scores[person]) == own
            genuine.append(scores[own])
            impostor.extend(score for person, score in scores.items() if person != own)
        tar, eer = tar_and_eer(np.array(genuine), np.array(impostor))
        report[method] = {"rank1": round(correct / len(probes), 4), "tar_at_far_1e2": round(tar, 4), "eer": round(eer, 4)}
        progress(f"{method}: {report[method]}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
