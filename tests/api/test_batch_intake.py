"""The batch intake streams: 10,000 images in one multipart body pass through the API with
memory bounded by the few images whose puts are in flight, each stored as soon as its part
ends, in order; the puts overlap within their bound and keep their failures.

A unit test of the intake's logic: the store records each object's digest and size instead
of writing 10,000 files (a real LocalObjectStore fsyncs each one, ~40 s on a busy disk; the
real stores are covered by tests/infra and the 200-image batch in test_batch.py)."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from api.batch import UPLOADERS, BatchIntake
from infra import batch_manifest
from infra.errors import TransientInfraError

BOUNDARY = b"facefleet-test-boundary"
IMAGE_COUNT = 10_000
IMAGE_BYTES = 16 * 1024


class DigestStore:
    """Content-addressed like the real stores, keeping only digests and sizes (and the
    manifest's JSON objects whole)."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.documents: dict[str, bytes] = {}

    def put(self, data: bytes, content_type: str) -> str:
        key = f"images/{hashlib.sha256(data).hexdigest()}"
        self.sizes[key] = len(data)
        if content_type == "application/json":
            self.documents[key] = data
        return key

    def get(self, key: str) -> bytes:
        return self.documents[key]

    def exists(self, key: str) -> bool:
        return key in self.sizes


class GeneratedBody(io.RawIOBase):
    """A multipart body produced part by part while it is read, never held whole."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self.parts = parts
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer):
            try:
                self.pending += next(self.parts)
            except StopIteration:
                break
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _image(index: int) -> bytes:
    # Distinct bytes per image: content-addressed keys would otherwise collapse them.
    return b"\xff\xd8\xff" + index.to_bytes(4, "big") * (IMAGE_BYTES // 4)


def _parts(count: int) -> Iterator[bytes]:
    yield (
        b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"select\"\r\n\r\nsingle\r\n"
    )
    for index in range(count):
        yield (
            b"--" + BOUNDARY + b"\r\n"
            b"Content-Disposition: form-data; name=\"image_file\"; filename=\"img_%05d.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" % index
        ) + _image(index) + b"\r\n"
    yield b"--" + BOUNDARY + b"--\r\n"


def test_ten_thousand_images_stream_through_with_bounded_memory() -> None:
    store = DigestStore()
    intake = BatchIntake(store, max_image_bytes=1024 * 1024, max_items=100_000, project_id="p1")
    body = io.BufferedReader(GeneratedBody(_parts(IMAGE_COUNT)), buffer_size=64 * 1024)

    tracemalloc.start()
    try:
        fields = intake.read_multipart(body, BOUNDARY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    total_bytes = IMAGE_COUNT * IMAGE_BYTES
    assert fields == {"select": "single"}
    # What remains is per-item bookkeeping (~300 bytes each: source, key, digest), not image bytes.
    assert peak < total_bytes / 20, f"peak {peak} bytes for {total_bytes} bytes of images"
    items = intake.manifest({}, {}, [], "none")
    assert len(items) == IMAGE_COUNT
    assert [item.source for item in items[:2]] == ["img_00000.jpg", "img_00001.jpg"]
    assert items[-1].external_image_id == f"img_{IMAGE_COUNT - 1:05d}"
    assert all(item.rejected is None and item.image_key for item in items)
    assert items[123].image_key == f"images/{hashlib.sha256(_image(123)).hexdigest()}"
    assert set(store.sizes.values()) == {len(_image(0))}

    key = intake.store_manifest(items)
    assert batch_manifest.read_items(store, key, 0, IMAGE_COUNT) == items


class CountingStore:
    """Records how many puts run at once; each takes a little while, as a round trip."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.fail_on = fail_on
        self.stored: list[bytes] = []

    def put(self, data: bytes, content_type: str, prefix: str = "images") -> str:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(0.02)
            if data == self.fail_on:
                raise TransientInfraError("object store", "unreachable")
            with self.lock:
                self.stored.append(data)
            return f"images/{data.decode()}"
        finally:
            with self.lock:
                self.running -= 1


def _intake(store: Any) -> BatchIntake:
    return BatchIntake(store, max_image_bytes=1024, max_items=100, project_id="p")


def test_puts_overlap_within_the_bound_and_every_item_keeps_its_own_key() -> None:
    store = CountingStore()
    with _intake(store) as intake:
        for index in range(12):
            intake.add_image(f"{index}.jpg", f"photo-{index}".encode())
        intake.add_image("empty.jpg", b"")
        items = intake.manifest({}, {}, [], "none")
    assert 1 < store.most_at_once <= UPLOADERS
    assert [item.image_key for item in items[:12]] == [f"images/photo-{index}" for index in range(12)]
    assert items[12].image_key is None and items[12].rejected == "invalid_image"


def test_a_failed_put_fails_the_intake_and_nothing_is_left_running() -> None:
    store = CountingStore(fail_on=b"photo-3")
    with pytest.raises(TransientInfraError), _intake(store) as intake:
        for index in range(8):
            intake.add_image(f"{index}.jpg", f"photo-{index}".encode())
        intake.manifest({}, {}, [], "none")
    assert store.running == 0  # leaving the intake waited for the puts already sent
