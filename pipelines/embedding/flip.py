"""``dlib-resnet-flip-v1``: dlib's ResNet with flip test-time augmentation.

The same alignment and network as ``dlib-resnet-v1``; each face's vector is the mean of the
descriptors of its chip and of the chip mirrored left to right, computed in one batch. On the
shared pairs that removes most of the remaining errors for twice the network time
(docs/PIPELINE.md, "Model versions"). Its vectors are a different model version: never
mixed with ``dlib-resnet-v1`` vectors (their own collection) and read with their own threshold
and calibration (``pipelines.compare.MODEL_SCORES``).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from pipelines.embedding.base import Chips, DescriptorBackend, Descriptors
from pipelines.embedding.dlib_resnet import DlibChipAligner, DlibResnetEmbedder, descriptor_backend

MODEL_ID: Final = "dlib-resnet-flip-v1"


class FlipAveragingBackend:
    """Describes each chip as the mean of its own and its mirror image's descriptors."""

    def __init__(self, inner: DescriptorBackend) -> None:
        self.inner = inner
        self.name = f"{inner.name}+flip"

    def describe(self, chips: Chips) -> Descriptors:
        count = len(chips)
        if count == 0:
            return self.inner.describe(chips)
        both = self.inner.describe(np.concatenate([chips, np.ascontiguousarray(chips[:, :, ::-1])]))
        return np.asarray((both[:count] + both[count:]) / 2, dtype=np.float32)


def flip_embedder(aligner: DlibChipAligner, backend: DescriptorBackend) -> DlibResnetEmbedder:
    """The flip model on an already built backend (shared with ``dlib-resnet-v1``)."""
    return DlibResnetEmbedder(aligner, FlipAveragingBackend(backend), model_id=MODEL_ID)


def dlib_resnet_flip_embedder(backend: str = "dlib", **backend_options: Any) -> DlibResnetEmbedder:
    return flip_embedder(DlibChipAligner(), descriptor_backend(backend, **backend_options))
