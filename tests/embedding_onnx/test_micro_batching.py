"""Micro-batching (``CoalescingBackend``): concurrent callers share backend calls and each
gets exactly its own descriptors, on a recording fake and on real chips through ONNX."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pipelines.embedding.base import Chips, Descriptors
from pipelines.embedding.coalescing import CoalescingBackend
from pipelines.embedding.dlib_onnx import OnnxDescriptorBackend
from tests.embedding_onnx.conftest import RealChips


class RecordingBackend:
    """Descriptor = the chip's first pixel value repeated: rows are traceable to their chip.
    Each call sleeps a little, like inference, so that callers pile up behind it."""

    name = "recording"

    def __init__(self, fail_on: int | None = None) -> None:
        self.batch_sizes: list[int] = []
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def describe(self, chips: Chips) -> Descriptors:
        with self._lock:
            self.batch_sizes.append(len(chips))
        threading.Event().wait(0.01)
        if self.fail_on is not None and np.any(chips[:, 0, 0, 0] == self.fail_on):
            raise RuntimeError("inference failed")
        return np.repeat(chips[:, 0, 0, 0:1].astype(np.float32), 4, axis=1)


def chips_marked(*marks: int) -> Chips:
    chips = np.zeros((len(marks), 8, 8, 3), dtype=np.uint8)
    chips[:, 0, 0, 0] = marks
    return chips


def run_concurrently(calls: Sequence[Callable[[], object]]) -> list[object]:
    """Start every call at the same instant; results (or raised errors) in call order."""
    barrier = threading.Barrier(len(calls))

    def start(call: Callable[[], object]) -> object:
        barrier.wait()
        try:
            return call()
        except Exception as error:  # noqa: BLE001  # the test inspects it
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(start, calls))


def test_concurrent_callers_share_backend_calls_and_get_their_own_rows() -> None:
    inner = RecordingBackend()
    backend = CoalescingBackend(inner, max_batch=64, max_wait_seconds=0.05)
    requests = [chips_marked(*range(10 * i + 1, 10 * i + 1 + (i % 3) + 1)) for i in range(12)]
    results = run_concurrently([lambda chips=chips: backend.describe(chips) for chips in requests])
    for chips, descriptors in zip(requests, results, strict=True):
        assert isinstance(descriptors, np.ndarray)
        assert descriptors[:, 0].tolist() == chips[:, 0, 0, 0].astype(np.float32).tolist()
    assert backend.stats.requests == 12 and backend.stats.chips == sum(len(c) for c in requests)
    assert len(inner.batch_sizes) < 12, inner.batch_sizes  # merged, not one call per caller
    assert backend.stats.largest_batch > 3


def test_a_batch_never_exceeds_max_batch_unless_one_request_is_larger() -> None:
    inner = RecordingBackend()
    backend = CoalescingBackend(inner, max_batch=4, max_wait_seconds=0.05)
    requests = [chips_marked(i + 1, i + 101) for i in range(8)] + [chips_marked(*range(200, 206))]
    run_concurrently([lambda chips=chips: backend.describe(chips) for chips in requests])
    # A request is never split: a 6-chip one runs alone; the 2-chip ones pair up to 4.
    assert all(size <= 4 or size == 6 for size in inner.batch_sizes), inner.batch_sizes
    assert sum(inner.batch_sizes) == 22


def test_a_lone_request_waits_at_most_the_window() -> None:
    import time

    backend = CoalescingBackend(RecordingBackend(), max_batch=32, max_wait_seconds=0.02)
    started = time.monotonic()
    backend.describe(chips_marked(7))
    assert time.monotonic() - started < 0.02 + 0.01 + 0.2  # window + the fake's inference + slack


def test_an_inference_error_reaches_every_caller_of_its_batch_and_the_batcher_lives_on() -> None:
    backend = CoalescingBackend(RecordingBackend(fail_on=66), max_batch=64, max_wait_seconds=0.05)
    results = run_concurrently([lambda: backend.describe(chips_marked(66)), lambda: backend.describe(chips_marked(5))])
    assert all(isinstance(result, RuntimeError) for result in results), results
    assert backend.describe(chips_marked(9))[:, 0].tolist() == [9.0]


def test_empty_input_skips_the_queue() -> None:
    inner = RecordingBackend()
    backend = CoalescingBackend(inner)
    assert backend.describe(chips_marked()).shape[0] == 0


@pytest.mark.model
def test_real_chips_from_concurrent_jobs_get_the_vectors_they_get_alone(
    onnx_model_path: Path, real_chips: RealChips
) -> None:
    onnx = OnnxDescriptorBackend(onnx_model_path, intra_op_threads=1)
    alone: npt.NDArray[np.float32] = onnx.describe(real_chips.chips)
    backend = CoalescingBackend(onnx, max_batch=32, max_wait_seconds=0.02)
    # One "job" per image, 1-3 chips each, all arriving at once.
    jobs = [real_chips.chips[i : i + 1 + i % 3] for i in range(0, len(real_chips.chips), 3)]
    results = run_concurrently([lambda chips=chips: backend.describe(chips) for chips in jobs])
    merged = np.concatenate([np.asarray(result) for result in results])
    expected = np.concatenate([alone[i : i + 1 + i % 3] for i in range(0, len(real_chips.chips), 3)])
    assert np.max(np.abs(merged - expected)) <= 1e-5
    assert backend.stats.backend_calls < len(jobs), (backend.stats.backend_calls, len(jobs))
