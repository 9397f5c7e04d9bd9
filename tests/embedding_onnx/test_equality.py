"""The ONNX engine computes dlib's vectors: same descriptors, same distances, same decisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipelines.embedding.dlib_onnx import OnnxDescriptorBackend
from tests.embedding_onnx.conftest import RealChips

pytestmark = pytest.mark.model

MAX_ABS_DIFFERENCE = 1e-4
MATCH_DISTANCE = 0.6


def _pairwise_distances(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    as_double = vectors.astype(np.float64)
    distances: npt.NDArray[np.float64] = np.linalg.norm(
        as_double[:, None, :] - as_double[None, :, :], axis=-1
    )
    return distances


@pytest.fixture(scope="module")
def onnx_descriptors(onnx_model_path: Path, real_chips: RealChips) -> npt.NDArray[np.float32]:
    return OnnxDescriptorBackend(onnx_model_path, intra_op_threads=2).describe(real_chips.chips)


def test_descriptors_equal_dlib_within_1e4_per_dimension(
    onnx_descriptors: npt.NDArray[np.float32], dlib_descriptors: npt.NDArray[np.float32]
) -> None:
    assert onnx_descriptors.shape == dlib_descriptors.shape == (len(dlib_descriptors), 128)
    assert onnx_descriptors.dtype == np.float32
    assert np.abs(onnx_descriptors - dlib_descriptors).max() <= MAX_ABS_DIFFERENCE


def test_pairwise_distances_and_match_decisions_are_unchanged(
    onnx_descriptors: npt.NDArray[np.float32],
    dlib_descriptors: npt.NDArray[np.float32],
    real_chips: RealChips,
) -> None:
    onnx_distances = _pairwise_distances(onnx_descriptors)
    dlib_distances = _pairwise_distances(dlib_descriptors)
    assert np.abs(onnx_distances - dlib_distances).max() <= 1e-5
    assert np.array_equal(onnx_distances < MATCH_DISTANCE, dlib_distances < MATCH_DISTANCE)
    # The comparison is meaningful only if the chips hold both matches and non-matches.
    same_person = np.equal.outer(real_chips.identities, real_chips.identities)
    off_diagonal = ~np.eye(len(same_person), dtype=bool)
    assert (onnx_distances[same_person & off_diagonal] < MATCH_DISTANCE).any()
    assert (onnx_distances[~same_person] >= MATCH_DISTANCE).any()


def test_pairs_csv_decisions_are_unchanged(
    onnx_descriptors: npt.NDArray[np.float32],
    dlib_descriptors: npt.NDArray[np.float32],
    real_chips: RealChips,
) -> None:
    def decisions(vectors: npt.NDArray[np.float32]) -> list[bool]:
        distances = _pairwise_distances(vectors)
        return [bool(distances[pair.first, pair.second] < MATCH_DISTANCE) for pair in real_chips.pairs]

    labels = [pair.same for pair in real_chips.pairs]
    assert any(labels) and not all(labels), "the subset must hold genuine and impostor pairs"
    dlib_decisions = decisions(dlib_descriptors)
    assert decisions(onnx_descriptors) == dlib_decisions
    # Sanity check that the subset exercises the threshold: dlib gets most pairs right.
    assert np.mean(np.equal(dlib_decisions, labels)) >= 0.75


def test_a_batch_gives_the_vectors_of_single_chip_calls(onnx_model_path: Path, real_chips: RealChips) -> None:
    backend = OnnxDescriptorBackend(onnx_model_path, intra_op_threads=1, max_batch=4)
    batched = backend.describe(real_chips.chips)  # several slices of 4, the last one short
    one_by_one = np.concatenate([backend.describe(chip[None]) for chip in real_chips.chips[:5]])
    assert np.abs(batched[:5] - one_by_one).max() <= 1e-6
