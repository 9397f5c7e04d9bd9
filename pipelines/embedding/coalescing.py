"""Micro-batching: chips from concurrent callers described in one backend call.

A worker running several jobs at once (a threads pool) hands each job's chips to one
shared ``CoalescingBackend``. A single dispatcher thread takes the first waiting request,
keeps collecting for at most ``max_wait_seconds`` or until ``max_batch`` chips are waiting,
runs the wrapped backend once on all of them, and gives every caller its own rows back.
This is the dynamic batching of inference servers (Triton, TF Serving) inside the worker:
batched inference costs several times less per chip on CPU and far less on a GPU, and a
lone request waits at most ``max_wait_seconds`` longer than it would alone.

The descriptors are exactly those of the wrapped backend: every row of a batch is computed
independently of the others.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from pipelines.embedding.base import Chips, DescriptorBackend, Descriptors


@dataclass
class CoalescingStats:
    """Counters for benchmarks and tests: how many requests shared how many backend calls."""

    requests: int = 0
    backend_calls: int = 0
    chips: int = 0
    largest_batch: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, requests: int, chips: int) -> None:
        with self.lock:
            self.requests += requests
            self.backend_calls += 1
            self.chips += chips
            self.largest_batch = max(self.largest_batch, chips)


@dataclass(frozen=True)
class _Request:
    chips: Chips
    result: Future[Descriptors]


class CoalescingBackend:
    """A ``DescriptorBackend`` that merges concurrent ``describe`` calls."""

    def __init__(self, inner: DescriptorBackend, max_batch: int = 32, max_wait_seconds: float = 0.004) -> None:
        if max_batch < 1 or max_wait_seconds < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_seconds >= 0")
        self.inner = inner
        self.name = f"{inner.name}+coalescing"
        self.max_batch = max_batch
        self.max_wait_seconds = max_wait_seconds
        self.stats = CoalescingStats()
        self._waiting: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._dispatcher: threading.Thread | None = None
        # A request that would have overflowed the last batch opens the next one
        # (read and written by the dispatcher thread only).
        self._held_over: _Request | None = None

    def describe(self, chips: Chips) -> Descriptors:
        if len(chips) == 0:
            return self.inner.describe(chips)
        self._ensure_dispatcher()
        request = _Request(chips, Future())
        self._waiting.put(request)
        return request.result.result()

    def _ensure_dispatcher(self) -> None:
        # Started on first use, not in __init__: a prefork worker builds its pipeline
        # before forking, and threads do not survive a fork.
        if self._dispatcher is not None and self._dispatcher.is_alive():
            return
        with self._start_lock:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._dispatch_forever, name="embed-batcher", daemon=True)
                self._dispatcher.start()

    def _dispatch_forever(self) -> None:
        while True:
            first, self._held_over = self._held_over or self._waiting.get(), None
            self._run_batch(self._collect(first))

    def _collect(self, first: _Request) -> list[_Request]:
        batch, size = [first], len(first.chips)
        deadline = time.monotonic() + self.max_wait_seconds
        while size < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                request = self._waiting.get(timeout=remaining) if remaining > 0 else self._waiting.get_nowait()
            except queue.Empty:
                break
            if size + len(request.chips) > self.max_batch:
                self._held_over = request  # never split a request, never exceed the batch
                break
            batch.append(request)
            size += len(request.chips)
        return batch

    def _run_batch(self, batch: list[_Request]) -> None:
        try:
            descriptors = self.inner.describe(np.concatenate([request.chips for request in batch]))
        except Exception as error:  # noqa: BLE001  # every waiting caller gets the error, the dispatcher lives on
            for request in batch:
                request.result.set_exception(error)
            return
        self.stats.record(len(batch), len(descriptors))
        start = 0
        for request in batch:
            stop = start + len(request.chips)
            request.result.set_result(descriptors[start:stop])
            start = stop
