"""Backend contract: input validation, empty batches, execution-provider choice."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from pipelines.embedding.dlib_onnx import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    OnnxDescriptorBackend,
    configured_providers,
    preferred_providers,
)

CUDA_PRESENT = CUDA_PROVIDER in ort.get_available_providers()


def test_cuda_is_preferred_when_onnxruntime_offers_it_with_cpu_behind() -> None:
    offered = ["TensorrtExecutionProvider", CUDA_PROVIDER, CPU_PROVIDER]
    assert preferred_providers(offered) == [CUDA_PROVIDER, CPU_PROVIDER]
    assert preferred_providers([CPU_PROVIDER]) == [CPU_PROVIDER]


def test_cuda_runs_in_full_float32_so_vectors_stay_dlibs() -> None:
    assert configured_providers([CUDA_PROVIDER, CPU_PROVIDER]) == [
        (CUDA_PROVIDER, {"use_tf32": "0"}),
        CPU_PROVIDER,
    ]
    assert configured_providers([CPU_PROVIDER]) == [CPU_PROVIDER]


def test_a_missing_model_names_the_command_that_builds_it(tmp_path: Path) -> None:
    missing = tmp_path / "absent.onnx"
    with pytest.raises(FileNotFoundError, match=f"facefleet.build_onnx --out {missing}"):
        OnnxDescriptorBackend(missing)


@pytest.mark.model
def test_default_session_puts_cuda_first_when_present_and_uses_cpu_otherwise(onnx_model_path: Path) -> None:
    backend = OnnxDescriptorBackend(onnx_model_path)
    assert backend.providers == ([CUDA_PROVIDER, CPU_PROVIDER] if CUDA_PRESENT else [CPU_PROVIDER])
    assert backend.describe(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)
    with pytest.raises(ValueError, match="uint8"):
        backend.describe(np.zeros((1, 150, 150, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="150"):
        backend.describe(np.zeros((1, 160, 160, 3), np.uint8))


@pytest.mark.model
def test_a_gpu_configuration_still_runs_where_cuda_is_absent(onnx_model_path: Path) -> None:
    """A worker image configured for CUDA must keep working (on CPU) on a CPU-only host."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # onnxruntime warns that CUDA is not available here
        backend = OnnxDescriptorBackend(onnx_model_path, providers=[CUDA_PROVIDER, CPU_PROVIDER])
    assert backend.providers[-1] == CPU_PROVIDER
    assert backend.providers[0] == (CUDA_PROVIDER if CUDA_PRESENT else CPU_PROVIDER)
    if CUDA_PRESENT:
        assert backend.provider_options[CUDA_PROVIDER]["use_tf32"] == "0"
    descriptors = backend.describe(np.full((2, 150, 150, 3), 128, np.uint8))
    assert descriptors.shape == (2, 128) and np.isfinite(descriptors).all()
