"""Models load once per session; each photo is decoded and embedded at most once."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# TensorFlow (under BlazeFace and MTCNN) reads these when it loads: keep its logs and its
# thread pools small on shared CI machines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np
import pytest

from pipelines.catalog import build_pipeline
from pipelines.engine import FacePipeline, largest_face
from pipelines.image import ImageLimits, decode_image
from pipelines.types import DecodedImage


@dataclass(frozen=True)
class Pair:
    path_a: str
    path_b: str
    same: bool


@pytest.fixture(scope="session")
def default_pipeline() -> FacePipeline:
    return build_pipeline()


@pytest.fixture(scope="session")
def load_photo(faces_dir: Path) -> Callable[[str], DecodedImage]:
    cache: dict[str, DecodedImage] = {}

    def load(relative: str) -> DecodedImage:
        if relative not in cache:
            cache[relative] = decode_image((faces_dir / relative).read_bytes(), ImageLimits())
        return cache[relative]

    return load


@pytest.fixture(scope="session")
def largest_face_vector(
    default_pipeline: FacePipeline, load_photo: Callable[[str], DecodedImage]
) -> Callable[[str], np.ndarray | None]:
    """The compare/search semantics: the embedding of the photo's largest face, or None."""
    cache: dict[str, np.ndarray | None] = {}

    def vector(relative: str) -> np.ndarray | None:
        if relative not in cache:
            results = default_pipeline.process(load_photo(relative))
            embedding = largest_face(results).embedding if results else None
            cache[relative] = None if embedding is None else embedding.vector
        return cache[relative]

    return vector


@pytest.fixture(scope="session")
def all_pairs(faces_dir: Path) -> list[Pair]:
    with (faces_dir / "pairs.csv").open() as handle:
        return [Pair(row["path_a"], row["path_b"], row["same"] == "1") for row in csv.DictReader(handle)]
