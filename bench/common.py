"""Shared by the pipeline benchmarks: one-thread pinning, the shared data set, and the
reference loop that calls dlib directly the way its documentation (and face_recognition,
which wraps it) shows.

Import this module before any ML package: thread counts are read when they load.
"""

from __future__ import annotations

import csv
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
             "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FACES = (REPO / ".." / "shared" / "data" / "faces").resolve()


def pin_to_one_core() -> int | None:
    """Pin this process to one CPU so that "per core" means one core; returns it."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    return cpu


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs (shared), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, commit {commit.stdout.strip() or '?'}"
    )


@dataclass(frozen=True)
class Pair:
    path_a: str
    path_b: str
    same: bool
    origin: str


def load_pairs() -> list[Pair]:
    with (FACES / "pairs.csv").open() as f:
        return [Pair(r["path_a"], r["path_b"], r["same"] == "1", r["origin"]) for r in csv.DictReader(f)]


def pair_images(pairs: list[Pair]) -> list[str]:
    return sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})


class ReferenceDlibLoop:
    """face_recognition's ``load_image_file`` + ``face_encodings(image)[0]``, written
    against dlib directly: PIL → RGB array, HOG detector with one upsample, 5-point
    predictor, ``compute_face_descriptor(image, shape)`` on the full image."""

    name = "reference dlib loop"

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    @staticmethod
    def load(path: Path) -> np.ndarray[Any, Any]:
        from PIL import Image

        with Image.open(path) as image:
            return np.array(image.convert("RGB"))

    def encodings(self, image: np.ndarray[Any, Any]) -> list[np.ndarray[Any, Any]]:
        rects = self.detector(image, 1)
        return [
            np.array(self.encoder.compute_face_descriptor(image, self.predictor(image, rect), 1))
            for rect in rects
        ]


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """TensorFlow logs through C++ straight to fd 2; keep benchmark output readable."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


Timer = Callable[[], float]


def save_report(path: Path, report: dict[str, Any]) -> None:
    """Write a benchmark's JSON report under bench/results and print it."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
