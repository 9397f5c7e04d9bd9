"""Backend contract: input validation, empty batches, execution-provider choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.embedding.dlib_onnx import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    OnnxDescriptorBackend,
    preferred_providers,
)


def test_cuda_is_preferred_when_onnxruntime_offers_it_with_cpu_behind() -> None:
    offered = ["TensorrtExecutionProvider", CUDA_PROVIDER, CPU_PROVIDER]
    assert preferred_providers(offered) == [CUDA_PROVIDER, CPU_PROVIDER]
    assert preferred_providers([CPU_PROVIDER]) == [CPU_PROVIDER]


def test_a_missing_model_names_the_command_that_builds_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="facefleet.build_onnx"):
        OnnxDescriptorBackend(tmp_path / "absent.onnx")


@pytest.mark.model
def test_cpu_session_and_shape_checks(onnx_model_path: Path) -> None:
    backend = OnnxDescriptorBackend(onnx_model_path)
    assert backend.providers == [CPU_PROVIDER]  # this machine's onnxruntime has no CUDA
    assert backend.describe(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)
    with pytest.raises(ValueError, match="uint8"):
        backend.describe(np.zeros((1, 150, 150, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="150"):
        backend.describe(np.zeros((1, 160, 160, 3), np.uint8))
