"""Protocols of the embedding stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from pipelines.types import DetectedFace, Embedding, RGBImage

Chips = npt.NDArray[np.uint8]
"""Aligned face chips, shape (N, size, size, 3), RGB."""

Descriptors = npt.NDArray[np.float32]
"""Face descriptors, shape (N, dimension)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns the faces of one image into vectors, in one batched call."""

    model_id: str
    dimension: int

    def embed(self, image: RGBImage, faces: Sequence[DetectedFace]) -> list[Embedding]: ...


@runtime_checkable
class DescriptorBackend(Protocol):
    """Computes descriptors of already aligned chips. Backends of one embedder must give
    the same vectors (within float tolerance) so they can share one ``model_id``."""

    name: str

    def describe(self, chips: Chips) -> Descriptors: ...


@runtime_checkable
class BatchEmbedder(Embedder, Protocol):
    """An embedder that also embeds the faces of several images in one batched call;
    ``faces[i]`` belong to ``images[i]`` and the result keeps that nesting."""

    def embed_many(
        self, images: Sequence[RGBImage], faces: Sequence[Sequence[DetectedFace]]
    ) -> list[list[Embedding]]: ...
