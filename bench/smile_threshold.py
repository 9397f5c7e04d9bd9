"""The smile threshold's procedure and its accuracy on the photos labelled by eye
(``tests/analysis/smile_labels.csv``): HOG box, 68 landmarks, ``smile_score``; the cut
that maximises balanced accuracy, its leave-one-out accuracy, and the accuracy of the
shipped threshold.

    PYTHONPATH=$PWD .venv/bin/python -m bench.smile_threshold
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from pipelines.analysis.attributes import SMILE_THRESHOLD, smile_score
from pipelines.analysis.landmarks import LandmarkPredictor
from pipelines.detection.dlib_detectors import HogDetector
from pipelines.liveness.check import LIVENESS_HOG_THRESHOLD
from tests.analysis.conftest import FACES, largest_face, load_rgb

LABELS = Path(__file__).resolve().parents[1] / "tests" / "analysis" / "smile_labels.csv"


def balanced_accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(0.5 * (predicted[truth].mean() + (~predicted[~truth]).mean()))


def best_cut(scores: np.ndarray, truth: np.ndarray) -> float:
    values = np.unique(scores)
    cuts = (values[:-1] + values[1:]) / 2
    return float(max(cuts, key=lambda cut: balanced_accuracy(scores > cut, truth)))


def main() -> None:
    detector = HogDetector(upsample=1, threshold=LIVENESS_HOG_THRESHOLD)
    predictor = LandmarkPredictor()
    scores, truth = [], []
    for row in csv.DictReader(LABELS.open()):
        image = load_rgb(FACES / row["path"])
        face = largest_face(detector, image)
        if face is None:
            continue
        scores.append(smile_score(predictor.predict(image, face.box)))
        truth.append(row["smile"] == "yes")
    s, y = np.array(scores), np.array(truth)
    held_out = np.zeros(len(y), dtype=bool)
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        held_out[i] = s[i] > best_cut(s[keep], y[keep])
    shipped = s > SMILE_THRESHOLD
    print(f"photos {len(y)} (smiling {int(y.sum())})")
    print(f"best cut on all: {best_cut(s, y):.3f}")
    print(
        f"leave-one-out: accuracy {(held_out == y).mean():.3f}, balanced {balanced_accuracy(held_out, y):.3f}"
    )
    print(
        f"threshold {SMILE_THRESHOLD}: accuracy {(shipped == y).mean():.3f}, "
        f"recall {shipped[y].mean():.3f}, specificity {(~shipped[~y]).mean():.3f}"
    )


if __name__ == "__main__":
    main()
